"""The frames worker's Kafka producer: idempotent, compressed, bounded, keyed by camera/track."""

from __future__ import annotations

import logging
import time

from streams.clients import Producer
from streams.exceptions import BrokerError
from streams.schemas import TrackletWindow
from streams.settings import KafkaSettings
from streams.topics import TRACKLETS
from workers.frames.metrics import FramesMetrics

log = logging.getLogger(__name__)


class WindowPublisher:
    """A sink for :func:`workers.frames.cameras.run_cameras` that publishes windows to ``tracklets.v1``
    and counts each one once (``gaitline_frames_windows_published_total``).

    Buffering is bounded (``buffer_mb``): when the broker is slow, ``send`` blocks up to
    ``max_block_s`` and the frames loop slows with it, instead of growing memory.
    """

    def __init__(self, kafka: KafkaSettings, metrics: FramesMetrics | None = None, buffer_mb: int = 16,
                 max_block_s: float = 60.0) -> None:
        self.topic = TRACKLETS.full_name(kafka.namespace)
        self.metrics = metrics
        self.sent = 0
        self.bytes = 0
        self.failed = 0
        self._producer = Producer(
            kafka, "gaitline-frames", enable_idempotence=True, acks="all", compression_type="zstd",
            linger_ms=20, buffer_memory=buffer_mb * 1024 * 1024, max_block_ms=int(max_block_s * 1000))

    def __call__(self, window: TrackletWindow) -> None:
        """Publish one window (blocks while the producer's buffer is full)."""
        value = window.to_bytes()
        key = f"{window.camera_id}/{window.track_id}".encode()
        started = time.perf_counter()
        self._producer.send(self.topic, key, value, on_ack=lambda: self._on_ack(started),
                            on_error=lambda exc: self._on_error(window.window_id, exc))
        self.sent += 1
        self.bytes += len(value)
        if self.metrics:
            self.metrics.windows.labels(window.camera_id).inc()
            self.metrics.window_bytes.observe(len(value))

    def _on_ack(self, started: float) -> None:
        if self.metrics:
            self.metrics.publish_seconds.observe(time.perf_counter() - started)

    def _on_error(self, window_id: str, exc: BaseException) -> None:
        self.failed += 1
        log.error("publishing window %s to %s failed: %s", window_id, self.topic, exc)

    def close(self, timeout_s: float = 30.0) -> None:
        """Flush everything buffered, then close (called on SIGTERM and at end of input)."""
        self._producer.close(timeout_s)
        if self.failed:
            raise BrokerError(f"{self.failed} windows could not be published to {self.topic}")
