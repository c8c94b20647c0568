"""``gaitline inspect VIDEO``: an annotated video and a contact sheet of what the frames worker sees."""

from __future__ import annotations

from pathlib import Path

import typer

from workers.frames.inspect import inspect_video


def inspect(
    video: Path = typer.Argument(..., help="video file to inspect"),
    out: Path = typer.Option(Path("inspect-out"), "--out", help="folder for the outputs"),
    network: str | None = typer.Option(None, help="network config (name or path) for calibration"),
    camera: str | None = typer.Option(None, help="camera id in --network whose homography/fps to use"),
    max_frames: int = typer.Option(0, help="stop after this many frames (0: the whole video)"),
    write_video: bool = typer.Option(True, "--video/--no-video", help="write annotated.mp4"),
    min_track_frames: int = typer.Option(10, help="tracks seen fewer frames are left off the sheet"),
) -> None:
    """Write an annotated video and a contact sheet (boxes, track ids, silhouettes per track)."""
    summary = inspect_video(video, out, network, camera, max_frames, write_video, min_track_frames)
    typer.echo(f"{summary['frames']} frames, {summary['tracks']} tracks, {summary['windows']} windows -> {out}")
