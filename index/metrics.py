"""The identity service's metrics (naming rule: :mod:`gaitline.metrics`)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from gaitline.metrics import LATENCY_BUCKETS


class IndexMetrics:
    """The identity service."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.queries = Counter("gaitline_index_queries_total", "Embeddings matched", registry=registry)
        self.enrolled = Counter("gaitline_index_enrolled_total", "New identities enrolled", registry=registry)
        self.matched = Counter("gaitline_index_matched_total", "Embeddings matched to a known identity",
                               registry=registry)
        self.gated = Counter("gaitline_index_gated_total",
                             "Candidates refused because the walk between cameras is infeasible", registry=registry)
        self.gallery_size = Gauge("gaitline_index_gallery_identities", "Identities in the gallery",
                                  registry=registry)
        self.gallery_rebuilds = Counter("gaitline_index_gallery_rebuilds_total",
                                        "Approximate index builds", registry=registry)
        self.gallery_rebuilding = Gauge("gaitline_index_gallery_rebuilding_builds",
                                        "Approximate index builds running in the background (0 or 1)",
                                        registry=registry)
        self.gallery_rebuild_seconds = Gauge("gaitline_index_gallery_rebuild_seconds",
                                             "Duration of the last approximate index build", registry=registry)
        self.search_seconds = Histogram("gaitline_index_search_seconds", "FAISS search time per query",
                                        buckets=LATENCY_BUCKETS, registry=registry)
        self.deadlettered = Counter("gaitline_index_deadlettered_total", "Records sent to dead letter",
                                    ["reason"], registry=registry)
        self.redelivered = Counter("gaitline_index_embeddings_redelivered_total",
                                   "Embeddings read again (rebalance, restart) whose window was already decided: "
                                   "not matched twice", registry=registry)
        self.removed = Counter("gaitline_index_removed_total",
                               "Identities removed from the gallery (forgotten on request, or expired)", ["why"],
                               registry=registry)
        self.retries = Counter("gaitline_index_batch_retries_total",
                               "Batches retried instead of acknowledged: the handler raised or an output was "
                               "not acknowledged (what = handler or send)", ["what"], registry=registry)
        self.consumer_lag = Gauge("gaitline_index_consumer_lag_records",
                                  "Input records on this worker's partitions not yet read", registry=registry)
