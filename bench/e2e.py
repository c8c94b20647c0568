"""``gaitline bench e2e``: window closed -> sighting published, through the real stages.

Starts a broker (unless one runs), the embed, index and track stages as processes, then
publishes real silhouette windows (cut from vtest.avi by the frames stage) at a steady rate
and timestamps each one; a consumer on ``sightings.v1`` notes when its sighting appears.
The figure is the latency distribution (p50/p95/p99) at that rate, next to the rate itself;
it is kept with the host in ``bench/results/e2e.json``. There is no baseline in the run: the
design's figure (the rate sustained at p95 ≤ 500 ms as a share of the embed stage alone)
would need a search over rates and ``gaitline bench embed`` on the same host.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import typer

from bench.results import OUT_OPTION, SAVE_OPTION, save_result
from configs.schema import load_network
from streams.admin import ensure_topics
from streams.broker import LocalBroker
from streams.clients import Producer, TopicTail
from streams.schemas import Sighting, TrackletWindow
from streams.settings import BrokerSettings, KafkaSettings, default_cache_dir
from streams.topics import SIGHTINGS, TRACKLETS
from workers.demo import StageProcs, wait_drained


def _windows() -> list[TrackletWindow]:
    from workers.frames.cameras import run_cameras
    from workers.frames.settings import FramesSettings

    out: list[TrackletWindow] = []
    run_cameras(load_network("vtest"), ["vtest"], FramesSettings(), out.append, threading.Event())
    return out


def e2e(rate: float = typer.Option(20.0, min=0.1, max=10_000, help="windows per second offered (nominal load)"),
        seconds: float = typer.Option(30.0, min=1, max=3600, help="how long to offer them"),
        json_out: bool = typer.Option(False, "--json"),
        out: Path | None = OUT_OPTION,
        save: bool = SAVE_OPTION) -> None:
    """Measure window-published -> sighting-published latency at a steady rate."""
    source = _windows()
    broker = LocalBroker(BrokerSettings())
    started_broker = not broker.status().running
    if started_broker:
        broker.start()
    kafka = KafkaSettings(bootstrap=broker.bootstrap, namespace=f"bench-{uuid.uuid4().hex[:8]}")
    workdir = default_cache_dir() / "bench" / kafka.namespace
    workdir.mkdir(parents=True, exist_ok=True)
    procs = StageProcs(workdir)
    sent: dict[str, float] = {}
    seen: dict[str, float] = {}
    try:
        ensure_topics(kafka)
        env = {**os.environ, "GAITLINE_KAFKA_BOOTSTRAP": kafka.bootstrap, "GAITLINE_KAFKA_NAMESPACE": kafka.namespace,
               "GAITLINE_TRACK_STORE_URL": f"sqlite:///{workdir / 'store.db'}", "GAITLINE_EMBED_METRICS_PORT": "0",
               "GAITLINE_INDEX_METRICS_PORT": "0", "GAITLINE_TRACK_METRICS_PORT": "0"}
        for stage in ("embed", "index", "track"):
            procs.start(stage, env)
        sightings = SIGHTINGS.full_name(kafka.namespace)
        tail = TopicTail(kafka, sightings, "gaitline-bench-e2e")
        stop = threading.Event()

        def watch() -> None:
            while not stop.is_set():
                records = tail.poll(timeout_ms=100)
                now = time.time()
                for rec in records:
                    seen.setdefault(Sighting.from_bytes(rec.value).sighting_id, now)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        producer = Producer(kafka, "gaitline-bench-e2e", linger_ms=0, acks=1)
        topic = TRACKLETS.full_name(kafka.namespace)
        # warm-up: the first records wait for consumer groups to form; not part of the figure
        warm = source[0].model_copy(update={"window_id": "warmup/0/0"})
        producer.send_and_wait(topic, b"warmup", warm.to_bytes(), timeout_s=30)
        wait_drained(kafka, procs, timeout_s=120)
        n = int(rate * seconds)
        t0 = time.monotonic()
        for i in range(n):
            w = source[i % len(source)]
            wid = f"{w.camera_id}/{w.track_id + 1000 * (i // len(source))}/{w.frame_start}"
            msg = w.model_copy(update={"window_id": wid}).to_bytes()
            delay = t0 + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            sent[wid] = time.time()
            producer.send(topic, f"{w.camera_id}/{w.track_id}".encode(), msg)
        producer.flush()
        offered = n / (time.monotonic() - t0)
        wait_drained(kafka, procs, timeout_s=300)
        deadline = time.monotonic() + 30
        while len(set(sent) & set(seen)) < len(sent) and time.monotonic() < deadline:
            time.sleep(0.2)
        stop.set()
        watcher.join(5)
        tail.close()
        producer.close()
    finally:
        procs.stop()
        if started_broker:
            broker.stop()
    lat = np.array([seen[k] - sent[k] for k in sent if k in seen]) * 1000  # [n] ms
    result = {"windows": len(sent), "sightings": int(lat.size), "offered_windows_per_s": round(offered, 1),
              "p50_ms": round(float(np.percentile(lat, 50)), 1) if lat.size else None,
              "p95_ms": round(float(np.percentile(lat, 95)), 1) if lat.size else None,
              "p99_ms": round(float(np.percentile(lat, 99)), 1) if lat.size else None,
              "target_p95_ms": 500, "logs": str(Path(workdir))}
    if not json_out:
        typer.echo(f"{result['sightings']}/{result['windows']} windows at {result['offered_windows_per_s']}/s: "
                   f"p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms, p99 {result['p99_ms']} ms")
    save_result("e2e", result, out, save)
    typer.echo(json.dumps(result))
