"""``gaitline analyze VIDEO``: the portable mode -- one recording on a laptop, no Kafka."""

from __future__ import annotations

from pathlib import Path

import typer

from workers.analyze import DEFAULT_THRESHOLD, analyze_recording


def analyze(
    video: Path = typer.Argument(..., help="the recording (any file OpenCV decodes)"),
    gallery: Path | None = typer.Option(None, help="local gallery file (.npz) to match tracks against"),
    out: Path = typer.Option(Path("analysis"), help="folder for report.json and the plots"),
    enrol: str | None = typer.Option(None, help="add a track to --gallery under this name"),
    model: str = typer.Option("default", help="embedder name (gaitline models: default, baseline, ...)"),
    track: int | None = typer.Option(None, help="track to enrol (default: the one with most windows)"),
    threshold: float = typer.Option(DEFAULT_THRESHOLD, help="cosine similarity of two tracks' mean vectors "
                                    "needed to call a gallery match (see docs/evaluation.md)"),
    pose: bool = typer.Option(True, "--pose/--no-pose", help="run the pose model on each track for joint angles, "
                              "step width, asymmetry and double support (docs/gait-parameters.md); slower"),
) -> None:
    """Analyse one recording: tracks, gait parameters with plots, gallery matches; no Kafka needed."""
    report = analyze_recording(video, gallery, out, enrol, model, track, threshold, pose)
    typer.echo(f"{len(report['tracks'])} tracks, {report['windows']} windows from {report['frames']} frames; "
               f"report {out / 'report.json'}")
