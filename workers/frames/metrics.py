"""The frames stage's metrics (naming rule: :mod:`gaitline.metrics`)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from gaitline.metrics import LATENCY_BUCKETS


class FramesMetrics:
    """The frames worker: decode, segmentation, tracking, windows, publishing."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.frames = Counter("gaitline_frames_frames_total", "Frames decoded", ["camera"], registry=registry)
        self.frames_skipped = Counter("gaitline_frames_frames_skipped_total",
                                      "Frames skipped (corrupt, truncated)", ["camera", "reason"],
                                      registry=registry)
        self.decode_seconds = Histogram("gaitline_frames_decode_seconds", "Time to decode one frame",
                                        ["camera"], buckets=LATENCY_BUCKETS, registry=registry)
        self.segment_seconds = Histogram("gaitline_frames_segment_seconds",
                                         "Time to segment and track one frame", ["camera"],
                                         buckets=LATENCY_BUCKETS, registry=registry)
        self.active_tracks = Gauge("gaitline_frames_active_tracks", "Tracks alive", ["camera"],
                                   registry=registry)
        # counted by the publisher, once per window handed to the producer
        self.windows = Counter("gaitline_frames_windows_published_total", "Windows published",
                               ["camera"], registry=registry)
        self.windows_dropped = Counter("gaitline_frames_windows_dropped_total", "Windows dropped",
                                       ["camera", "reason"], registry=registry)
        self.window_bytes = Histogram("gaitline_frames_window_bytes", "Encoded window size",
                                      buckets=(500, 1000, 2000, 3000, 5000, 10000, 30000), registry=registry)
        self.publish_seconds = Histogram("gaitline_frames_publish_seconds", "Send-to-ack latency",
                                         buckets=LATENCY_BUCKETS, registry=registry)
        self.reconnects = Counter("gaitline_frames_reconnects_total", "Source reconnects", ["camera"],
                                  registry=registry)
        self.fps = Gauge("gaitline_frames_rate_frames_per_second", "Frames per second over the last interval",
                         ["camera"], registry=registry)
