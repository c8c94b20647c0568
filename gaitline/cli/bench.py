"""``gaitline bench …``: benchmarks that print one JSON object as their last line and keep it
under ``bench/results/<name>.json`` with the host it ran on (:mod:`bench.results`)."""

from __future__ import annotations

import typer

from bench import api, e2e, embed, faults, frames, host, index, lda, sim, soak

app = typer.Typer(no_args_is_help=True, help="Benchmarks (figures are measured here, never in tests).")


@app.callback()
def _start() -> None:
    """Benchmarks (figures are measured here, never in tests)."""
    host.mark_start()  # the load average before the bench itself loads the cores


for _module in (frames, embed, sim, e2e, index, api, lda, faults, soak):
    app.command(_module.__name__.rsplit(".", 1)[1])(getattr(_module, _module.__name__.rsplit(".", 1)[1]))
