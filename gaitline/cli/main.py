"""The ``gaitline`` command line. Every user error is one line on stderr and exit code 2.

Each subcommand group is a module of this room, imported here by name: a module that is
missing from an installation is an import error when the command starts, never a command
that quietly disappears.
"""

from __future__ import annotations

import sys
import warnings

import typer
from pydantic import ValidationError

from gaitline import __version__, logs
from gaitline.cli import analyze, api, bench, demo, eval, inspect, kafka, privacy, query, sim, store, train, worker
from gaitline.errors import GaitlineError

HELP = "gaitline: recognise people by the way they walk, across a camera network."

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False, help=HELP)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"gaitline {__version__}")
        raise typer.Exit()


@app.callback(help=HELP)
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="print gaitline's version and exit")) -> None:
    """Options before any command."""

# in data-path order: the broker, the stages, the demo, the control room's questions, privacy, the science
app.add_typer(kafka.app, name="kafka")
app.add_typer(worker.app, name="worker")
app.command("demo")(demo.demo)
app.add_typer(query.query_app, name="query")
app.command("identities")(query.identities)
app.command("forget")(privacy.forget)
app.command("expire")(privacy.expire)
app.command("audit")(privacy.audit)
app.add_typer(store.app, name="store")
app.add_typer(api.app, name="api")
app.command("analyze")(analyze.analyze)
app.command("inspect")(inspect.inspect)
app.add_typer(sim.app, name="sim")
app.command("train")(train.train)
app.command("fit-lda")(train.fit_lda)
app.add_typer(eval.app, name="eval")
app.add_typer(bench.app, name="bench")


def main() -> None:
    """Entry point of the ``gaitline`` console script."""
    from gait.model.allocator import tune_allocator

    # mediapipe's pinned protobuf calls an API that newer protobuf deprecates: a line on stderr of
    # every command that runs the pose model, which no user can act on
    warnings.filterwarnings("ignore", message=r"SymbolDatabase\.GetPrototype\(\) is deprecated", category=UserWarning)
    try:
        # GAITLINE_LOG_FORMAT / GAITLINE_LOG_LEVEL (gaitline/logs.py); the stage names every JSON line
        logs.configure(stage=logs.stage_of(sys.argv[1:]))
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
