"""Live updates on the control-room page, in a real headless Chromium: the page's event-stream
parser, and a watchlist alert raised by a sighting that arrives through the real broker, is
stored by the real track stage and reaches the page over the API's live feed."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from store.db import Store
from streams.clients import send_records
from streams.settings import KafkaSettings
from streams.topics import SIGHTINGS
from tests.factories import sighting
from workers.demo import StageProcs

from .web_browser import Browser
from .web_site import T0, WALK, WALK_VISITS, Room, chromium, control_room, gei_png, keep

pytestmark = pytest.mark.integration


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    with chromium(tmp_path) as b:
        yield b


def test_the_page_parses_an_event_stream_however_it_is_cut(tmp_path, browser) -> None:
    with control_room(tmp_path, rows=False) as room:
        page = browser.page()
        page.goto(room.url)
        stream = (": keepalive\r\n\r\nevent: sighting\r\ndata: {\"a\":\r\n\r\n"
                  "event: watchlist\ndata: line1\ndata: line2\nid: 7\n\n"
                  "data:no-space\r\r: comment\n\nretry: 3000\n\nevent: empty\n\n")
        # fed whole, then one character at a time (a CRLF split across two chunks is one line end)
        got = page.eval(f"""(async () => {{
            const {{SseParser}} = await import('/live.js');
            const run = (chunks) => {{ const out = []; const p = new SseParser((e) => out.push(e));
                for (const c of chunks) p.push(c); return {{events: out, retry: p.retry}}; }};
            const s = {json.dumps(stream)};
            return [run([s]), run([...s])]; }})()""")
    expected = {"events": [{"type": "sighting", "data": '{"a":', "id": ""},
                           {"type": "watchlist", "data": "line1\nline2", "id": "7"},
                           {"type": "message", "data": "no-space", "id": "7"}], "retry": 3000}
    assert got == [expected, expected]


def _track_env(kafka: KafkaSettings, store_url: str) -> dict[str, str]:
    return {**os.environ, "GAITLINE_KAFKA_BOOTSTRAP": kafka.bootstrap, "GAITLINE_KAFKA_NAMESPACE": kafka.namespace,
            "GAITLINE_TRACK_STORE_URL": store_url, "GAITLINE_TRACK_METRICS_PORT": "0"}


def _wait_stored(store: Store, sid: str, procs: StageProcs, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while store.sighting(sid) is None:
        procs.check()
        assert time.monotonic() < deadline, f"the track stage never stored {sid} (logs in {procs.logdir})"
        time.sleep(0.2)


def test_a_watched_person_seen_again_raises_an_alert_with_the_evidence(kafka, tmp_path, browser) -> None:
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    procs = StageProcs(tmp_path)
    procs.start("track", _track_env(kafka, store_url))
    topic = SIGHTINGS.full_name(kafka.namespace)
    try:
        with control_room(tmp_path, store_url=store_url) as room:
            _watch_and_wait_for_the_alert(room, browser, kafka, topic, procs, tmp_path)
    finally:
        procs.stop()


def _watch_and_wait_for_the_alert(room: Room, browser: Browser, kafka: KafkaSettings, topic: str,
                                  procs: StageProcs, tmp_path: Path) -> None:
    # the track stage is up and consuming: a first sighting through the broker is stored
    warm = sighting(sighting_id="warm-up", identity_id="p-by01", camera_id="cam2", t_start=T0 + 300, region="north",
                    model="default", evidence_png=gei_png(7))
    send_records(kafka, topic, [(warm.identity_id.encode(), warm.to_bytes())])
    _wait_stored(room.store, "warm-up", procs)

    page = browser.page()
    page.goto(f"{room.url}#token={room.operator}&reason={quote('case 2026-120')}&identity=p-walker")
    page.wait("document.body.dataset.person === 'p-walker'")
    page.wait("document.body.dataset.live === 'open'")

    # watch: the page asks for the reason; the watchlist and the person view say so
    page.click("#watch")
    page.wait("document.querySelector('#reason-dialog').open")
    page.type("#reason-input", "suspect in case 2026-120")
    page.click("#reason-ok")
    page.wait("!document.querySelector('#watchbadge').hidden")
    page.wait("[...document.querySelectorAll('#watchlist tbody tr')].some((r) => r.dataset.identity === 'p-walker')")
    w = room.store.watched(["p-walker"])["p-walker"]
    assert (w.actor, w.reason) == ("operator-on-shift", "suspect in case 2026-120")
    assert any(e.action == "watch" and e.subject == "p-walker" for e in room.store.audit_log())
    page.wait("document.body.dataset.live === 'open'")
    # and follow cam3 too: who did it see (the map's camera marker asks), live from now on
    page.click("#map [data-camera-marker=cam3]")
    page.wait("document.querySelectorAll('#camresult tbody tr').length > 0")
    before = page.eval("document.querySelectorAll('#camresult tbody tr').length")
    page.wait("document.body.dataset.live === 'open'")

    # the person walks past cam3 again: published on sightings.v1, stored by the track stage
    t_seen = T0 + 400
    again = sighting(sighting_id="cam3/77/4000", identity_id="p-walker", camera_id="cam3", track_id=77, region="south",
                     t_start=t_seen, x=68.0, y=10.0, score=0.87, enrolled=False, model="default",
                     evidence_png=gei_png(3))
    send_records(kafka, topic, [(again.identity_id.encode(), again.to_bytes())])
    _wait_stored(room.store, again.sighting_id, procs)

    # the alert names the camera and the time, without a reload
    page.wait(f"document.querySelector('#alerts .alert[data-sighting=\"{again.sighting_id}\"]')", timeout_s=60)
    text = page.eval("document.querySelector('#alerts .alert').textContent")
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t_seen))
    assert "p-walker" in text and "cam3" in text and stamp in text, text
    assert "suspect in case 2026-120" in text
    assert page.eval("document.querySelector('#map [data-camera-marker=cam3]').classList.contains('alerting')")
    # ... and the open person's view grew by the new sighting: a fifth visit, a stop on the map
    page.wait(f"document.querySelectorAll('#map .stop').length === {WALK_VISITS + 1}")
    assert page.eval("document.querySelector('#map polyline.path').points.numberOfItems") == WALK_VISITS + 1
    page.wait(f"document.querySelectorAll('#evidence img.gei').length === {len(WALK) + 1}")
    assert page.eval(f"document.querySelector('#evidence [data-sighting=\"{again.sighting_id}\"]') !== null")
    # ... and so did the open camera's list, newest first
    page.wait(f"document.querySelectorAll('#camresult tbody tr').length === {before + 1}")
    assert page.eval("document.querySelector('#camresult tbody tr').dataset.sighting") == again.sighting_id
    keep(page.screenshot(tmp_path / "web-alert.png"))

    # the alert's link opens the evidence (GET /api/v1/sightings/{sid}), audited
    page.click("#alerts .alert .evidence-link")
    page.wait(f"document.body.dataset.evidence === {json.dumps(again.sighting_id)}")
    page.wait("document.querySelector('#evidence-dialog img.gei').complete")
    size = page.eval("[document.querySelector('#evidence-dialog img.gei').naturalWidth, "
                     "document.querySelector('#evidence-dialog img.gei').naturalHeight]")
    assert size == [44, 64]
    assert "cam3" in page.eval("document.querySelector('#evidence-body').textContent")
    keep(page.screenshot(tmp_path / "web-alert-evidence.png", full_page=False))
    assert any(e.action == "api.sighting" and e.subject == "p-walker" for e in room.store.audit_log())
    # the hit was recorded once, whoever else was listening
    assert room.store.record_watch_hit(again.sighting_id, "p-walker", "cam3", t_seen) is False

    # stop watching: a reason again, and the watchlist is empty
    page.click("#evidence-close")
    page.click("#watch")
    page.wait("document.querySelector('#reason-dialog').open")
    page.type("#reason-input", "case 2026-120 closed")
    page.click("#reason-ok")
    page.wait("document.querySelector('#watchbadge').hidden")
    assert room.store.watchlist() == []
    assert [e.reason for e in room.store.audit_log() if e.action == "unwatch"] == ["case 2026-120 closed"]
    assert page.errors() == []
