"""How every ``gaitline`` process logs: plain text for a person, or one JSON object a line for a cluster.

Settings (env prefix ``GAITLINE_LOG_``): ``GAITLINE_LOG_FORMAT`` ``text`` (default) or ``json``,
``GAITLINE_LOG_LEVEL``. In JSON each line carries ``ts`` (UTC, ISO 8601), ``level``, ``logger``,
``message``, the ``stage`` the process runs (``gaitline worker embed`` is ``embed``, ``gaitline api
serve`` is ``api``) and, where the call passes them (``log.warning(..., extra=coordinates(...))``), the
``camera`` and the record's ``topic``, ``partition``, ``offset`` and ``key``; an exception's traceback
is ``exc``. A log aggregator can then filter by stage or camera, or find the record a message is about.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

FIELDS = ("stage", "camera", "topic", "partition", "offset", "key", "reason")
"""The context fields a JSON line carries when the process or the call provides them."""


class LogSettings(BaseSettings):
    """Log format and level of every process (env prefix ``GAITLINE_LOG_``)."""

    model_config = SettingsConfigDict(env_prefix="GAITLINE_LOG_", extra="forbid")

    format: Literal["text", "json"] = Field(
        "text", description="text (one readable line) or json (one object a line, with stage, camera and "
        "record coordinates as fields, for a log aggregator); env GAITLINE_LOG_FORMAT")
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        "WARNING", description="the least severe level written; env GAITLINE_LOG_LEVEL")


def coordinates(topic: str | None = None, partition: int | None = None, offset: int | None = None,
                key: str | bytes | None = None, camera: str | None = None) -> dict[str, Any]:
    """The ``extra=`` of a log call about one record (or one camera): only what is known.

    Args:
        topic, partition, offset: where the record is on the broker.
        key: its key (bytes are decoded, undecodable bytes replaced).
        camera: the camera it comes from.
    """
    if isinstance(key, bytes):
        key = key.decode("utf-8", "replace")
    found = {"topic": topic, "partition": partition, "offset": offset, "key": key, "camera": camera}
    return {k: v for k, v in found.items() if v is not None}


class JsonFormatter(logging.Formatter):
    """One JSON object a line; ``stage`` is the process's unless the call names another."""

    def __init__(self, stage: str | None = None) -> None:
        super().__init__()
        self.stage = stage

    def format(self, record: logging.LogRecord) -> str:
        """``record`` as one line of JSON."""
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        if self.stage:
            out["stage"] = self.stage
        for name in FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                out[name] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def stage_of(argv: list[str]) -> str | None:
    """The stage a command line runs: ``worker <stage>``, ``api ...`` (``api``), else none."""
    args = [a for a in argv if not a.startswith("-")]
    if len(args) >= 2 and args[0] == "worker":
        return args[1]
    if args and args[0] == "api":
        return "api"
    return None


def configure(settings: LogSettings | None = None, stage: str | None = None) -> LogSettings:
    """Set up the root logger once per process (replacing any handler), on stderr.

    Args:
        settings: format and level (default: from the environment).
        stage: the stage this process runs, written on every JSON line.
    """
    settings = settings or LogSettings()
    handler = logging.StreamHandler(sys.stderr)
    if settings.format == "json":
        handler.setFormatter(JsonFormatter(stage))
    else:
        prefix = f"[{stage}] " if stage else ""
        handler.setFormatter(logging.Formatter(f"%(asctime)s %(levelname)s {prefix}%(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.level)
    return settings
