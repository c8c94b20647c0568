"""``gaitline demo``: the whole pipeline on one video (or a simulated city), on a real broker."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from workers.demo import VTEST, run_demo


def demo(
    video: Path = typer.Option(VTEST, help="video file to analyse"),
    city: Path | None = typer.Option(None, help="a simulated city written by `gaitline sim city`"),
    json_out: bool = typer.Option(False, "--json", help="last line: the summary as one JSON object"),
    store: str | None = typer.Option(None, help="store URL (default: GAITLINE_STORE_URL or local SQLite)"),
    inject_malformed: int = typer.Option(0, min=0, help="send N broken records to tracklets.v1 first"),
    timeout_s: float = typer.Option(600.0, help="give up if the pipeline has not drained by then"),
    fresh: bool = typer.Option(False, "--fresh", help="start a new gallery and reset the store (by default a "
                               "second run on a store continues the last one: the same people are re-identified)"),
) -> None:
    """Run every stage on a real broker and print what the pipeline found."""
    summary = run_demo(video, city, store, inject_malformed, timeout_s, say=lambda m: typer.echo(m, err=True),
                       fresh=fresh)
    top = summary.pop("top_identities")
    typer.echo(f"gaitline demo: {summary['frames']} frames -> {summary['tracklets']} windows -> "
               f"{summary['embeddings']} embeddings -> {summary['sightings']} sightings of "
               f"{summary['identities']} identities ({summary['deadlettered']} dead-lettered) in "
               f"{summary['elapsed_s']}s")
    if summary["continued"]:
        typer.echo(f"  {summary['reidentified']} of the {summary['identities']} identities were known from the "
                   f"last run (re-identified, not enrolled again)")
    for ident in top:
        typer.echo(f"  {ident['identity_id']}: {ident['sightings']} sightings in the store on "
                   f"{ident['cameras']} camera(s)")
    typer.echo(f"store: {summary['store']}  (try: gaitline identities --store '{summary['store']}')")
    if json_out:
        typer.echo(json.dumps(summary))
