"""Errors of the configuration files and settings."""

from __future__ import annotations

from gaitline.errors import GaitlineError


class ConfigError(GaitlineError):
    """A configuration file or setting is invalid."""
