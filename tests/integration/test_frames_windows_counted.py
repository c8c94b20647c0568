"""The frames worker counts each window it publishes once: gaitline_frames_windows_published_total,
scraped from its /metrics, equals the windows it reports and the records on tracklets.v1.

(The defect: run_cameras' sink wrapper and the publisher both counted, so the counter read twice
the windows sent.)
"""

from __future__ import annotations

import socket
import threading
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from sim.city import plan_city
from sim.cityrender import render_city
from streams.admin import message_count
from streams.clients import TopicTail
from streams.schemas import TrackletWindow
from streams.settings import KafkaSettings
from streams.topics import TRACKLETS
from workers.frames.worker import run_frames

pytestmark = pytest.mark.integration


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _published(port: int) -> dict[str, float]:
    """The worker's windows-published counter per camera, as Prometheus would scrape it."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:  # noqa: S310 - localhost
        text = r.read().decode()
    return {s.labels["camera"]: s.value for family in text_string_to_metric_families(text)
            for s in family.samples if s.name == "gaitline_frames_windows_published_total"}


def test_each_published_window_is_counted_once(kafka: KafkaSettings, tmp_path: Path) -> None:
    city = tmp_path / "city"
    render_city(plan_city(2, 4, 15.0, 5, fps=10), city)  # two cameras, 150 frames each, a few walkers
    port = _port()
    result: dict[str, Any] = {}

    def run() -> None:  # off the main thread: run_frames installs no SIGTERM handler in the test process
        try:
            result["stats"] = run_frames(str(city / "network.yaml"), [], None, 1, False, port, kafka)
        except BaseException as exc:  # noqa: BLE001 - raised again below
            result["error"] = exc

    worker = threading.Thread(target=run, name="frames-worker")
    worker.start()
    worker.join(timeout=300)
    assert not worker.is_alive(), "the frames worker did not finish its two short videos"
    if "error" in result:
        raise result["error"]
    stats = result["stats"]
    assert stats["frames"] == 2 * 150 and stats["windows"] > 0, stats

    counted = _published(port)
    per_camera = {cam: float(s["windows"]) for cam, s in stats["per_camera"].items() if s["windows"]}
    assert counted == per_camera, f"counter {counted} != windows sent {per_camera}"
    assert sum(counted.values()) == stats["windows"]

    topic = TRACKLETS.full_name(kafka.namespace)
    tail = TopicTail(kafka, topic, "test-frames-count")
    try:
        records = list(tail.to_end())
    finally:
        tail.close()
    windows = [TrackletWindow.from_bytes(r.value) for r in records]
    assert len(windows) == message_count(kafka, topic) == stats["windows"]
    assert len({w.window_id for w in windows}) == len(windows)  # each window once on the topic, too
