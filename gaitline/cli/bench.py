"""``gaitline bench …``: benchmarks that print one JSON object as their last line."""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(no_args_is_help=True, help="Benchmarks (figures are measured here, never in tests).")

_BENCHES = (("bench.frames", "frames"), ("bench.embed", "embed"), ("bench.sim", "sim"), ("bench.e2e", "e2e"),
            ("bench.index", "index"), ("bench.api", "api"), ("bench.lda", "lda"))
for _module, _name in _BENCHES:
    try:
        app.command(_name)(getattr(importlib.import_module(_module), _name))
    except ModuleNotFoundError as exc:  # a benchmark whose stage is not built yet
        if not (exc.name and _module.startswith(exc.name)):
            raise
