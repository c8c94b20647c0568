"""The API under abuse, on a real socket: a big unauthenticated body, idle connections, many connections,
and the store's password in what it prints (issue 20, defect 10)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from api.auth import TokenBook, issue_token
from api.metrics import ApiMetrics
from api.server import Api, make_server
from store.db import Store, mask_url
from store.exceptions import StoreError


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, int]]:
    """A served API on a SQLite store; the operator's token is in ``tmp_path/operator.token``."""
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    book = tmp_path / "tokens.json"
    (tmp_path / "operator.token").write_text(issue_token(book, "op", "operator"))
    srv = make_server(Api(store, TokenBook.load(book), ApiMetrics(CollectorRegistry())), "127.0.0.1", 0,
                      timeout_s=1.0, max_threads=3)
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    yield srv.server_address[:2]
    srv.shutdown()
    srv.server_close()
    store.close()


def _answer(sock: socket.socket, timeout_s: float) -> bytes:
    sock.settimeout(timeout_s)
    out = b""
    try:
        while b"\r\n\r\n" not in out:
            chunk = sock.recv(4096)
            if not chunk:
                break
            out += chunk
    except TimeoutError:
        pass
    return out


def test_an_unauthenticated_45_mb_body_is_refused_before_it_is_read(server):
    host, port = server
    with socket.create_connection((host, port)) as s:
        s.sendall(b"POST /api/v1/search?reason=x HTTP/1.1\r\nHost: x\r\nContent-Length: 47185920\r\n\r\n"
                  + b"\0" * 1024)
        head = _answer(s, 3.0)  # the other 45 MB never come: the server must answer without them
    assert head.startswith(b"HTTP/1.0 401") or head.startswith(b"HTTP/1.1 401"), head[:80]


def test_a_forged_token_is_refused_before_the_body_too(server):
    host, port = server
    with socket.create_connection((host, port)) as s:
        s.sendall(b"POST /api/v1/search?reason=x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer forged\r\n"
                  b"Content-Length: 1000000\r\n\r\n")
        assert b" 401 " in _answer(s, 3.0)[:20]


def test_an_idle_connection_is_closed_after_the_socket_timeout(server):
    host, port = server
    with socket.create_connection((host, port)) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\n")  # and never the rest of the request
        s.settimeout(5.0)
        t0 = time.monotonic()
        try:
            data = s.recv(100)
        except ConnectionResetError:
            data = b""
        assert data == b"" or b"408" in data or b"400" in data
        assert time.monotonic() - t0 < 4.0


def test_connections_are_served_by_a_bounded_number_of_threads(server):
    host, port = server
    before = threading.active_count()
    idle = [socket.create_connection((host, port)) for _ in range(8)]
    try:
        time.sleep(0.3)
        assert threading.active_count() - before <= 3
    finally:
        for s in idle:
            s.close()
    with socket.create_connection((host, port)) as s:  # and it still answers once they are gone
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert b" 200 " in _answer(s, 5.0)[:20]


def test_the_store_password_never_appears_in_an_error_or_a_printed_url():
    url = "postgresql://gaitline:s3cret-pw@127.0.0.1:1/nowhere"
    assert "s3cret-pw" not in mask_url(url) and "127.0.0.1:1/nowhere" in mask_url(url)
    with pytest.raises(StoreError) as err:
        Store(url)
    assert "s3cret-pw" not in str(err.value)


@pytest.mark.parametrize("ident", ["x'%20OR%201=1--", "..%2F..%2Fetc%2Fpasswd", "a%00b", "a" * 65, "%3Cscript%3E"])
def test_ids_with_sql_or_path_characters_are_refused_cleanly(server, tmp_path, ident):
    host, port = server
    token = (tmp_path / "operator.token").read_text().strip()
    with socket.create_connection((host, port)) as s:
        s.sendall(f"GET /api/v1/identities/{ident}/sightings?reason=case%201 HTTP/1.1\r\nHost: x\r\n"
                  f"Authorization: Bearer {token}\r\nConnection: close\r\n\r\n".encode())
        head = _answer(s, 5.0)
    assert b" 400 " in head[:20] or b" 404 " in head[:20], head[:80]
