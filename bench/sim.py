"""``gaitline bench sim``: how fast the simulator makes silhouettes and city video.

Measures, on one core: aligned silhouette frames per second of the dataset generator (target
≥ 1000, so a 124-subject set takes ≤ 20 min on 2 cores), and the city renderer's speed as a
multiple of real time for 4 cameras at 768x576, 10 fps (target ≥ 1). Last line: one JSON object,
kept with the host in ``bench/results/sim.json``.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

import typer

from bench.results import OUT_OPTION, SAVE_OPTION, save_result
from gait.dataset import TYPES, VIEWS


def sim(json_out: bool = typer.Option(False, "--json", help="last line: one JSON object"),
        subjects: int = typer.Option(1, "--subjects", help="subjects of the dataset sample (110 sequences each)"),
        city_seconds: float = typer.Option(10.0, "--city-seconds", help="seconds of city video to render"),
        seed: int = typer.Option(0, "--seed"),
        out: Path | None = OUT_OPTION,
        save: bool = SAVE_OPTION) -> None:
    """Time dataset generation (frames/s per core) and city rendering (x real time)."""
    from sim.city import plan_city
    from sim.cityrender import render_city
    from sim.gaitset import make_subject

    if subjects < 1 or not city_seconds > 0:
        raise typer.BadParameter("--subjects must be ≥ 1 and --city-seconds positive")
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.process_time()
        w0 = time.perf_counter()
        frames = 0
        for s in range(1, subjects + 1):
            frames += sum(e["frames"] for e in make_subject(seed, s, 124, Path(tmp) / "gs"))
        cpu = time.process_time() - t0
        wall = time.perf_counter() - w0
        fps_core = frames / cpu
        full_frames = frames / subjects * 124
        plan = plan_city(4, 12, city_seconds, seed, fps=10.0, width=768, height=576)
        c0 = time.process_time()
        render_city(plan, Path(tmp) / "city")
        ccpu = time.process_time() - c0
        video_mb = sum(p.stat().st_size for p in (Path(tmp) / "city" / "video").iterdir()) / 1e6
    res: dict[str, Any] = {
        "gaitset_frames": frames, "gaitset_sequences": subjects * len(TYPES) * len(VIEWS),
        "gaitset_frames_per_s_per_core": round(fps_core, 1), "gaitset_wall_s": round(wall, 2),
        "full_124_minutes_on_2_cores": round(full_frames / fps_core / 2 / 60, 2),
        "city_cameras": 4, "city_seconds": city_seconds, "city_cpu_s": round(ccpu, 2),
        "city_realtime_factor_per_core": round(city_seconds / ccpu, 2),
        "city_frames_per_s_per_core": round(4 * city_seconds * 10 / ccpu, 1),
        "city_video_mb_per_camera_minute": round(video_mb / 4 / city_seconds * 60, 1),
        "targets": {"gaitset_frames_per_s_per_core": 1000, "full_124_minutes_on_2_cores": 20,
                    "city_realtime_factor_per_core": 1.0},
    }
    res["pass"] = bool(res["gaitset_frames_per_s_per_core"] >= 1000 and res["city_realtime_factor_per_core"] >= 1
                       and res["full_124_minutes_on_2_cores"] <= 20)
    if not json_out:
        for k, v in res.items():
            typer.echo(f"{k:<36} {v}")
    save_result("sim", res, out, save)
    typer.echo(json.dumps(res))
