"""Prometheus metrics, declared once per stage in typed containers on an injected registry.

Names follow ``gaitline_<stage>_<what>_<unit>``. No label ever carries a person or identity:
labels are cameras, reasons, models and topics only.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class FramesMetrics:
    """The frames worker: decode, segmentation, tracking, windows."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.frames = Counter("gaitline_frames_frames_total", "Frames decoded", ["camera"], registry=registry)
        self.frames_skipped = Counter("gaitline_frames_frames_skipped_total",
                                      "Frames skipped (corrupt, truncated)", ["camera", "reason"],
                                      registry=registry)
        self.decode_seconds = Histogram("gaitline_frames_decode_seconds", "Time to decode one frame",
                                        ["camera"], buckets=_LATENCY_BUCKETS, registry=registry)
        self.segment_seconds = Histogram("gaitline_frames_segment_seconds",
                                         "Time to segment and track one frame", ["camera"],
                                         buckets=_LATENCY_BUCKETS, registry=registry)
        self.active_tracks = Gauge("gaitline_frames_active_tracks", "Tracks alive", ["camera"],
                                   registry=registry)
        self.windows = Counter("gaitline_frames_windows_published_total", "Windows published",
                               ["camera"], registry=registry)
        self.windows_dropped = Counter("gaitline_frames_windows_dropped_total", "Windows dropped",
                                       ["camera", "reason"], registry=registry)
        self.window_bytes = Histogram("gaitline_frames_window_bytes", "Encoded window size",
                                      buckets=(500, 1000, 2000, 3000, 5000, 10000, 30000), registry=registry)
        self.publish_seconds = Histogram("gaitline_frames_publish_seconds", "Send-to-ack latency",
                                         buckets=_LATENCY_BUCKETS, registry=registry)
        self.reconnects = Counter("gaitline_frames_reconnects_total", "Source reconnects", ["camera"],
                                  registry=registry)
        self.fps = Gauge("gaitline_frames_fps", "Frames per second over the last interval", ["camera"],
                         registry=registry)


class EmbedMetrics:
    """The embedding agents."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.windows = Counter("gaitline_embed_windows_total", "Windows embedded", ["model"],
                               registry=registry)
        self.batch_size = Histogram("gaitline_embed_batch_size", "Windows per inference batch",
                                    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512), registry=registry)
        self.inference_seconds = Histogram("gaitline_embed_inference_seconds", "Model time per batch",
                                           buckets=_LATENCY_BUCKETS, registry=registry)
        self.model_info = Gauge("gaitline_embed_model_info", "The model in use (value 1)",
                                ["model", "version", "device", "precision"], registry=registry)
        self.deadlettered = Counter("gaitline_embed_deadlettered_total", "Records sent to dead letter",
                                    ["reason"], registry=registry)
        self.consumer_lag = Gauge("gaitline_embed_consumer_lag_records",
                                  "Input records on this worker's partitions not yet read", registry=registry)


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
        self.gallery_rebuilds = Gauge("gaitline_index_gallery_rebuilds", "Approximate (IVF) index builds so far",
                                      registry=registry)
        self.gallery_rebuilding = Gauge("gaitline_index_gallery_rebuilding",
                                        "1 while the IVF index is rebuilt in the background", registry=registry)
        self.gallery_rebuild_seconds = Gauge("gaitline_index_gallery_rebuild_seconds",
                                             "Duration of the last IVF build", registry=registry)
        self.search_seconds = Histogram("gaitline_index_search_seconds", "FAISS search time per query",
                                        buckets=_LATENCY_BUCKETS, registry=registry)
        self.deadlettered = Counter("gaitline_index_deadlettered_total", "Records sent to dead letter",
                                    ["reason"], registry=registry)
        self.removed = Counter("gaitline_index_removed_total",
                               "Identities removed from the gallery (forgotten on request, or expired)", ["why"],
                               registry=registry)
        self.consumer_lag = Gauge("gaitline_index_consumer_lag_records",
                                  "Input records on this worker's partitions not yet read", registry=registry)


class TrackMetrics:
    """The trajectory stitcher / store writer."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.sightings = Counter("gaitline_track_sightings_stored_total", "Sightings written to the store",
                                 registry=registry)
        self.duplicates = Counter("gaitline_track_sightings_duplicate_total",
                                  "Sightings already stored (redelivered)", registry=registry)
        self.write_seconds = Histogram("gaitline_track_store_write_seconds", "Store write time per batch",
                                       buckets=_LATENCY_BUCKETS, registry=registry)
        self.end_to_end_seconds = Histogram("gaitline_track_end_to_end_seconds",
                                            "Window closed to sighting stored",
                                            buckets=_LATENCY_BUCKETS, registry=registry)
        self.deadlettered = Counter("gaitline_track_deadlettered_total", "Records sent to dead letter",
                                    ["reason"], registry=registry)
        self.expired = Counter("gaitline_track_sightings_expired_total",
                               "Sightings deleted because they are older than the retention period", registry=registry)
        self.consumer_lag = Gauge("gaitline_track_consumer_lag_records",
                                  "Input records on this worker's partitions not yet read", registry=registry)


class ApiMetrics:
    """The control-room API (``/metrics`` on its own port). Routes are templates, never identity ids."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter("gaitline_api_requests_total", "API requests answered", ["route", "code"],
                                registry=registry)
        self.request_seconds = Histogram("gaitline_api_request_seconds", "Time to answer one API request",
                                         ["route"], buckets=_LATENCY_BUCKETS, registry=registry)
        self.denied = Counter("gaitline_api_denied_total", "Requests refused: no or unknown token, or role",
                              ["reason"], registry=registry)

def serve(registry: CollectorRegistry, port: int) -> None:
    """Serve ``/metrics`` for ``registry`` on ``port`` (0 disables it)."""
    if port:
        start_http_server(port, addr="0.0.0.0", registry=registry)  # noqa: S104 - scraped in-cluster
