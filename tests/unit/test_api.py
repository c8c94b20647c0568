"""The control-room API over a real HTTP socket and a real SQLite store: auth, roles, reasons, audit."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from typer.testing import CliRunner

from api.auth import TokenBook, issue_token
from api.exceptions import AuthError
from api.metrics import ApiMetrics
from api.server import Api, make_server
from store.db import Store
from streams.schemas import GaitParams, Sighting
from tests.factories import sighting

T0 = 1_700_000_000.0


def _seen(sid: str, ident: str, cam: str, t: float, x: float, cadence: float | None = None) -> Sighting:
    return sighting(sighting_id=sid, identity_id=ident, camera_id=cam, t_start=t, x=x, y=2.0, score=0.9,
                    enrolled=False, model="default", gait=GaitParams(cadence_spm=cadence, speed_mps=1.3))


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, dict[str, str], Store, CollectorRegistry]]:
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    store.add_sightings([_seen("w1", "p-a", "cam1", T0, 0.0, 110.0),
                         _seen("w2", "p-a", "cam1", T0 + 2, 3.0),
                         _seen("w3", "p-a", "cam2", T0 + 60, 80.0, 114.0),
                         _seen("w4", "p-b", "cam2", T0 + 70, 5.0)])
    book = tmp_path / "tokens.json"
    tokens = {role: issue_token(book, f"{role}-user", role) for role in ("operator", "auditor", "admin")}
    registry = CollectorRegistry()
    server = make_server(Api(store, TokenBook.load(book), ApiMetrics(registry)), "127.0.0.1", 0)
    th = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    th.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", tokens, store, registry
    server.shutdown()
    server.server_close()
    store.close()


def get(url: str, token: str | None = None, method: str = "GET") -> tuple[int, dict]:
    req = urllib.request.Request(url, method=method, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_where_answers_visits_and_is_audited_first(served) -> None:
    base, tok, store, registry = served
    code, body = get(f"{base}/api/v1/identities/p-a/sightings?reason=case%2042", tok["operator"])
    assert code == 200
    assert [v["camera"] for v in body["visits"]] == ["cam1", "cam2"] and body["visits"][0]["sightings"] == 2
    assert body["cameras"] == ["cam1", "cam2"] and body["path_m"] == pytest.approx(3.0 + 77.0)
    assert [s["cadence_spm"] for s in body["sightings"]] == [110.0, None, 114.0]
    entry = store.audit_log(subject="p-a")[0]
    assert (entry.actor, entry.action, entry.reason) == ("operator-user", "api.where", "case 42")
    # nothing found is still a search: audited, then 404
    code, body = get(f"{base}/api/v1/identities/p-zzz/sightings?reason=case%2042", tok["admin"])
    assert code == 404 and "p-zzz" in body["error"]
    assert store.audit_log(subject="p-zzz")[0].actor == "admin-user"
    assert registry.get_sample_value("gaitline_api_requests_total",
                                     {"route": "/api/v1/identities/{id}/sightings", "code": "200"}) == 1


def test_identities_and_camera_search(served) -> None:
    base, tok, store, _ = served
    code, body = get(f"{base}/api/v1/identities?reason=shift%20review", tok["operator"])
    assert code == 200 and {i["identity_id"]: i["cameras"] for i in body["identities"]} == {
        "p-a": ["cam1", "cam2"], "p-b": ["cam2"]}
    assert body["total"] == 2 and [i["identity_id"] for i in body["identities"]] == ["p-b", "p-a"]  # latest first
    code, body = get(f"{base}/api/v1/sightings?camera=cam2&since={T0 + 65}&reason=incident%207", tok["operator"])
    assert code == 200 and body["identities"] == ["p-b"]  # p-a left cam2 before T0+65
    code, body = get(f"{base}/api/v1/sightings?camera=cam2&reason=incident%207", tok["operator"])
    assert body["identities"] == ["p-a", "p-b"]
    assert store.audit_log(subject="camera:cam2")[0].reason == "incident 7"
    code, body = get(f"{base}/api/v1/sightings?camera=cam2&since=abc&reason=incident%207", tok["operator"])
    assert code == 400 and "since" in body["error"]
    code, body = get(f"{base}/api/v1/sightings?camera=cam2&since=9&until=1&reason=incident%207", tok["operator"])
    assert code == 400


def test_auth_roles_and_reasons(served) -> None:
    base, tok, store, registry = served
    before = len(store.audit_log())
    assert get(f"{base}/api/v1/identities?reason=abc")[0] == 401
    assert get(f"{base}/api/v1/identities?reason=abc", "not-a-token")[0] == 401
    code, body = get(f"{base}/api/v1/identities", tok["operator"])
    assert code == 400 and "reason" in body["error"]
    code, body = get(f"{base}/api/v1/identities?reason=abc", tok["auditor"])  # auditors do not search
    assert code == 403 and "auditor" in body["error"]
    assert get(f"{base}/api/v1/audit", tok["operator"])[0] == 403
    assert len(store.audit_log()) == before  # refused requests searched nothing
    code, body = get(f"{base}/api/v1/audit?limit=5", tok["auditor"])
    assert code == 200 and len(body["entries"]) <= 5
    assert get(f"{base}/api/v1/me", tok["auditor"])[1] == {"user": "auditor-user", "role": "auditor",
                                                          "permissions": ["audit"]}
    assert registry.get_sample_value("gaitline_api_denied_total", {"reason": "role"}) == 2
    assert registry.get_sample_value("gaitline_api_denied_total", {"reason": "no_token"}) == 1


def test_page_health_and_bad_requests(served) -> None:
    base, tok, _, _ = served
    with urllib.request.urlopen(f"{base}/", timeout=10) as r:
        page = r.read().decode()
        assert "app.js" in page and r.headers["Cache-Control"] == "no-store"
    assert get(f"{base}/healthz") == (200, {"status": "ok"})
    assert get(f"{base}/readyz")[0] == 200
    assert get(f"{base}/api/v1/nothing", tok["operator"])[0] == 404
    assert get(f"{base}/api/v1/identities/a%20b/sightings?reason=abc", tok["operator"])[0] == 400
    assert get(f"{base}/api/v1/identities?reason=abc", tok["operator"], method="DELETE")[0] == 405
    code, body = get(f"{base}/api/v1/search?reason=abc", tok["operator"], method="POST")
    assert code == 503 and "--kafka" in body["error"]  # no gallery configured: said, not crashed


def test_token_file_is_digests_and_checked(tmp_path: Path) -> None:
    book = tmp_path / "t.json"
    token = issue_token(book, "carol", "operator")
    assert token not in book.read_text() and (book.stat().st_mode & 0o077) == 0
    assert TokenBook.load(book).authenticate(token).user == "carol"
    assert TokenBook.load(book).authenticate(token + "x") is None
    with pytest.raises(AuthError, match="role"):
        issue_token(book, "dave", "superuser")
    with pytest.raises(AuthError, match="cannot read"):
        TokenBook.load(tmp_path / "missing.json")
    (tmp_path / "empty.json").write_text('{"tokens": []}')
    with pytest.raises(AuthError, match="no tokens"):
        TokenBook.load(tmp_path / "empty.json")
    (tmp_path / "bad.json").write_text('{"tokens": [{"sha256": "x", "user": "u", "role": "root"}]}')
    with pytest.raises(AuthError, match="unknown role"):
        TokenBook.load(tmp_path / "bad.json")


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    from gaitline.cli.main import app

    res = CliRunner().invoke(app, ["api", "token", "--user", "u", "--role", "god", "--tokens", str(tmp_path / "t")])
    assert res.exit_code == 2 and "unknown role" in res.output and "Traceback" not in res.output
    res = CliRunner().invoke(app, ["api", "serve", "--tokens", str(tmp_path / "none.json"), "--port", "0"])
    assert res.exit_code == 2 and "cannot read token file" in res.output
