"""The identity service as a stream stage: replay the gallery, then match embeddings until SIGTERM."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from configs.schema import load_network
from index.gating import TransitGate
from index.matcher import STAGE, IdentityMatcher
from index.metrics import IndexMetrics
from index.replay import replay_gallery
from index.settings import IndexSettings
from streams.agents import attach_batch_agent, run_worker
from streams.faust_app import make_app
from streams.settings import KafkaSettings
from streams.topics import EMBEDDINGS, GALLERY


def run(kafka: KafkaSettings, settings: IndexSettings) -> None:
    """Replay the gallery from ``gallery.v1``, then match embeddings until SIGTERM."""
    registry = CollectorRegistry()
    metrics = IndexMetrics(registry)
    gallery, last_seen = replay_gallery(kafka, settings.ann())
    network = load_network(settings.network).network if settings.network else None
    matcher = IdentityMatcher(settings, gallery, metrics, TransitGate(network, settings.open_world_s), last_seen)
    app = make_app(STAGE, kafka)
    attach_batch_agent(app, kafka, EMBEDDINGS, matcher, max_batch=64, max_wait_s=0.05, lag=metrics.consumer_lag)
    # the gallery's own log: its tombstones (from `gaitline forget`) remove identities while running
    attach_batch_agent(app, kafka, GALLERY, matcher.on_gallery_log, max_batch=500, max_wait_s=0.5)
    run_worker(app, registry, settings.metrics_port)
