"""Errors of the stream contract and the Kafka clients."""

from __future__ import annotations

from gaitline.errors import GaitlineError


class SchemaError(GaitlineError):
    """A message body does not match its schema (bad magic, unknown version, missing field)."""


class CodecError(SchemaError):
    """A silhouette or vector payload cannot be decoded."""


class BrokerError(GaitlineError):
    """The Kafka broker cannot be fetched, formatted, started or reached, or refused a record."""


class TopicMismatchError(BrokerError):
    """An existing topic's partitions, retention, compaction or replication differ from its declaration."""
