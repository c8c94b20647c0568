"""The track stage: ``sightings.v1`` -> the store of sightings per identity.

This first version stores sightings (idempotently, keyed by window id); stitching them
into multi-camera trajectories with transit-feasibility checks builds on this table.
Sightings older than ``retention_days`` of stream time (the newest sighting's time, so a
replayed archive ages as it plays) are deleted as the stream moves on.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry

from store.db import Store
from store.exceptions import StoreRefused, StoreUnavailable
from streams.admin import ensure_topics
from streams.agents import Decision, Output, Record, RetryPolicy, attach_batch_agent, decode_all, run_worker
from streams.schemas import Sighting
from streams.settings import KafkaSettings
from streams.stage_app import StageApp
from streams.topics import SIGHTINGS
from workers.track.metrics import TrackMetrics
from workers.track.settings import TrackSettings

STAGE = "track"


class SightingWriter:
    """The track stage's handler: decode sightings and write them to the store in one batch."""

    def __init__(self, store: Store, metrics: TrackMetrics | None = None, retention_days: float = 0.0) -> None:
        self.store = store
        self.metrics = metrics
        self.retention_days = retention_days
        self._watermark = 0.0
        self._next_expiry = 0.0

    def __call__(self, records: list[Record]) -> list[Output]:
        """Handle one batch of raw ``sightings.v1`` records."""
        decoded, outputs = decode_all(records, Sighting, STAGE, self.metrics.deadlettered if self.metrics else None)
        sightings = [s for _, s in decoded]
        if not sightings:
            return outputs
        started = time.perf_counter()
        # a store error propagates: the runner retries the batch (StoreUnavailable: the database is
        # down, the batch waits uncommitted) or dead-letters the one row it refused (see store_policy)
        try:
            new = self.store.add_sightings(sightings)
        except (StoreUnavailable, StoreRefused) as exc:
            if self.metrics:
                self.metrics.store_errors.labels("refused" if isinstance(exc, StoreRefused) else "unavailable").inc()
            raise
        self._watermark = max(self._watermark, max(s.t_end for s in sightings))
        if self.retention_days and self._watermark >= self._next_expiry:
            gone = self.store.expire(self._watermark - self.retention_days * 86400)
            self._next_expiry = self._watermark + 60.0
            if self.metrics:
                self.metrics.expired.inc(gone)
        if self.metrics:
            now = time.time()
            self.metrics.write_seconds.observe(time.perf_counter() - started)
            self.metrics.sightings.inc(new)
            self.metrics.duplicates.inc(len(sightings) - new)
            for s in sightings:
                self.metrics.end_to_end_seconds.observe(max(0.0, now - s.t_end))
        return outputs


def store_policy(exc: BaseException) -> Decision:
    """A row the store refused is dead-lettered (found by halving the batch); a store that is away is
    waited for with the batch whole; anything else is halved and retried."""
    if isinstance(exc, StoreRefused):
        return "deadletter"
    return "retry" if isinstance(exc, StoreUnavailable) else "split"


def run(kafka: KafkaSettings, settings: TrackSettings) -> None:
    """Store sightings until SIGTERM."""
    ensure_topics(kafka)  # create what is missing, fail in one line on a topic that differs from its declaration
    registry = CollectorRegistry()
    metrics = TrackMetrics(registry)
    store = Store(settings.store_url)
    app = StageApp(STAGE, kafka)
    attach_batch_agent(app, kafka, SIGHTINGS, SightingWriter(store, metrics, settings.retention_days),
                       settings.max_batch, settings.max_wait_s, lag=metrics.consumer_lag, retries=metrics.retries,
                       policy=RetryPolicy(decide=store_policy), stage=STAGE)
    run_worker(app, registry, settings.metrics_port)
