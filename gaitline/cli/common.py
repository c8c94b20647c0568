"""What the command modules share: the one-line error decorator and the store/actor options."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import typer

from gaitline.errors import GaitlineError


def one_line_errors(fn: Callable[..., None]) -> Callable[..., None]:
    """Decorate a CLI command so a :class:`GaitlineError` ends as one line on stderr and exit
    code 2, also when its typer app runs on its own (not under ``gaitline``)."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> None:
        try:
            fn(*args, **kwargs)
        except GaitlineError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc

    return run
