"""The API's HTTP guards on a real uvicorn socket: bodies refused before they are read, content types,
errors without tracebacks, security headers, the OpenAPI document, the page's files, SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from api.probe import ProbeSettings
from tests.factories import sighting

from .api_served import T0, call, get_json, served


def _raw(base: str, request: bytes, wait_s: float = 5.0) -> bytes:
    """Send ``request`` (headers, maybe a little body) and read what comes back until the server closes."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as s:
        s.sendall(request)
        s.settimeout(wait_s)
        out = b""
        try:
            while chunk := s.recv(65536):
                out += chunk
        except TimeoutError:
            pass
    return out


def test_bodies_over_the_limit_are_refused_before_they_are_read(tmp_path: Path) -> None:
    with served(tmp_path, probe=ProbeSettings(max_bytes=2**20)) as s:
        tok = s.tokens["operator"]
        # 10 MB announced, none sent: the answer must come without them, and the connection closes
        head = _raw(s.base, b"POST /api/v1/watchlist HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                            b"Content-Length: 10485760\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 413") and b"connection: close" in head.lower(), head[:200]
        # a chunked body is cut off as soon as it passes the limit
        chunk = b"x" * 40_000
        body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(3))
        head = _raw(s.base, b"POST /api/v1/watchlist HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + tok.encode()
                    + b"\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
        assert head.startswith(b"HTTP/1.1 413"), head[:200]
        # the clip search: its own limit, checked after the token, before the body
        head = _raw(s.base, b"POST /api/v1/search?reason=case%201 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                    + tok.encode() + b"\r\nContent-Type: video/mp4\r\nContent-Length: 5000000\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 413") and b"MB" in head, head[:300]
        head = _raw(s.base, b"POST /api/v1/search?reason=case%201 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                    + tok.encode() + b"\r\nContent-Type: text/plain\r\nContent-Length: 500000\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 415") and b"video" in head, head[:300]
        head = _raw(s.base, b"POST /api/v1/search?reason=case%201 HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
                            b"Content-Length: 500000\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 401"), head[:200]  # no token: nothing else is said
        assert not s.store.audit_log()


def test_a_client_that_sends_its_whole_body_still_hears_the_early_answer(tmp_path: Path) -> None:
    # the answer goes out before the body is read; the server then drops what the client still sends
    # (a lingering close) instead of resetting the connection under a client that writes first, reads after
    with served(tmp_path, probe=ProbeSettings(max_bytes=2**20)) as s:
        tok = s.tokens["operator"]
        headers = {"Content-Type": "video/mp4"}
        for _ in range(3):
            code, _, body = call(f"{s.base}/api/v1/search?reason=case%201", tok, "POST", b"\0" * (8 * 2**20), headers)
            assert code == 413 and b"limit" in body
            code, _, body = call(f"{s.base}/api/v1/search", tok, "POST", b"\0" * (2**20 - 10), headers)
            assert code == 400 and b"reason" in body
            code, _, body = call(f"{s.base}/api/v1/search?reason=case%201", "forged", "POST", b"\0" * 2**20, headers)
            assert code == 401


def test_a_failure_is_a_503_without_a_traceback(tmp_path: Path) -> None:
    with served(tmp_path, [sighting(identity_id="p-a", t_start=T0)]) as s:
        def broken(*a, **k):
            raise RuntimeError("secret internals at /srv/db password=hunter2")

        s.store.search_identities = broken  # type: ignore[method-assign]
        code, headers, body = call(f"{s.base}/api/v1/identities?reason=case%201", s.tokens["operator"])
        assert code == 503 and json.loads(body)["error"].startswith("the store is unavailable")
        assert b"hunter2" not in body and b"Traceback" not in body
        assert s.metric("gaitline_api_requests_total", route="/api/v1/identities", code="503") == 1


def test_errors_headers_and_the_page(tmp_path: Path) -> None:
    with served(tmp_path) as s:
        code, headers, body = call(f"{s.base}/api/v1/me", s.tokens["operator"])
        assert code == 200 and headers["cache-control"] == "no-store" and headers["x-content-type-options"] == "nosniff"
        assert "img-src 'self' data:" in headers["content-security-policy"]
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        code, headers, body = call(f"{s.base}/app.js")
        assert code == 200 and headers["content-type"].startswith("text/javascript") and body
        assert call(f"{s.base}/")[0] == 200
        for bad in ("/nothing.js", "/..%2F..%2Fetc%2Fpasswd", "/%2E%2E/api/server.py"):
            code, _, body = call(f"{s.base}{bad}")
            assert code == 404 and "error" in json.loads(body), bad
        assert get_json(f"{s.base}/api/v1/identities?reason=abc", s.tokens["operator"], method="PATCH")[0] == 405
        code, body = get_json(f"{s.base}/api/v1/identities?reason=abc&limit=0", s.tokens["operator"])
        assert code == 400 and "limit" in body["error"]
        for blank in ("%20%20%20%20", "%1C%1C%1C%1C", "%E3%80%80%E3%80%80%E3%80%80", "a%0Ab%0Ac"):
            code, body = get_json(f"{s.base}/api/v1/identities?reason={blank}", s.tokens["operator"])
            assert code == 400 and "reason" in body["error"], blank  # what the audit log would strip to nothing
        code, body = get_json(f"{s.base}/api/v1/identities?reason=case%201&prefx=p-1", s.tokens["operator"])
        assert code == 400 and "unknown parameter 'prefx'" in body["error"] and "prefix" in body["error"]
        assert get_json(f"{s.base}/api/v1/me?x=1", s.tokens["operator"])[0] == 400
        code, body = get_json(f"{s.base}/api/v1/audit?subject=a&subject=b", s.tokens["auditor"])
        assert code == 400 and "more than once" in body["error"]
        assert get_json(f"{s.base}/api/v1/identities?reason=case%201&prefx=p-1")[0] == 401  # the token first
        head = _raw(s.base, b"POST /api/v1/search HTTP/1.1\r\nHost: x\r\nContent-Length: 12, 13\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 400") and b'{"error": "not a valid HTTP request' in head, head[:300]
        assert s.metric("gaitline_api_requests_total", route="/static", code="200") == 2
        assert s.metric("gaitline_api_requests_total", route="/api/v1/identities", code="400") == 6


def test_the_openapi_document_describes_every_route(tmp_path: Path) -> None:
    with served(tmp_path) as s:
        code, spec = get_json(f"{s.base}/api/v1/openapi.json")
        assert code == 200 and spec["openapi"].startswith("3.")
        assert {"/api/v1/me", "/api/v1/identities", "/api/v1/identities/{id}/sightings", "/api/v1/sightings",
                "/api/v1/sightings/{sid}", "/api/v1/identities/{id}/export", "/api/v1/cameras", "/api/v1/site/map",
                "/api/v1/watchlist", "/api/v1/watchlist/{id}", "/api/v1/live", "/api/v1/search",
                "/api/v1/audit"} == set(spec["paths"])
        where = spec["paths"]["/api/v1/identities/{id}/sightings"]["get"]
        assert where["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/WhereOut")
        assert {"400", "401", "403", "404"} <= set(where["responses"])
        reason = next(p for p in where["parameters"] if p["name"] == "reason")
        assert reason["required"] and reason["schema"]["minLength"] == 3
        assert any("HTTPBearer" in sec for sec in where["security"])


def test_serve_says_in_one_line_what_is_wrong_with_its_settings(tmp_path: Path, monkeypatch) -> None:
    from typer.testing import CliRunner

    from api.auth import issue_token
    from gaitline.cli.main import app

    book = tmp_path / "tokens.json"
    issue_token(book, "op", "operator")
    args = ["api", "serve", "--tokens", str(book), "--store", f"sqlite:///{tmp_path / 's.db'}", "--port", "0"]
    for env, value, msg in (("GAITLINE_API_WEBHOOK_URL", "ftp://x", "GAITLINE_API_WEBHOOK_URL"),
                            ("GAITLINE_API_NETWORK", str(tmp_path / "missing.yaml"), "cannot read network config"),
                            ("GAITLINE_API_OIDC_ISSUER", "https://idp.example.test", "GAITLINE_API_OIDC_AUDIENCE")):
        monkeypatch.setenv(env, value)
        res = CliRunner().invoke(app, args)
        monkeypatch.delenv(env)
        assert res.exit_code == 2 and msg in res.output and "Traceback" not in res.output, res.output


def test_serve_drains_on_sigterm(tmp_path: Path) -> None:
    from api.auth import issue_token

    book = tmp_path / "tokens.json"
    token = issue_token(book, "op", "operator")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "GAITLINE_API_NETWORK": "vtest"}
    proc = subprocess.Popen([sys.executable, "-m", "gaitline.cli.main", "api", "serve", "--tokens", str(book),
                             "--store", f"sqlite:///{tmp_path / 's.db'}", "--port", str(port)],
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stderr.readline()
        assert "control room on" in line, line + proc.stderr.read()
        code, body = get_json(f"http://127.0.0.1:{port}/api/v1/me", token)
        assert code == 200 and body["user"] == "op"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0  # it stopped listening
