"""``gaitline bench soak``: the stages under a steady load for a long while; memory, lag and dead letters.

The same rig as ``gaitline bench faults`` (a broker and a PostgreSQL cluster of the bench's own,
the embed, index and track stages as processes), fed for ``--seconds`` with the windows of a
simulated city published as ``--cameras`` cameras, each closing a window every ``--window-s``
seconds (fresh window and track ids all along, so the gallery and the store keep growing as in
a city). Every ``--every`` seconds it samples each stage's resident memory, each consumer
group's lag and the dead letters. The figures: each stage's memory growth after warm-up (the
first fifth of the run) to the end (target < 10 %), the largest lag in the second half, whether
the pipeline drained at the end, and how many records were dead-lettered (target 0: the input is
valid). The frames stage itself is not in the loop (its windows are cut once, before the run).
Last line: one JSON object with the series; kept with the host in ``bench/results/soak.json``.
"""

from __future__ import annotations

import json
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import typer

from bench.faults import Rig, city_windows
from bench.results import OUT_OPTION, SAVE_OPTION, save_result
from streams.admin import group_lag_or_unknown, message_count
from streams.groups import group_id
from streams.topics import DEADLETTER, EMBEDDINGS, SIGHTINGS, TRACKLETS
from workers.demo import wait_drained

_INPUT = {"embed": TRACKLETS, "index": EMBEDDINGS, "track": SIGHTINGS}


def _rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def run_soak(cameras: int, seconds: float, window_s: float, every: float, model: str, seed: int,
             say: Any = lambda _m: None) -> dict[str, Any]:
    """Feed the stages for ``seconds`` and sample them; return the figures and the series."""
    from workers.frames.publish import WindowPublisher

    workdir = Path(tempfile.mkdtemp(prefix="gaitline-soak-"))
    _, source = city_windows(workdir, seed, 40.0)
    rig = Rig(workdir, model, partitions=2)
    series: list[dict[str, Any]] = []
    stop = threading.Event()
    published = [0]
    try:
        rig.start()
        publisher = WindowPublisher(rig.kafka, max_block_s=5.0)
        rate = cameras / window_s

        def feed() -> None:
            t0, i = time.monotonic(), 0
            while not stop.is_set() and time.monotonic() - t0 < seconds:
                w = source[i % len(source)]
                cam = f"cam{i % cameras}"
                track = 100 * (i // len(source)) + i % len(source)
                wid = f"{cam}/{track}/{w.frame_start}"
                publisher(w.model_copy(update={"window_id": wid, "camera_id": cam, "track_id": track}))
                published[0] += 1
                i += 1
                stop.wait(max(0.0, t0 + i / rate - time.monotonic()))

        feeder = threading.Thread(target=feed, name="soak-feed", daemon=True)
        started = time.monotonic()
        feeder.start()
        while feeder.is_alive():
            rig.procs.check()
            sample: dict[str, Any] = {"t_s": round(time.monotonic() - started, 1), "published": published[0]}
            for stage in ("embed", "index", "track"):
                sample[f"{stage}_rss_mb"] = _rss_mb(rig.procs.procs[stage].pid)
                lag = group_lag_or_unknown(rig.kafka, group_id(stage, rig.kafka),
                                           _INPUT[stage].full_name(rig.kafka.namespace))
                sample[f"{stage}_lag_records"] = lag if isinstance(lag, int) else None
            sample["deadlettered"] = message_count(rig.kafka, DEADLETTER.full_name(rig.kafka.namespace))
            series.append(sample)
            say(json.dumps(sample))
            feeder.join(every)
        publisher.close(timeout_s=120)
        drained = True
        try:
            wait_drained(rig.kafka, rig.procs, timeout_s=300)
        except Exception:  # noqa: BLE001 - reported as a figure
            drained = False
        assert rig.store is not None
        stored = rig.store.count()
        dead = message_count(rig.kafka, DEADLETTER.full_name(rig.kafka.namespace))
    finally:
        stop.set()
        rig.stop()
    warm = [s for s in series if s["t_s"] >= 0.2 * seconds] or series
    second_half = [s for s in series if s["t_s"] >= 0.5 * seconds] or series
    growth: dict[str, float | None] = {}
    for stage in ("embed", "index", "track"):
        first, last = warm[0].get(f"{stage}_rss_mb"), series[-1].get(f"{stage}_rss_mb")
        growth[stage] = round(100 * (last / first - 1), 1) if first and last else None
    max_lag = {stage: max((s[f"{stage}_lag_records"] or 0) for s in second_half)
               for stage in ("embed", "index", "track")}
    ok = all(g is not None and g < 10 for g in growth.values()) and drained and dead == 0
    return {"cameras": cameras, "seconds": seconds, "windows_per_s": round(rate, 2), "published": published[0],
            "stored": stored, "drained": drained, "deadlettered": dead, "rss_growth_after_warmup_pct": growth,
            "max_lag_second_half_records": max_lag, "target_rss_growth_pct": 10, "passed": ok, "model": model,
            "series": series, "logs": str(workdir)}


def soak(json_out: bool = typer.Option(False, "--json", help="last line: one JSON object"),
         cameras: int = typer.Option(16, "--cameras", min=1, help="simulated cameras"),
         seconds: float = typer.Option(600.0, "--seconds", min=10, help="how long to feed the stages"),
         window_s: float = typer.Option(3.0, "--window-s", min=0.1, help="seconds between windows of one camera"),
         every: float = typer.Option(10.0, "--every", min=1, help="seconds between samples"),
         model: str = typer.Option("baseline", "--model", help="embedder"),
         seed: int = typer.Option(0, "--seed", help="the city's seed"),
         out: Path | None = OUT_OPTION,
         save: bool = SAVE_OPTION) -> None:
    """Feed the stages for a long while; each stage's memory growth, lag and dead letters, with the series."""
    from streams.clients import quiet_client_logs

    quiet_client_logs()
    result = run_soak(cameras, seconds, window_s, every, model, seed,
                      say=(lambda m: None) if json_out else (lambda m: typer.echo(m, err=True)))
    if not json_out:
        typer.echo(f"rss growth {result['rss_growth_after_warmup_pct']} %, "
                   f"max lag {result['max_lag_second_half_records']}, drained {result['drained']}, "
                   f"dead-lettered {result['deadlettered']}", err=True)
    save_result("soak", result, out, save)
    typer.echo(json.dumps(result))
