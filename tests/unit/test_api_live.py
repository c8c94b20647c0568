"""The live feed on a real socket: sightings stored while a page listens arrive as Server-Sent Events,
a watched person's sighting raises one alert (counted once over two replicas), the webhook gets it."""

from __future__ import annotations

import http.client
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.settings import ApiSettings
from tests.factories import sighting

from .api_served import T0, gei_png, get_json, served

FAST = {"live_poll_s": 0.05, "live_keepalive_s": 0.3}


class Feed:
    """A ``GET /api/v1/live`` response read event by event."""

    def __init__(self, base: str, token: str, query: str) -> None:
        host, port = base.removeprefix("http://").split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=20)
        self.conn.request("GET", f"/api/v1/live?{query}", headers={"Authorization": f"Bearer {token}"})
        self.res = self.conn.getresponse()

    def next(self, kinds: tuple[str, ...] = ("sighting", "watchlist"), within_s: float = 30.0) -> tuple[str, Any]:
        """The next event of one of ``kinds`` (comments and other events skipped): (kind, data);
        TimeoutError when none came within ``within_s`` (keepalives keep the socket busy)."""
        import time

        deadline = time.monotonic() + within_s
        kind, data = None, []
        while True:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {'/'.join(kinds)} event within {within_s} s")
            line = self.res.fp.readline().decode()
            if line == "":
                raise EOFError("the feed ended")
            line = line.rstrip("\n")
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
            elif line == "" and kind is not None:
                if kind in kinds:
                    return kind, json.loads("\n".join(data))
                kind, data = None, []

    def comment(self) -> str:
        while True:
            line = self.res.fp.readline().decode()
            if line.startswith(":"):
                return line.strip()

    def close(self) -> None:
        self.conn.close()


class Hook(http.server.BaseHTTPRequestHandler):
    got: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802
        n = int(self.headers["Content-Length"])
        type(self).got.append(json.loads(self.rfile.read(n)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A real HTTP server on a thread that records what is POSTed to it."""
    Hook.got = []
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/alerts", Hook.got
    srv.shutdown()
    srv.server_close()


def test_sightings_of_a_person_and_a_camera_arrive_live(tmp_path: Path) -> None:
    first = sighting(sighting_id="cam1/1/0", identity_id="p-a", camera_id="cam1", t_start=T0)
    with served(tmp_path, [first], settings=ApiSettings(**FAST)) as s:
        by_person = Feed(s.base, s.tokens["operator"], "reason=case%2042&identity=p-a")
        by_camera = Feed(s.base, s.tokens["operator"], "reason=case%2042&camera=cam2,cam3")
        assert by_person.res.status == 200 and by_person.res.getheader("content-type").startswith("text/event-stream")
        assert by_person.comment() == ": connected" and by_camera.comment() == ": connected"
        assert by_person.comment() == ": keepalive"  # nothing new: the feed says it is alive
        s.store.add_sightings([
            sighting(sighting_id="cam2/2/0", identity_id="p-b", camera_id="cam2", t_start=T0 + 10),
            sighting(sighting_id="cam2/3/0", identity_id="p-a", camera_id="cam2", t_start=T0 + 20,
                     evidence_png=gei_png(3))])
        kind, ev = by_person.next()
        assert kind == "sighting" and ev["sighting_id"] == "cam2/3/0" and ev["evidence"].startswith("data:image/png")
        assert [by_camera.next()[1]["sighting_id"] for _ in range(2)] == ["cam2/2/0", "cam2/3/0"]
        by_person.close()
        by_camera.close()
        opened = [e for e in s.store.audit_log() if e.action == "api.live"]
        assert {(e.subject, e.reason) for e in opened} == {("p-a", "case 42"), ("camera:cam2,cam3", "case 42")}
        # refused feeds: no audit, no stream
        assert get_json(f"{s.base}/api/v1/live?identity=p-a", s.tokens["operator"])[0] == 400
        assert get_json(f"{s.base}/api/v1/live?reason=case%2042", s.tokens["auditor"])[0] == 403


def test_a_watched_person_raises_one_alert_and_the_webhook_hears_it(tmp_path: Path, webhook) -> None:
    url, got = webhook
    first = sighting(sighting_id="cam1/1/0", identity_id="p-a", camera_id="cam1", t_start=T0)
    with served(tmp_path, [first], settings=ApiSettings(webhook_url=url, **FAST)) as s:
        code, _ = get_json(f"{s.base}/api/v1/watchlist", s.tokens["operator"], "POST",
                           {"identity_id": "p-a", "reason": "missing person 7"})
        assert code == 201
        page = Feed(s.base, s.tokens["operator"], "reason=control%20room")  # watchlist alerts only
        page.comment()
        # a second API replica over the same store: it alerts its own pages, but the hit is counted once
        with served(tmp_path / "replica", settings=ApiSettings(webhook_url=url, **FAST)) as replica:
            replica.api.store.close()
            from store.db import Store

            replica.api.store = Store(s.store.url)
            other = Feed(replica.base, replica.tokens["operator"], "reason=control%20room")
            other.comment()
            s.store.add_sightings([
                sighting(sighting_id="cam2/9/0", identity_id="p-b", camera_id="cam2", t_start=T0 + 5),
                sighting(sighting_id="cam3/4/0", identity_id="p-a", camera_id="cam3", t_start=T0 + 50,
                         evidence_png=gei_png(4))])
            for feed in (page, other):
                kind, alert = feed.next(("watchlist",))
                assert alert == {"sighting_id": "cam3/4/0", "identity_id": "p-a", "camera_id": "cam3",
                                 "t": T0 + 50, "watch_reason": "missing person 7", "watched_by": "operator-user",
                                 "evidence": alert["evidence"]} and alert["evidence"].startswith("data:image/png")
            hits = [s.metric("gaitline_api_watchlist_hits_total"), replica.metric("gaitline_api_watchlist_hits_total")]
            assert sorted(hits) == [0.0, 1.0]
            other.close()
        page.close()
        for _ in range(100):  # the webhook is posted from a worker thread
            if got:
                break
            threading.Event().wait(0.05)
        assert len(got) == 1 and got[0]["event"] == "gaitline.watchlist_hit" and got[0]["sighting_id"] == "cam3/4/0"
        assert s.store.record_watch_hit("cam3/4/0", "p-a", "cam3", T0 + 50) is False  # recorded by the poller


def test_stopping_the_server_ends_the_open_feeds(tmp_path: Path) -> None:
    with served(tmp_path, settings=ApiSettings(**FAST)) as s:
        feed = Feed(s.base, s.tokens["operator"], "reason=control%20room")
        feed.comment()
        stopper = threading.Thread(target=s.server.shutdown)
        stopper.start()
        with pytest.raises(EOFError):  # the stream ends instead of holding the server open
            feed.next()
        stopper.join(20)
        assert not stopper.is_alive()
        feed.close()


def test_a_webhook_that_is_down_is_counted_not_fatal(tmp_path: Path) -> None:
    first = sighting(sighting_id="cam1/1/0", identity_id="p-a", camera_id="cam1", t_start=T0)
    settings = ApiSettings(webhook_url="http://127.0.0.1:9/nowhere", webhook_timeout_s=1.0, **FAST)
    with served(tmp_path, [first], settings=settings) as s:
        get_json(f"{s.base}/api/v1/watchlist", s.tokens["operator"], "POST", {"identity_id": "p-a", "reason": "case"})
        page = Feed(s.base, s.tokens["operator"], "reason=control%20room&identity=p-a")
        page.comment()
        s.store.add_sightings([sighting(sighting_id="cam1/2/0", identity_id="p-a", camera_id="cam1", t_start=T0 + 9)])
        assert page.next()[0] == "sighting" and page.next()[0] == "watchlist"
        for _ in range(100):
            if s.metric("gaitline_api_webhook_failures_total"):
                break
            threading.Event().wait(0.05)
        assert s.metric("gaitline_api_webhook_failures_total") == 1
        page.close()


def test_a_token_revoked_while_its_feed_is_open_ends_the_feed(tmp_path: Path) -> None:
    from api.auth import list_tokens, revoke_token

    with served(tmp_path, settings=ApiSettings(**FAST)) as s:
        feed = Feed(s.base, s.tokens["operator"], "reason=control%20room")
        assert feed.comment() == ": connected" and feed.comment() == ": keepalive"
        entry = next(e for e in list_tokens(s.book) if e.user == "operator-user")
        revoke_token(s.book, entry.token_id)
        kind, data = feed.next(("error",), within_s=5.0)  # at the next keepalive at the latest
        assert kind == "error" and "revoked" in data["error"]
        with pytest.raises(EOFError):
            feed.next()
        feed.close()
        assert s.metric("gaitline_api_denied_total", reason="revoked_token") >= 1
        # the other roles' feeds go on
        other = Feed(s.base, s.tokens["admin"], "reason=control%20room")
        assert other.comment() == ": connected" and other.comment() == ": keepalive"
        other.close()
