"""Errors raised by the stream contract. Every one derives from :class:`GaitlineError`."""

from __future__ import annotations


class GaitlineError(Exception):
    """Root of every error gaitline raises on purpose (CLI turns these into exit code 2)."""


class SchemaError(GaitlineError):
    """A message body does not match its schema (bad magic, unknown version, missing field)."""


class CodecError(SchemaError):
    """A silhouette or vector payload cannot be decoded."""


class BrokerError(GaitlineError):
    """The local Kafka broker cannot be fetched, formatted, started or reached."""


class ConfigError(GaitlineError):
    """A configuration file or setting is invalid."""
