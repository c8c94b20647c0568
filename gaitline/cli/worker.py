"""``gaitline worker frames|embed|index|track``: run one pipeline stage until SIGTERM."""

from __future__ import annotations

import json
import logging

import typer

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
    from workers.frames.worker import run_frames

    stats = run_frames(network, camera, replica, replicas, realtime, metrics_port, KafkaSettings())
    typer.echo(json.dumps(stats))


@app.command()
def embed() -> None:
    """Embedding agent: tracklets.v1 -> embeddings.v1 (settings: GAITLINE_EMBED_*)."""
    from workers.embed.agent import run
    from workers.embed.settings import EmbedSettings

    run(KafkaSettings(), EmbedSettings())


@app.command()
def index() -> None:
    """Identity service: embeddings.v1 -> sightings.v1 + gallery.v1 (settings: GAITLINE_INDEX_*)."""
    from index.settings import IndexSettings
    from index.stage import run

    run(KafkaSettings(), IndexSettings())


@app.command()
def track() -> None:
    """Store writer: sightings.v1 -> the store (settings: GAITLINE_TRACK_*)."""
    from workers.track.agent import run
    from workers.track.settings import TrackSettings

    run(KafkaSettings(), TrackSettings())
