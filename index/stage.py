"""The identity service as a stream stage: replay the gallery, then match embeddings until SIGTERM."""

from __future__ import annotations

import logging
import threading
import time
import uuid

from prometheus_client import CollectorRegistry

from configs.schema import load_network
from gaitline.errors import GaitlineError
from index.gating import TransitGate
from index.matcher import STAGE, IdentityMatcher
from index.metrics import IndexMetrics
from index.replay import GalleryFollower, recent_decisions
from index.settings import IndexSettings
from streams.admin import ensure_topics
from streams.agents import Record, attach_batch_agent, run_worker
from streams.clients import Producer
from streams.settings import KafkaSettings
from streams.stage_app import StageApp
from streams.topics import EMBEDDINGS

log = logging.getLogger(__name__)


def run(kafka: KafkaSettings, settings: IndexSettings) -> None:
    """Replay the gallery from ``gallery.v1``, then match embeddings until SIGTERM.

    Several instances may run (a rolling update runs two): each owns the identity decisions of the
    ``embeddings.v1`` partitions (regions) the consumer group gives it, and every instance follows
    the whole of ``gallery.v1`` outside the group, so it applies every enrolment, update and
    tombstone, whichever instance or ``gaitline forget`` wrote it.
    """
    ensure_topics(kafka)  # create what is missing, fail in one line on a topic that differs from its declaration
    registry = CollectorRegistry()
    metrics = IndexMetrics(registry)
    # the follower reads back every entry this index writes (one a window) to find other instances' and
    # tombstones; none is urgent, so the broker may hold its fetch half a second to gather a few
    follower = GalleryFollower(kafka, settings.ann(), client_id=f"gaitline-index-follow-{uuid.uuid4().hex[:8]}",
                               fetch_min_bytes=64 * 1024, fetch_max_wait_ms=500)
    follower.catch_up()
    gallery, last_seen = follower.log.gallery, follower.log.last_seen
    network = load_network(settings.network).network if settings.network else None
    # what was decided before a crash stays decided: windows read again are not matched twice
    decisions = recent_decisions(kafka, settings.decision_lookback_s)
    matcher = IdentityMatcher(settings, gallery, metrics, TransitGate(network, settings.open_world_s), last_seen,
                              decisions)
    app = StageApp(STAGE, kafka)
    attach_batch_agent(app, kafka, EMBEDDINGS, matcher, max_batch=64, max_wait_s=0.05, lag=metrics.consumer_lag,
                       retries=metrics.retries, stage=STAGE)
    threading.Thread(target=_follow, args=(kafka, follower, matcher), name="gallery-follow", daemon=True).start()
    run_worker(app, registry, settings.metrics_port)


def _follow(kafka: KafkaSettings, follower: GalleryFollower, matcher: IdentityMatcher) -> None:
    """Apply what is appended to ``gallery.v1`` (every partition, no consumer group) until the process ends."""
    producer: Producer | None = None
    while True:
        try:
            records = [Record(r.key, r.value, follower.topic, r.partition, r.offset)
                       for r in follower.poll(500)]
            for out in matcher.on_gallery_entries(records):
                producer = producer or Producer(kafka, "gaitline-index-tombstones")
                producer.send_and_wait(out.topic.full_name(kafka.namespace), out.key, out.value)
        except GaitlineError as exc:  # the broker is away: keep following once it is back
            log.warning("following %s: %s", follower.topic, exc)
            time.sleep(2.0)
