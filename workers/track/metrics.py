"""The track stage's metrics (naming rule: :mod:`gaitline.metrics`)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from gaitline.metrics import LATENCY_BUCKETS


class TrackMetrics:
    """The trajectory stitcher / store writer."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.sightings = Counter("gaitline_track_sightings_stored_total", "Sightings written to the store",
                                 registry=registry)
        self.duplicates = Counter("gaitline_track_sightings_duplicate_total",
                                  "Sightings already stored (redelivered)", registry=registry)
        self.write_seconds = Histogram("gaitline_track_store_write_seconds", "Store write time per batch",
                                       buckets=LATENCY_BUCKETS, registry=registry)
        self.end_to_end_seconds = Histogram("gaitline_track_end_to_end_seconds",
                                            "Window closed to sighting stored",
                                            buckets=LATENCY_BUCKETS, registry=registry)
        self.deadlettered = Counter("gaitline_track_deadlettered_total", "Records sent to dead letter",
                                    ["reason"], registry=registry)
        self.expired = Counter("gaitline_track_sightings_expired_total",
                               "Sightings deleted because they are older than the retention period", registry=registry)
        self.retries = Counter("gaitline_track_batch_retries_total",
                               "Batches retried instead of acknowledged: the handler raised or an output was "
                               "not acknowledged (what = handler or send)", ["what"], registry=registry)
        self.store_errors = Counter("gaitline_track_store_errors_total",
                                    "Store writes that failed: unavailable (the database is away; the batch waits "
                                    "and is retried) or refused (a row the database rejected; dead-lettered)",
                                    ["kind"], registry=registry)
        for kind in ("unavailable", "refused"):  # both series exist from the start: alerts see a rise from 0
            self.store_errors.labels(kind)
        self.consumer_lag = Gauge("gaitline_track_consumer_lag_records",
                                  "Input records on this worker's partitions not yet read", registry=registry)
