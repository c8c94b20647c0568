"""The frames stage as a process: a network's cameras -> :func:`run_cameras` -> the Kafka publisher, until SIGTERM."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any

from configs.schema import load_network
from streams.settings import KafkaSettings
from workers.frames.settings import FramesSettings


def run_frames(network: str, cameras: list[str], replica: int | None, replicas: int, realtime: bool,
               metrics_port: int, kafka: KafkaSettings, stop: threading.Event | None = None,
               settings: FramesSettings | None = None) -> dict[str, Any]:
    """Run the frames stage with a Kafka publisher; return its statistics as a dict (``settings``: the
    frames settings, default from the environment)."""
    from prometheus_client import CollectorRegistry

    from gaitline.metrics import serve
    from workers.frames.cameras import cameras_for_replica, run_cameras
    from workers.frames.metrics import FramesMetrics
    from workers.frames.publish import WindowPublisher

    loaded = load_network(Path(network) if Path(network).exists() else network)
    ids = list(cameras)
    for cid in ids:
        loaded.network.camera(cid)  # unknown id -> ConfigError, exit 2
    if not ids:
        ids = cameras_for_replica(loaded.network, replica or 0, replicas) if replica is not None else \
            [c.id for c in loaded.network.cameras]
    registry = CollectorRegistry()
    metrics = FramesMetrics(registry)
    serve(registry, metrics_port)
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    publisher = WindowPublisher(kafka, metrics)
    try:
        stats = run_cameras(loaded, ids, settings or FramesSettings(), publisher, stop, metrics, realtime=realtime)
    finally:
        publisher.close()
    out = dict(vars(stats))
    out["bytes_published"] = publisher.bytes
    return out
