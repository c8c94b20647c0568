"""``gaitline analyze VIDEO``: the portable mode -- one recording on a laptop, no Kafka."""

from __future__ import annotations

from pathlib import Path

import typer

from workers.analyze import analyze_recording


def analyze(
    video: Path = typer.Argument(..., help="the recording (any file OpenCV decodes)"),
    gallery: Path | None = typer.Option(None, help="local gallery file (.npz) to match tracks against"),
    out: Path = typer.Option(Path("analysis"), help="folder for report.json and the plots"),
    enrol: str | None = typer.Option(None, help="add a track to --gallery under this name"),
    model: str = typer.Option("default", help="embedder name (gaitline models: default, baseline, ...)"),
    track: int | None = typer.Option(None, help="track to enrol (default: the one with most windows)"),
    threshold: float | None = typer.Option(None, help="cosine similarity of two tracks' mean vectors needed to "
                                           "call a gallery match (default: the model's calibrated threshold, as "
                                           "the identity service uses; see docs/evaluation.md)"),
    pose: bool = typer.Option(True, "--pose/--no-pose", help="run the pose model on each track for joint angles, "
                              "step width, asymmetry and double support (docs/gait-parameters.md); slower"),
    report: str | None = typer.Option(None, "--report", help="also write the analyst's report: html or pdf "
                                      "(parameters with their spread, plots, silhouettes, matches)"),
    report_out: Path | None = typer.Option(None, "--report-out", dir_okay=False,
                                           help="the report's file (default: OUT/report.html or .pdf)"),
) -> None:
    """Analyse one recording: tracks, gait parameters with plots, gallery matches; no Kafka needed."""
    if report is not None and report not in ("html", "pdf"):
        raise typer.BadParameter("must be html or pdf", param_hint="--report")
    if report_out is not None and report is None:
        raise typer.BadParameter("needs --report html or pdf", param_hint="--report-out")
    result = analyze_recording(video, gallery, out, enrol, model, track, threshold, pose, report, report_out)
    typer.echo(f"{len(result['tracks'])} tracks, {result['windows']} windows from {result['frames']} frames; "
               f"report {out / 'report.json'}" + (f", {result['report_file']}" if report else ""))
