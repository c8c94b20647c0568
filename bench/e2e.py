"""``gaitline bench e2e``: the rate the whole pipeline sustains, window published -> sighting published.

Starts a broker of its own, the embed, index and track stages as processes, and publishes
real silhouette windows (cut from vtest.avi by the frames stage) at a steady rate, step after
step (:mod:`bench.pipeline`); a reader on ``sightings.v1`` notes when each sighting appears.
It ramps the offered rate (``--start``, times ``--factor`` each step) until a step's p95
exceeds ``--target-ms``, then halves the gap between the last rate that held and the first
that did not ``--refine`` times. The **knee** is the highest rate that held. Each step also
reports the CPU seconds per window of every process (the publisher's threads, embed, index,
track, the broker), from ``/proc/<pid>/stat`` before its first window and after the stages
drained. In the same run, with the stages idle, it times the embed model alone
(:func:`bench.embed.measure`, 2 threads, as ``gaitline bench embed``, with the embed stage's
OpenMP wait policy) before and after the ramp, and takes the higher of the two, so the design's
ratio (knee / the embed stage's own rate, target >= 0.8) is measured on one host in one run.
``--rate R`` measures one rate instead of ramping.

The result is kept with the host in ``bench/results/e2e.json`` (:mod:`bench.results`).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import typer

from bench.pipeline import PROCESSES, Pipeline, StepResult, default_workdir, source_windows
from bench.results import OUT_OPTION, SAVE_OPTION, save_result
from gaitline.errors import GaitlineError

TARGET_RATIO = 0.8

_EMBED_ALONE = """
import json, torch
torch.set_num_threads({threads})
from bench.embed import measure
print(json.dumps(measure("default", "cpu", {batch}, seconds={seconds})))
"""


def embed_alone(threads: int = 2, batch: int = 64, seconds: float = 5.0) -> dict[str, Any]:
    """The embed model's own rate on this host, in a process of its own (as ``gaitline bench embed``), with
    the OpenMP wait policy the embed stage runs with (:func:`workers.embed.agent.run`)."""
    code = _EMBED_ALONE.format(threads=threads, batch=batch, seconds=seconds)
    env = {**os.environ, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, check=False,
                          env=env)
    if proc.returncode != 0:
        raise GaitlineError(f"timing the embed model failed: {proc.stderr.strip()[-300:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def ramp(pipe: Pipeline, start: float, factor: float, max_rate: float, refine: int, seconds: float,
         say: Any) -> list[StepResult]:
    """Steps from ``start`` up by ``factor`` until one fails (or ``max_rate``), then ``refine`` bisections."""
    steps: list[StepResult] = []

    def run(rate: float) -> bool:
        res = pipe.step(rate, seconds)
        steps.append(res)
        s = res.summary()
        say(f"  {rate:7.2f} windows/s offered: p50 {s['p50_ms']} ms, p95 {s['p95_ms']} ms"
            f"{' (cut short)' if res.aborted else ''} -> {'holds' if res.passed else 'too slow'}")
        return res.passed

    good: float | None = None
    bad: float | None = None
    rate = start
    while rate <= max_rate:
        if run(rate):
            good = rate
            rate *= factor
        else:
            bad = rate
            break
    if good is None or bad is None:
        return steps
    for _ in range(refine):
        mid = math.sqrt(good * bad)
        if run(mid):
            good = mid
        else:
            bad = mid
    return steps


def e2e(rate: float | None = typer.Option(None, min=0.1, max=10_000,
                                          help="measure this one rate (windows/s) instead of ramping"),
        start: float = typer.Option(6.0, min=0.1, max=10_000, help="first rate of the ramp, windows/s"),
        factor: float = typer.Option(1.5, min=1.05, max=4.0, help="each ramp step offers this much more"),
        max_rate: float = typer.Option(400.0, min=0.1, max=10_000, help="the ramp stops here"),
        refine: int = typer.Option(2, min=0, max=6, help="bisections between the last rate held and the first not"),
        seconds: float = typer.Option(20.0, min=2, max=3600, help="how long each step offers windows"),
        target_ms: float = typer.Option(500.0, min=1, help="the p95 latency a rate must hold"),
        embed_baseline: bool = typer.Option(True, "--embed-baseline/--no-embed-baseline",
                                            help="time the embed model alone before and after (the ratio)"),
        json_out: bool = typer.Option(False, "--json"),
        out: Path | None = OUT_OPTION,
        save: bool = SAVE_OPTION) -> None:
    """Find the highest window rate the pipeline sustains at p95 <= 500 ms, with CPU seconds per window."""
    def say(line: str) -> None:
        if not json_out:
            typer.echo(line)

    started = time.monotonic()
    say("cutting windows from vtest.avi ...")
    windows = source_windows()
    alone: list[dict[str, Any]] = []
    if embed_baseline:
        say("timing the embed model alone ...")
        alone.append(embed_alone())
    pipe = Pipeline(default_workdir(), target_ms=target_ms)
    try:
        say("starting the broker and the stages ...")
        pipe.start(windows)
        idle = pipe.idle(5.0)
        pipe.step(start if rate is None else rate, 3.0)  # warm-up: allocators, JITs, first batches
        steps = [pipe.step(rate, seconds)] if rate is not None else ramp(pipe, start, factor, max_rate, refine,
                                                                          seconds, say)
    finally:
        pipe.stop()
    if embed_baseline:
        alone.append(embed_alone())
    held = [s for s in steps if s.passed]
    knee = max(held, key=lambda s: s.rate) if held else None
    # the higher of the two: a neighbour's load only ever slows a measurement down
    embed_rate = max(a["windows_per_s"] for a in alone) if alone else None
    result: dict[str, Any] = {
        "mode": "fixed rate" if rate is not None else "ramp",
        "target_p95_ms": target_ms,
        "knee_windows_per_s": round(knee.offered, 2) if knee else None,
        "knee_p95_ms": knee.summary()["p95_ms"] if knee else None,
        "embed_alone_windows_per_s": embed_rate,
        "embed_alone": [{k: a[k] for k in ("windows_per_s", "precision", "batch")} for a in alone],
        "embed_omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "PASSIVE"),
        "ratio_to_embed_alone": round(knee.offered / embed_rate, 3) if knee and embed_rate else None,
        "target_ratio": TARGET_RATIO,
        "cpu_s_per_window_at_knee": knee.summary()["cpu_s_per_window"] if knee else None,
        "idle_cpu_cores": idle,
        "processes": list(PROCESSES),
        "step_s": seconds,
        "steps": [s.summary() for s in steps],
        "elapsed_s": round(time.monotonic() - started, 1),
        "logs": str(pipe.workdir),
    }
    if knee is not None:
        cpu = result["cpu_s_per_window_at_knee"]
        result["cpu_s_per_window_at_knee"]["total"] = round(sum(cpu[p] for p in PROCESSES), 5)
    say(f"knee: {result['knee_windows_per_s']} windows/s at p95 {result['knee_p95_ms']} ms; embed alone "
        f"{embed_rate} windows/s; ratio {result['ratio_to_embed_alone']} (target {TARGET_RATIO})")
    save_result("e2e", result, out, save)
    typer.echo(json.dumps(result))
