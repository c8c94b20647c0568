"""The frames worker's Kafka producer: idempotent, compressed, bounded, keyed by camera/track.

What a broker outage does here (issue 20): the camera threads slow down, nothing else.

* **Bounded memory, backpressure.** kafka-python 2.3 ignores ``buffer_memory``, so the producer
  itself never blocks; the publisher counts windows handed to it and not yet acknowledged, and
  blocks the camera thread (the caller) once ``max_in_flight`` are outstanding. A camera reader
  behind it then skips frames the way its source does when a consumer lags.
* **Nothing expires silently.** A window the producer gives up on (its delivery timeout passed
  while the broker was away) is queued and sent again; a window is only dropped when the stage
  is stopping and the broker is still away at the end of :meth:`WindowPublisher.close`, and each
  one is counted in ``gaitline_frames_windows_dropped_total{reason="publish_failed"}``.
* **A camera never ends because the broker was away.** A send that cannot even be queued (no
  metadata for the topic within ``max_block_s``) is retried with backoff until it can, or until
  the stage stops.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass

from gaitline.logs import coordinates
from streams.clients import Producer
from streams.exceptions import BrokerError
from streams.schemas import TrackletWindow
from streams.settings import KafkaSettings
from streams.topics import TRACKLETS
from workers.frames.metrics import FramesMetrics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Pending:
    camera: str
    window_id: str
    key: bytes
    value: bytes


class WindowPublisher:
    """A sink for :func:`workers.frames.cameras.run_cameras` that publishes windows to ``tracklets.v1``
    and counts each one once (``gaitline_frames_windows_published_total``).

    Args:
        kafka: broker settings.
        metrics: the frames metrics, or None.
        buffer_mb: the producer's buffer (kafka-python 2.3 does not enforce it: ``max_in_flight`` does).
        max_block_s: how long one attempt to queue a record may block (waiting for metadata).
        max_in_flight: most windows handed over and not yet acknowledged; the caller blocks beyond.
        delivery_timeout_s: how long the producer tries to deliver a record before handing it back
            (it is then queued again, not dropped).
        retry_s: first wait between attempts to queue a record while the broker is away (doubles, ≤ 30 s).
    """

    def __init__(self, kafka: KafkaSettings, metrics: FramesMetrics | None = None, buffer_mb: int = 16,
                 max_block_s: float = 60.0, max_in_flight: int = 2000, delivery_timeout_s: float = 120.0,
                 retry_s: float = 1.0) -> None:
        self.topic = TRACKLETS.full_name(kafka.namespace)
        self.metrics = metrics
        self.sent = 0
        self.bytes = 0
        self.failed = 0
        self.resent = 0
        self.retry_s = retry_s
        self._stop = threading.Event()
        self._slots = threading.Semaphore(max_in_flight)
        self._lock = threading.Lock()
        self._in_flight = 0
        self._again: deque[_Pending] = deque()  # handed back by the producer: sent again before new windows
        request_ms = int(min(30.0, delivery_timeout_s / 2) * 1000)
        self._producer = Producer(
            kafka, "gaitline-frames", enable_idempotence=True, acks="all", compression_type="zstd",
            linger_ms=20, buffer_memory=buffer_mb * 1024 * 1024, max_block_ms=int(max_block_s * 1000),
            request_timeout_ms=request_ms, delivery_timeout_ms=int(delivery_timeout_s * 1000))

    def bind_stop(self, stop: threading.Event) -> None:
        """Give up waiting for the broker once ``stop`` is set (the stage is shutting down)."""
        self._stop = stop

    @property
    def in_flight(self) -> int:
        """Windows handed over and neither acknowledged nor dropped yet."""
        return self._in_flight

    def __call__(self, window: TrackletWindow) -> None:
        """Publish one window; blocks while ``max_in_flight`` windows are outstanding or the broker is away."""
        item = _Pending(window.camera_id, window.window_id, f"{window.camera_id}/{window.track_id}".encode(),
                        window.to_bytes())
        self._send_again()
        while not self._slots.acquire(timeout=0.5):  # backpressure: the camera thread waits here
            self._send_again()
            if self._stop.is_set():
                self._count_dropped(item, "stopping with the broker away")
                return
        with self._lock:
            self._in_flight += 1
        self.sent += 1
        self.bytes += len(item.value)
        if self.metrics:
            self.metrics.windows.labels(window.camera_id).inc()
            self.metrics.window_bytes.observe(len(item.value))
        self._send(item)

    def _send(self, item: _Pending) -> None:
        attempt = 0
        while True:
            started = time.perf_counter()
            try:
                self._producer.send(self.topic, item.key, item.value,
                                    on_ack=lambda t0=started: self._on_ack(t0),  # type: ignore[misc]
                                    on_error=lambda exc: self._on_error(item, exc))
                return
            except BrokerError as exc:  # could not even queue it (no metadata within max_block_s)
                attempt += 1
                if self._stop.is_set():
                    self._give_up(item, exc)
                    return
                wait = min(30.0, self.retry_s * 2 ** min(attempt - 1, 5))
                log.warning("broker away: window %s of camera %s waits %.0f s (attempt %d): %s", item.window_id,
                            item.camera, wait, attempt, exc, extra=coordinates(topic=self.topic, camera=item.camera))
                self._stop.wait(wait)

    def _send_again(self) -> None:
        while self._again:
            item = self._again.popleft()
            self.resent += 1
            self._send(item)

    def _on_ack(self, started: float) -> None:
        self._release()
        if self.metrics:
            self.metrics.publish_seconds.observe(time.perf_counter() - started)

    def _on_error(self, item: _Pending, exc: BaseException) -> None:
        # the producer gave up on it (delivery timeout while the broker was away): send it again
        log.warning("window %s to %s not delivered (%s): queued again", item.window_id, self.topic, exc)
        self._again.append(item)

    def _release(self) -> None:
        with self._lock:
            self._in_flight -= 1
        self._slots.release()

    def _give_up(self, item: _Pending, exc: BaseException | str) -> None:
        self._release()
        self._count_dropped(item, str(exc))

    def _count_dropped(self, item: _Pending, why: str) -> None:
        self.failed += 1
        if self.metrics:
            self.metrics.windows_dropped.labels(item.camera, "publish_failed").inc()
        log.error("window %s of camera %s dropped: %s", item.window_id, item.camera, why,
                  extra=coordinates(topic=self.topic, camera=item.camera))

    def close(self, timeout_s: float = 30.0) -> None:
        """Deliver everything outstanding (resending what comes back) for up to ``timeout_s``, then close.

        Raises :class:`BrokerError` when windows could not be published by then (each one counted)."""
        deadline = time.monotonic() + timeout_s
        stop, self._stop = self._stop, threading.Event()  # resend below even if the stage is stopping
        try:
            while time.monotonic() < deadline:
                self._send_again()
                try:
                    self._producer.flush(max(0.1, deadline - time.monotonic()))
                except BrokerError as exc:
                    log.warning("flushing %s: %s", self.topic, exc)
                if not self._again and self._in_flight == 0:
                    break
                time.sleep(0.1)
        finally:
            self._stop = stop
        self._stop.set()
        try:
            self._producer.close(0.0 if self._in_flight else timeout_s)
        except BrokerError as exc:
            log.warning("closing the producer of %s: %s", self.topic, exc)
        while self._again:
            self._give_up(self._again.popleft(), "the broker was still away when the stage stopped")
        for _ in range(self._in_flight):
            self.failed += 1  # never acknowledged nor handed back: counted, not silently lost
            if self.metrics:
                self.metrics.windows_dropped.labels("unknown", "publish_failed").inc()
        if self.failed:
            raise BrokerError(f"{self.failed} windows could not be published to {self.topic}")
