"""A sighting published on sightings.v1 of a real broker, stored by the real track stage (its own process),
reaches an open live feed as a `sighting` event and, for a watched person, as a `watchlist` alert that the
webhook receives too. And the bench that times this path runs and says what it measured."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from api.settings import ApiSettings
from streams.clients import send_records
from streams.schemas import GaitParams, Sighting
from streams.topics import SIGHTINGS
from tests.factories import sighting
from tests.unit.api_served import T0, gei_png, get_json, served
from tests.unit.test_api_live import Feed, webhook  # noqa: F401 - the webhook fixture
from workers.demo import StageProcs

pytestmark = pytest.mark.integration


def _live(sid: str, ident: str) -> Sighting:
    now = time.time()
    return Sighting(sighting_id=sid, identity_id=ident, camera_id="gate", track_id=4, region="r", t_start=now - 3,
                    t_end=now, x=1.0, y=2.0, ground_plane=True, score=0.88, enrolled=False, model="default",
                    gait=GaitParams(), evidence_png=gei_png(7))


def test_a_published_sighting_reaches_the_page_and_the_webhook(kafka, tmp_path: Path, webhook) -> None:  # noqa: F811
    url, got = webhook
    procs = StageProcs(tmp_path)
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    first = sighting(sighting_id="gate/1/0", identity_id="p-watched", camera_id="gate", t_start=T0)
    with served(tmp_path, [first], settings=ApiSettings(webhook_url=url, live_poll_s=0.1)) as s:
        assert s.store.url == store_url
        procs.start("track", {**os.environ, "GAITLINE_KAFKA_BOOTSTRAP": kafka.bootstrap,
                              "GAITLINE_KAFKA_NAMESPACE": kafka.namespace, "GAITLINE_TRACK_STORE_URL": store_url,
                              "GAITLINE_TRACK_METRICS_PORT": "0"})
        try:
            code, _ = get_json(f"{s.base}/api/v1/watchlist", s.tokens["operator"], "POST",
                               {"identity_id": "p-watched", "reason": "missing person 12"})
            assert code == 201
            feed = Feed(s.base, s.tokens["operator"], "reason=control%20room&camera=gate")
            feed.comment()
            topic = SIGHTINGS.full_name(kafka.namespace)
            send_records(kafka, topic, [(b"p-other", _live("gate/2/0", "p-other").to_bytes()),
                                        (b"p-watched", _live("gate/3/0", "p-watched").to_bytes())])
            seen: dict[str, list[str]] = {"sighting": [], "watchlist": []}
            while len(seen["sighting"]) < 2 or not seen["watchlist"]:
                kind, data = feed.next()
                seen[kind].append(data["sighting_id"])
                if kind == "watchlist":
                    assert data["camera_id"] == "gate" and data["evidence"].startswith("data:image/png")
            assert sorted(seen["sighting"]) == ["gate/2/0", "gate/3/0"] and seen["watchlist"] == ["gate/3/0"]
            feed.close()
            for _ in range(100):
                if got:
                    break
                threading.Event().wait(0.05)
            assert [g["sighting_id"] for g in got] == ["gate/3/0"]
            assert s.metric("gaitline_api_watchlist_hits_total") == 1
        finally:
            procs.stop()


def test_the_live_bench_times_sightings_to_the_page(tmp_path: Path) -> None:
    from bench.api import measure_live

    res = measure_live(n=5, rate=5.0, workdir=tmp_path)
    assert res["received"] == 5 and 0 < res["p50_ms"] <= res["p95_ms"] <= res["max_ms"]
    assert "track" in res["path"]
