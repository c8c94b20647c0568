"""The control-room API and its web page, served by uvicorn: where was this person seen?

JSON over the sightings store (``store.db``), a FastAPI application (:mod:`api.app`) with
its OpenAPI description at ``/api/v1/openapi.json``. Every search is authenticated (bearer
token, :mod:`api.auth`, or an identity provider's JWT, :mod:`api.oidc`), role-checked, needs a
reason, and is written to the store's append-only audit log *before* the answer is sent (a
search that finds nothing is audited too).

Routes (``/api/v1``; errors are ``{"error": "..."}`` with a 4xx code; docs/api.md has them all):

==============================================  ==============  ======================================
``GET /healthz``, ``GET /readyz``               none            liveness; the store answers
``GET /``, ``/app.js``, ...                     none            the web page (it holds no data itself)
``GET /api/v1/me``                              any role        who the token belongs to
``GET /api/v1/cameras``, ``/site/map``          search          the site map: cameras, links, plan
``GET /api/v1/identities?reason=&prefix=...``   search          identities, a page at a time
``GET /api/v1/identities/ID/sightings``         search          sightings with evidence, visits, path
``GET /api/v1/identities/ID/export``            search          a person's sightings as CSV/JSON
``GET /api/v1/sightings?camera=&since=``        search          who cameras saw in a time range
``GET /api/v1/sightings/SID``                   search          one sighting with its evidence
``GET/POST/DELETE /api/v1/watchlist``           search (audit)  who is watched; watch; unwatch
``GET /api/v1/live?reason=&identity=&camera=``  search          Server-Sent Events: sightings, alerts
``POST /api/v1/search?reason=`` (a clip)        search          who in this recording was seen before
``GET /api/v1/audit?subject=&limit=``           audit           the audit log, newest first
==============================================  ==============  ======================================

Serving: uvicorn's h11 protocol with a deadline on a request's headers (a client that opens a
connection and sends half a request is closed after ``timeout_s``, as is an idle keep-alive
connection), at most ``max_connections`` connections (then 503) and ``max_threads`` requests
answered at once. SIGTERM stops accepting, ends the live feeds, and finishes the answers in flight.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvicorn
from prometheus_client import CollectorRegistry
from uvicorn.protocols.http.h11_impl import H11Protocol

from api.app import STATIC, app_for
from api.auth import TokenBook
from api.metrics import ApiMetrics
from api.probe import GallerySource, ProbeSettings
from api.settings import ApiSettings
from api.state import Api, oidc_from_settings
from store.db import Store

log = logging.getLogger(__name__)

__all__ = ["STATIC", "Api", "ApiServer", "make_server", "run"]


class _Lingering:
    """A transport whose ``close`` lingers when the request's body is still coming: the answer (a 401, 413,
    415 or 400 given before the body was read) is flushed, the write side shut, and what the client still
    sends is read and dropped, up to ``cap`` bytes and while it keeps coming, so the client hears the answer
    instead of a connection reset. The body itself is never handed to the application."""

    def __init__(self, transport: asyncio.Transport, protocol: _Protocol) -> None:
        self._t = transport
        self._p = protocol
        self.lingering = False
        self._left = 0
        self._timer: asyncio.TimerHandle | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._t, name)

    def is_closing(self) -> bool:
        return self.lingering or self._t.is_closing()

    def close(self) -> None:
        if self.lingering or self._t.is_closing():
            return
        if self._p.body_pending() and self._t.can_write_eof():
            self.lingering, self._left = True, self._p.linger_bytes
            self._t.write_eof()  # after what is buffered: the answer goes out whole
            self._t.resume_reading()
            self._arm()
        else:
            self._t.close()

    def drop(self, data: bytes) -> None:
        self._left -= len(data)
        if self._left < 0:
            self.close_now()
        else:
            self._arm()

    def _arm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._p.loop.call_later(self._p.header_timeout_s, self.close_now)

    def close_now(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._t.close()


class _Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for a request's headers (uvicorn has none for the first one:
    a client that opens a connection and trickles or withholds a request cannot hold it), and a lingering
    close (:class:`_Lingering`)."""

    header_timeout_s = 10.0
    linger_bytes = 64 * 2**20

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._linger = _Lingering(transport, self)
        super().connection_made(self._linger)  # type: ignore[arg-type]
        self._deadline: asyncio.TimerHandle | None = None
        self._arm()

    def send_400_response(self, msg: str) -> None:
        """A request h11 cannot parse (a broken header, say): answered in the API's shape, not uvicorn's text."""
        import h11

        body = json.dumps({"error": f"not a valid HTTP request: {msg.rstrip('.')}"}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                   (b"connection", b"close")]
        try:
            self.transport.write(self.conn.send(h11.Response(status_code=400, headers=headers, reason=b"Bad Request")))
            self.transport.write(self.conn.send(h11.Data(data=body)))
            self.transport.write(self.conn.send(h11.EndOfMessage()))
        except h11.LocalProtocolError:  # a response had started already: nothing more can be said
            pass
        self.transport.close()

    def body_pending(self) -> bool:
        """The client is still sending the request's body."""
        import h11

        return self.conn.their_state is h11.SEND_BODY

    def _arm(self) -> None:
        if self._deadline is None:
            self._deadline = self.loop.call_later(self.header_timeout_s, self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        self._deadline = None
        if (self.cycle is None or self.cycle.response_complete) and not self.transport.is_closing():
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self._linger.lingering:
            self._linger.drop(data)
            return
        super().data_received(data)
        if self.cycle is not None and not self.cycle.response_complete:
            self._disarm()  # a request is being answered: its body has its own timeout (routes_search)
        else:
            self._arm()  # between requests, or headers incomplete: the deadline runs from their first byte

    def eof_received(self) -> None:
        if self._linger.lingering:
            self._linger.close_now()
        super().eof_received()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._disarm()  # uvicorn's keep-alive timeout (the same length) takes over

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


class _Server(uvicorn.Server):
    """uvicorn's server that ends the live feeds first when it stops (they would hold it open) and says
    where it listens."""

    def __init__(self, config: uvicorn.Config, api: Api, ready: Callable[[str], None] | None = None) -> None:
        super().__init__(config)
        self.api = api
        self.ready = ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.ready is not None and self.servers:
            host, port = self.servers[0].sockets[0].getsockname()[:2]
            self.ready(f"http://{host}:{port}/")

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.api.live.close_streams()
        await super().shutdown(sockets)
        # uvicorn raises the signal again once drained (the process then dies of it); a drained stop is a
        # clean exit, as Kubernetes and `gaitline api serve` under a shell expect
        self._captured_signals.clear()


def _config(api: Api, host: str, port: int) -> uvicorn.Config:
    s = api.settings
    protocol = type("Protocol", (_Protocol,), {"header_timeout_s": s.timeout_s})
    return uvicorn.Config(app_for(api), host=host, port=port, http=protocol, lifespan="on",
                          timeout_keep_alive=max(1, round(s.timeout_s)), limit_concurrency=s.max_connections,
                          timeout_graceful_shutdown=max(1, round(s.timeout_s)), log_config=None, access_log=False,
                          server_header=False, proxy_headers=False)


class ApiServer:
    """The API on a socket it binds at once (port 0 = any free port: see :attr:`server_address`), served by
    uvicorn in whichever thread calls :meth:`serve_forever`; :meth:`shutdown` stops it from another."""

    def __init__(self, api: Api, host: str, port: int) -> None:
        self.api = api
        self.socket = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind((host, port))
        self.socket.listen(128)
        self.server_address: tuple[str, int] = self.socket.getsockname()[:2]
        self._server = _Server(_config(api, host, self.server_address[1]), api)
        self._done = threading.Event()

    @property
    def url(self) -> str:
        return f"http://{self.server_address[0]}:{self.server_address[1]}"

    def serve_forever(self, poll_interval: float = 0.1) -> None:
        """Serve until :meth:`shutdown` (``poll_interval`` is kept for the old ``http.server`` signature)."""
        try:
            self._server.run(sockets=[self.socket])
        finally:
            self._done.set()

    def start(self) -> ApiServer:
        """Serve in a daemon thread and wait until it answers."""
        threading.Thread(target=self.serve_forever, daemon=True, name="gaitline-api").start()
        while not self._server.started and not self._done.wait(0.02):
            pass
        return self

    def shutdown(self) -> None:
        """Stop: the live feeds end, answers in flight finish (then :meth:`serve_forever` returns)."""
        self._server.should_exit = True
        self._done.wait(30)

    def server_close(self) -> None:
        self.socket.close()


def make_server(api: Api, host: str, port: int, timeout_s: float | None = None,
                max_threads: int | None = None) -> ApiServer:
    """A server for ``api`` (call ``serve_forever`` in a thread, or ``start``).

    Args:
        api: the state the routes serve.
        host, port: where to listen (port 0: a free one).
        timeout_s: a connection that sends no complete request for this long is closed (default: settings).
        max_threads: most requests answered at once (default: settings).
    """
    update: dict[str, Any] = {}
    if timeout_s is not None:
        update["timeout_s"] = timeout_s
    if max_threads is not None:
        update["max_threads"] = max_threads
    if update:
        api.settings = api.settings.model_copy(update=update)
    return ApiServer(api, host, port)


def run(store_url: str, tokens_path: Path, host: str, port: int, metrics_port: int = 0,
        registry: CollectorRegistry | None = None, ready: Callable[[str], None] | None = None,
        gallery: GallerySource | None = None, probe: ProbeSettings | None = None,
        settings: ApiSettings | None = None) -> None:
    """Serve until SIGTERM/SIGINT, then end the live feeds, finish the requests in flight and stop.

    ``ready`` is called with the page's URL once the socket listens.
    """
    from configs.schema import load_network
    from gaitline.metrics import serve

    settings = settings or ApiSettings()
    registry = registry or CollectorRegistry()
    tokens = TokenBook.load(tokens_path)  # first: a bad token file must not open (or create) a store
    oidc = oidc_from_settings(settings)
    network = load_network(settings.network)
    api = Api(Store(store_url), tokens, ApiMetrics(registry), gallery=gallery, probe=probe, network=network,
              settings=settings, oidc=oidc)
    serve(registry, metrics_port)
    server = _Server(_config(api, host, port), api, ready=ready)
    try:
        server.run()  # uvicorn handles SIGTERM/SIGINT in the main thread: stop accepting, drain, return
    finally:
        api.store.close()
