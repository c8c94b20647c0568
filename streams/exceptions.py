"""Errors raised by the stream contract. Every one derives from :class:`GaitlineError`."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any


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


def one_line_errors(fn: Callable[..., None]) -> Callable[..., None]:
    """Decorate a CLI command so a :class:`GaitlineError` ends as one line on stderr and exit
    code 2, also when its typer app runs on its own (not under ``gaitline``)."""
    import typer

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> None:
        try:
            fn(*args, **kwargs)
        except GaitlineError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc

    return run
