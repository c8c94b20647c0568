"""YAML configuration shipped with gaitline and the schemas that validate it."""
