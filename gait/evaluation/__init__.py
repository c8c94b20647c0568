"""Scoring: recognition protocols, open-set thresholds, multi-camera tracking, gait-parameter errors."""
