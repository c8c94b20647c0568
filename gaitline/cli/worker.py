"""``gaitline worker frames|embed|index|track``: run one pipeline stage until SIGTERM."""

from __future__ import annotations

import json
import logging
import signal
import threading
from pathlib import Path
from typing import Any

import typer

from configs.schema import load_network
from streams.settings import KafkaSettings

app = typer.Typer(no_args_is_help=True, help="Run one stage of the pipeline (a long-running process).")
log = logging.getLogger(__name__)


@app.command()
def frames(
    network: str = typer.Option("vtest", help="network YAML file, or the name of a shipped one"),
    camera: list[str] = typer.Option([], "--camera", help="camera id(s) to serve (default: by replica)"),
    replica: int | None = typer.Option(None, help="this replica's ordinal (StatefulSet); env-free sharding"),
    replicas: int = typer.Option(1, min=1, help="number of frames replicas sharing the network"),
    realtime: bool = typer.Option(False, help="pace file sources at their frame rate"),
    metrics_port: int = typer.Option(9100, help="serve /metrics here (0 disables)"),
) -> None:
    """Read cameras, track walkers, publish silhouette windows to tracklets.v1."""
    stats = run_frames(network, camera, replica, replicas, realtime, metrics_port, KafkaSettings())
    typer.echo(json.dumps(stats))


def run_frames(network: str, cameras: list[str], replica: int | None, replicas: int, realtime: bool,
               metrics_port: int, kafka: KafkaSettings, stop: threading.Event | None = None) -> dict[str, Any]:
    """Run the frames stage with a Kafka publisher; return its statistics as a dict."""
    from prometheus_client import CollectorRegistry

    from workers.frames.cameras import FramesSettings, cameras_for_replica, run_cameras
    from workers.metrics import FramesMetrics, serve
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
        stats = run_cameras(loaded, ids, FramesSettings(), publisher, stop, metrics, realtime=realtime)
    finally:
        publisher.close()
    out = dict(vars(stats))
    out["bytes_published"] = publisher.bytes
    return out


@app.command()
def embed() -> None:
    """Embedding agent: tracklets.v1 -> embeddings.v1 (settings: GAITLINE_EMBED_*)."""
    from workers import embed as stage
    from workers.settings import EmbedSettings

    stage.run(KafkaSettings(), EmbedSettings())


@app.command()
def index() -> None:
    """Identity service: embeddings.v1 -> sightings.v1 + gallery.v1 (settings: GAITLINE_INDEX_*)."""
    from index import service as stage
    from workers.settings import IndexSettings

    stage.run(KafkaSettings(), IndexSettings())


@app.command()
def track() -> None:
    """Store writer: sightings.v1 -> the store (settings: GAITLINE_TRACK_*)."""
    from workers import track as stage
    from workers.settings import TrackSettings

    stage.run(KafkaSettings(), TrackSettings())
