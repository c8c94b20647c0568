"""The ``gaitline`` command line. Every user error is one line on stderr and exit code 2.

Subcommand groups live next to what they run and are mounted here:
``kafka`` (gaitline.cli.kafka), ``worker``/``demo``/``query``/``identities``/``forget``/``expire``/``audit``
(this package),
``sim`` (gaitline.cli.sim), ``eval`` (gaitline.cli.eval), ``train`` (gaitline.cli.train), ``analyze``
(workers.analyze), ``inspect`` (workers.frames.inspect), ``bench`` (gaitline.cli.bench), ``api`` (gaitline.cli.api).
"""

from __future__ import annotations

import importlib
import logging
import sys

import typer
from pydantic import ValidationError

from streams.exceptions import GaitlineError

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="gaitline: recognise people by the way they walk, across a camera network.")

# (module, attribute, name, is_group): mounted when the module exists
_MOUNTS: tuple[tuple[str, str, str, bool], ...] = (
    ("gaitline.cli.kafka", "app", "kafka", True),
    ("gaitline.cli.worker", "app", "worker", True),
    ("gaitline.cli.query", "query_app", "query", True),
    ("gaitline.cli.query", "identities", "identities", False),
    ("gaitline.cli.privacy", "forget", "forget", False),
    ("gaitline.cli.privacy", "expire", "expire", False),
    ("gaitline.cli.privacy", "audit", "audit", False),
    ("workers.demo", "demo", "demo", False),
    ("gaitline.cli.sim", "app", "sim", True),
    ("gaitline.cli.eval", "app", "eval", True),
    ("gaitline.cli.train", "train", "train", False),
    ("gaitline.cli.train", "fit_lda", "fit-lda", False),
    ("workers.analyze", "analyze", "analyze", False),
    ("workers.frames.inspect", "inspect", "inspect", False),
    ("gaitline.cli.bench", "app", "bench", True),
    ("gaitline.cli.api", "app", "api", True),
)


def _mount() -> None:
    for module, attr, name, group in _MOUNTS:
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name and module.startswith(exc.name):
                continue  # that part of the product is not built yet
            raise
        obj = getattr(mod, attr)
        if group:
            app.add_typer(obj, name=name)
        else:
            app.command(name)(obj)


_mount()


def main() -> None:
    """Entry point of the ``gaitline`` console script."""
    from gait.model.allocator import tune_allocator

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        tune_allocator()  # before any tensor: freed activations stay in the process (gait/model/allocator.py)
        app()  # standalone mode: usage errors print themselves and exit 2
    except GaitlineError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except ValidationError as exc:  # a setting from the environment is invalid
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        typer.echo(f"error: invalid {exc.title} setting {where}: {err['msg']} (got {err.get('input')!r})", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
