"""``gaitline sim``: generate gait datasets and cities, and look at them."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer

from gaitline.cli.common import one_line_errors
from sim.exceptions import SimError

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="Synthetic gait datasets and camera cities with ground truth.")




@app.command("gaitset")
@one_line_errors
def gaitset(subjects: int = typer.Option(124, "--subjects", help="identities (CASIA-B has 124)"),
            seed: int = typer.Option(0, "--seed", help="same seed, same bytes"),
            out: Path = typer.Option(..., "--out", help="dataset root (id/type/view/ layout)"),
            workers: int = typer.Option(0, "--workers", help="processes (0 = one per core)"),
            noise: float = typer.Option(1.0, "--noise", help="segmentation noise 0 (clean) .. 2 (heavy)"),
            cleanup: bool = typer.Option(True, "--cleanup/--no-cleanup",
                                         help="pass masks through the frames worker's clean-up, as real ones are "
                                              "(--no-cleanup: generator version 1, the data of default.pt)")) -> None:
    """Write a CASIA-B-style dataset: 11 views x nm-01..06, bg-01..02, cl-01..02 per subject."""
    from sim.gaitset import generate

    if workers < 0:
        raise SimError(f"--workers must be 0 (auto) or positive (got {workers})")
    t0 = time.perf_counter()
    man = generate(subjects, seed, out, workers=workers, noise_level=noise, cleanup=cleanup)
    dt = time.perf_counter() - t0
    frames = sum(s["frames"] for s in man["sequences"])
    typer.echo(f"wrote {len(man['sequences'])} sequences, {frames} silhouettes to {out} in {dt:.1f} s "
               f"({frames / dt:.0f} frames/s)")


@app.command("city")
@one_line_errors
def city(cameras: int = typer.Option(4, "--cameras", help="number of cameras"),
         people: int = typer.Option(12, "--people", help="number of walkers"),
         duration: float = typer.Option(120.0, "--duration", help="seconds of video"),
         seed: int = typer.Option(0, "--seed", help="same seed, same bytes"),
         out: Path = typer.Option(..., "--out", help="output folder"),
         fps: float = typer.Option(10.0, "--fps", help="frames per second"),
         size: str = typer.Option("768x576", "--size", help="image WIDTHxHEIGHT")) -> None:
    """Render a city: videos, ground truth, visits and the network YAML the pipeline runs on."""
    from sim.city import plan_city
    from sim.cityrender import render_city
    from sim.gaitset import prepare_out

    try:
        w, h = (int(v) for v in size.lower().split("x"))
    except ValueError as exc:
        raise SimError(f"--size must look like 768x576 (got {size!r})") from exc
    plan = plan_city(cameras, people, duration, seed, fps=fps, width=w, height=h)
    prepare_out(out)
    t0 = time.perf_counter()
    summary = render_city(plan, out)
    dt = time.perf_counter() - t0
    typer.echo(json.dumps(summary | {"seconds": round(dt, 1), "realtime_factor": round(duration / dt, 2)}))
    typer.echo(f"network config: {out / 'network.yaml'} (live: {out / 'network-live.yaml'})")


@app.command("preview")
@one_line_errors
def preview(out: Path = typer.Option(..., "--out", help="PNG to write"),
            seed: int = typer.Option(0, "--seed", help="dataset seed of the subjects shown"),
            subjects: int = typer.Option(3, "--subjects", help="subjects on the gait sheet (0 = none)"),
            city_dir: Path | None = typer.Option(None, "--city", help="also a sheet of this city's cameras")) -> None:
    """Contact sheet: views x conditions for a few subjects; with --city, each camera with GT boxes."""
    from sim.preview import city_sheet, describe, gait_sheet, write_png

    if subjects < 0 or subjects > 20:
        raise SimError(f"--subjects must be within 0..20 (got {subjects})")
    if subjects == 0 and city_dir is None:
        raise SimError("--subjects 0 and no --city: nothing to preview")
    if subjects:
        write_png(out, gait_sheet(seed, subjects))
        typer.echo(f"gait sheet: {out}")
    if city_dir is not None:
        path = out.with_name(out.stem + "-city.png") if subjects else out
        write_png(path, city_sheet(city_dir))
        typer.echo(f"city sheet: {path} ({describe(city_dir)})")
