"""The frames stage's publisher through a broker outage (a broker of its own, stopped and started again)."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from prometheus_client import CollectorRegistry

from streams.admin import ensure_topics
from streams.broker import LocalBroker
from streams.clients import TopicTail
from streams.schemas import TrackletWindow
from streams.settings import BrokerSettings, KafkaSettings
from streams.topics import TRACKLETS
from tests.factories import tracklet_window
from workers.frames.metrics import FramesMetrics
from workers.frames.publish import WindowPublisher

from .conftest import _free_port

pytestmark = pytest.mark.integration


@pytest.fixture
def own_broker(tmp_path):
    broker = LocalBroker(BrokerSettings(port=_free_port(), controller_port=_free_port(), state_dir=tmp_path / "kafka",
                                        start_timeout_s=120))
    broker.start()
    yield broker
    broker.stop()


def _windows(first: int, n: int) -> list[TrackletWindow]:
    now = time.time()
    return [tracklet_window(3, t0=now, camera_id="live", track_id=17_000_000_000 + i, frame_start=i)
            for i in range(first, first + n)]


def _ids_on_topic(kafka: KafkaSettings) -> set[str]:
    tail = TopicTail(kafka, TRACKLETS.full_name(kafka.namespace), "test-publish")
    try:
        return {TrackletWindow.from_bytes(r.value).window_id for r in tail.to_end()}
    finally:
        tail.close()


def _publish_in_thread(publisher: WindowPublisher, windows: list[TrackletWindow]):
    errors: list[BaseException] = []

    def camera() -> None:
        try:
            for w in windows:
                publisher(w)
        except BaseException as exc:  # noqa: BLE001 - the test reports it
            errors.append(exc)

    t = threading.Thread(target=camera, daemon=True)
    t.start()
    return t, errors


def test_a_camera_outlives_a_broker_outage_and_every_window_arrives(own_broker):
    kafka = KafkaSettings(bootstrap=own_broker.bootstrap, namespace=f"t{uuid.uuid4().hex[:8]}")
    ensure_topics(kafka, partitions=2)
    metrics = FramesMetrics(CollectorRegistry())
    publisher = WindowPublisher(kafka, metrics, max_block_s=2.0)
    own_broker.stop()  # away before this producer ever fetched the topic's metadata
    windows = _windows(0, 10)
    thread, errors = _publish_in_thread(publisher, windows)
    time.sleep(6)  # three times max_block_s: a send that gave up would have ended the camera by now
    assert not errors, f"the camera thread ended because the broker was away: {errors[0]!r}"
    own_broker.start()
    thread.join(120)
    assert not thread.is_alive() and not errors
    publisher.close()
    assert _ids_on_topic(kafka) == {w.window_id for w in windows}
    assert publisher.failed == 0


def test_publishing_is_bounded_while_the_broker_is_away_and_nothing_is_dropped(own_broker):
    kafka = KafkaSettings(bootstrap=own_broker.bootstrap, namespace=f"t{uuid.uuid4().hex[:8]}")
    ensure_topics(kafka, partitions=2)
    registry = CollectorRegistry()
    publisher = WindowPublisher(kafka, FramesMetrics(registry), max_block_s=2.0, max_in_flight=5,
                                delivery_timeout_s=4.0)
    first = _windows(0, 1)
    publisher(first[0])
    publisher._producer.flush(30)
    own_broker.stop()
    later = _windows(1, 20)
    thread, errors = _publish_in_thread(publisher, later)
    time.sleep(8)  # past the delivery timeout: records handed back are queued again, not dropped
    assert publisher.in_flight <= 5 and publisher.sent <= 6, "the publisher kept taking windows"
    assert thread.is_alive() and not errors  # the camera waits: backpressure
    own_broker.start()
    thread.join(120)
    assert not thread.is_alive() and not errors
    publisher.close()
    assert _ids_on_topic(kafka) == {w.window_id for w in first + later}
    dropped = registry.get_sample_value("gaitline_frames_windows_dropped_total",
                                        {"camera": "live", "reason": "publish_failed"})
    assert not dropped and publisher.failed == 0
