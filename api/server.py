"""The control-room API and its web page: where was this person seen?

Plain HTTP/JSON over the sightings store (``store.db``), stdlib server, one thread per
request. Every search is authenticated (bearer token, :mod:`api.auth`), role-checked, needs a
reason, and is written to the store's append-only audit log *before* the answer is sent (a
search that finds nothing is audited too).

Routes (``/api/v1``; errors are ``{"error": "..."}`` with a 4xx code):

==========================================  ==========  ===========================================
``GET /healthz``                            none        liveness
``GET /readyz``                             none        the store answers
``GET /``, ``/app.js``, ``/app.css``        none        the web page (it holds no data itself)
``GET /api/v1/me``                          any role    who the token belongs to
``GET /api/v1/identities?reason=&limit=``   search      the most recently seen identities
``GET /api/v1/identities/ID/sightings``     search      sightings, camera visits and trajectory
``GET /api/v1/sightings?camera=&since=``    search      who a camera saw in a time range
``POST /api/v1/search?reason=`` (a clip)    search      who in this recording was seen before
``GET /api/v1/audit?subject=&limit=``       audit       the audit log, newest first
==========================================  ==========  ===========================================
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import signal
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from prometheus_client import CollectorRegistry

from api.auth import Principal, TokenBook
from api.exceptions import ProbeError
from api.metrics import ApiMetrics
from api.probe import GallerySource, ProbeSettings, search_clip
from store.db import SightingRow, Store

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
_STATIC_TYPES = {"index.html": "text/html; charset=utf-8", "app.js": "text/javascript; charset=utf-8",
                 "app.css": "text/css; charset=utf-8"}
_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
MAX_ROWS = 5000  # one answer; a wider camera search must narrow its time range
_DRAIN_MAX = 64 * 2**20  # past this much over the limit a body is not read: the connection is closed


class ApiError(Exception):
    """Answered as ``{"error": message}`` with ``status``."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


def _reason(q: dict[str, str]) -> str:
    reason = q.get("reason", "").strip()
    if len(reason) < 3:
        raise ApiError(HTTPStatus.BAD_REQUEST, "reason is required (at least 3 characters): it is written "
                                               "to the audit log with your name")
    return reason[:500]


def _float(q: dict[str, str], key: str, default: float) -> float:
    if key not in q:
        return default
    try:
        v = float(q[key])
    except ValueError:
        raise ApiError(HTTPStatus.BAD_REQUEST, f"{key} must be a number (epoch seconds), got {q[key]!r}") from None
    if not math.isfinite(v):
        raise ApiError(HTTPStatus.BAD_REQUEST, f"{key} must be finite")
    return v


def sighting_json(r: SightingRow) -> dict[str, Any]:
    return {"camera": r.camera_id, "track": r.track_id, "identity": r.identity_id, "t_start": r.t_start,
            "t_end": r.t_end, "x": r.x, "y": r.y, "ground_plane": r.ground_plane, "score": round(r.score, 4),
            "enrolled": r.enrolled, "cadence_spm": r.cadence_spm, "speed_mps": r.speed_mps,
            "step_length_m": r.step_length_m, "stride_length_m": r.stride_length_m}


def visits(rows: list[SightingRow]) -> list[dict[str, Any]]:
    """Consecutive sightings on one camera folded into a visit (rows are in time order)."""
    out: list[dict[str, Any]] = []
    for r in rows:
        if out and out[-1]["camera"] == r.camera_id:
            v = out[-1]
            v["t_end"] = max(v["t_end"], r.t_end)
            v["sightings"] += 1
        else:
            out.append({"camera": r.camera_id, "t_start": r.t_start, "t_end": r.t_end, "sightings": 1})
    return out


def path_length_m(rows: list[SightingRow]) -> float | None:
    """Ground distance along the sightings (metres), when they are on the ground plane."""
    pts = [(r.x, r.y) for r in rows if r.ground_plane]
    if len(pts) < 2:
        return None
    return round(sum(math.dist(a, b) for a, b in zip(pts, pts[1:], strict=False)), 1)


class Api:
    """The routes, independent of the HTTP plumbing (the handler below calls :meth:`handle`)."""

    def __init__(self, store: Store, tokens: TokenBook, metrics: ApiMetrics, gallery: GallerySource | None = None,
                 probe: ProbeSettings | None = None) -> None:
        self.store = store
        self.tokens = tokens
        self.metrics = metrics
        self.gallery = gallery
        self.probe = probe or ProbeSettings()

    def handle(self, method: str, target: str, auth_header: str | None,
               body: bytes = b"") -> tuple[HTTPStatus, str, bytes, str]:
        """Answer one request: (status, content type, body, route template for metrics)."""
        url = urlsplit(target)
        q = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        path = url.path.rstrip("/") or "/"
        route = "unknown"
        try:
            if method not in ("GET", "POST") or (method == "POST" and path != "/api/v1/search"):
                raise ApiError(HTTPStatus.METHOD_NOT_ALLOWED, f"{method} {path} is not supported: the API "
                                                              "only reads (POST is for /api/v1/search)")
            if path == "/healthz":
                return HTTPStatus.OK, "application/json", b'{"status": "ok"}', "/healthz"
            if path == "/readyz":
                route = "/readyz"
                self.store.count()
                return HTTPStatus.OK, "application/json", b'{"status": "ready"}', route
            if path in ("/", "/index.html", "/app.js", "/app.css"):
                name = "index.html" if path in ("/", "/index.html") else path[1:]
                return HTTPStatus.OK, _STATIC_TYPES[name], (STATIC / name).read_bytes(), "/static"
            if not path.startswith("/api/v1/"):
                raise ApiError(HTTPStatus.NOT_FOUND, f"no such page {path!r}")
            route, fn, permission = self._route(method, path, body)
            who = self._authenticate(auth_header)
            if permission and not who.may(permission):
                self.metrics.denied.labels("role").inc()
                raise ApiError(HTTPStatus.FORBIDDEN, f"role {who.role!r} may not {permission}")
            return HTTPStatus.OK, "application/json", json.dumps(fn(who, q)).encode(), route
        except ApiError as exc:
            return exc.status, "application/json", json.dumps({"error": str(exc)}).encode(), route

    def refuse_before_body(self, method: str, target: str,
                           auth_header: str | None) -> tuple[HTTPStatus, str, bytes, str] | None:
        """The answer to a request that carries a body, given before the body is read: None when the body
        should be read (a clip search by an authenticated caller), else the full answer (401 for a
        missing or unknown token, or the route's own answer, which never reads a body)."""
        path = urlsplit(target).path.rstrip("/") or "/"
        if method != "POST" or path != "/api/v1/search":
            return self.handle(method, target, auth_header)
        try:
            self._authenticate(auth_header)
        except ApiError as exc:
            return exc.status, "application/json", json.dumps({"error": str(exc)}).encode(), "/api/v1/search"
        return None

    def _route(self, method: str, path: str,
               body: bytes) -> tuple[str, Callable[[Principal, dict[str, str]], Any], str | None]:
        parts = path.removeprefix("/api/v1/").split("/")
        if method == "POST":  # handle() lets POST through for the clip search only
            return "/api/v1/search", lambda who, q: self.search(who, q, body), "search"
        if parts == ["me"]:
            return "/api/v1/me", lambda who, q: {"user": who.user, "role": who.role}, None
        if parts == ["identities"]:
            return "/api/v1/identities", self.identities, "search"
        if len(parts) == 3 and parts[0] == "identities" and parts[2] == "sightings":
            ident = parts[1]
            if not _ID.match(ident):
                raise ApiError(HTTPStatus.BAD_REQUEST, "identity ids are 1-64 letters, digits and . _ : -")
            return "/api/v1/identities/{id}/sightings", lambda who, q: self.where(who, ident, q), "search"
        if parts == ["sightings"]:
            return "/api/v1/sightings", self.by_camera, "search"
        if parts == ["audit"]:
            return "/api/v1/audit", self.audit, "audit"
        raise ApiError(HTTPStatus.NOT_FOUND, f"no such endpoint {path!r}")

    def _authenticate(self, header: str | None) -> Principal:
        if not header or not header.startswith("Bearer "):
            self.metrics.denied.labels("no_token").inc()
            raise ApiError(HTTPStatus.UNAUTHORIZED, "send 'Authorization: Bearer <token>' (ask an admin for one)")
        who = self.tokens.authenticate(header.removeprefix("Bearer ").strip())
        if who is None:
            self.metrics.denied.labels("unknown_token").inc()
            raise ApiError(HTTPStatus.UNAUTHORIZED, "unknown or revoked token")
        return who

    # --- routes -------------------------------------------------------------------------------

    def identities(self, who: Principal, q: dict[str, str]) -> dict[str, Any]:
        reason = _reason(q)
        limit = int(_float(q, "limit", 500))
        if not 1 <= limit <= MAX_ROWS:
            raise ApiError(HTTPStatus.BAD_REQUEST, f"limit must be 1..{MAX_ROWS}")
        rows = self.store.identities(limit=limit, recent_first=True)
        self.store.audit(who.user, "api.identities", reason, detail={"identities": len(rows)})
        return {"identities": [{"identity": r.identity_id, "sightings": r.sightings, "cameras": r.cameras,
                                "first_seen": r.first_seen, "last_seen": r.last_seen} for r in rows]}

    def where(self, who: Principal, identity: str, q: dict[str, str]) -> dict[str, Any]:
        reason = _reason(q)
        rows = list(self.store.where(identity))
        self.store.audit(who.user, "api.where", reason, subject=identity, detail={"sightings": len(rows)})
        if not rows:
            raise ApiError(HTTPStatus.NOT_FOUND, f"no sightings of identity {identity!r}")
        return {"identity": identity, "sightings": [sighting_json(r) for r in rows[:MAX_ROWS]],
                "truncated": len(rows) > MAX_ROWS, "visits": visits(rows),
                "cameras": sorted({r.camera_id for r in rows}), "first_seen": rows[0].t_start,
                "last_seen": max(r.t_end for r in rows), "path_m": path_length_m(rows)}

    def by_camera(self, who: Principal, q: dict[str, str]) -> dict[str, Any]:
        reason = _reason(q)
        camera = q.get("camera", "")
        if not _ID.match(camera):
            raise ApiError(HTTPStatus.BAD_REQUEST, "camera is required: a camera id from the network config")
        since, until = _float(q, "since", 0.0), _float(q, "until", math.inf)
        if until < since:
            raise ApiError(HTTPStatus.BAD_REQUEST, "until is before since")
        rows = list(self.store.seen_by(camera, since, until, limit=MAX_ROWS + 1))
        self.store.audit(who.user, "api.camera", reason, subject=f"camera:{camera}",
                         detail={"since": since, "until": None if math.isinf(until) else until,
                                 "sightings": len(rows)})
        return {"camera": camera, "sightings": [sighting_json(r) for r in rows[:MAX_ROWS]],
                "truncated": len(rows) > MAX_ROWS, "identities": sorted({r.identity_id for r in rows})}

    def search(self, who: Principal, q: dict[str, str], clip: bytes) -> dict[str, Any]:
        reason = _reason(q)
        if self.gallery is None:
            raise ApiError(HTTPStatus.SERVICE_UNAVAILABLE, "search by clip needs the gallery: start the API with "
                                                           "--kafka (it follows gallery.v1)")
        digest = hashlib.sha256(clip).hexdigest()[:16]
        try:
            res = search_clip(clip, self.gallery, self.probe)
        except ProbeError as exc:
            self.store.audit(who.user, "api.probe", reason, subject=f"clip:{digest}", detail={"error": str(exc)})
            raise ApiError(HTTPStatus(exc.status), str(exc)) from exc
        matched = sorted({t["match"] for t in res["tracks"] if t["match"]})
        self.store.audit(who.user, "api.probe", reason, subject=f"clip:{digest}",
                         detail={"tracks": len(res["tracks"]), "matches": matched})
        for ident in matched:  # "who searched for whom" finds the people a clip was matched to
            self.store.audit(who.user, "api.probe.match", reason, subject=ident, detail={"clip": digest})
        for t in res["tracks"]:
            if t["match"]:
                rows = list(self.store.where(t["match"]))
                t["seen"] = {"visits": visits(rows)[-10:], "cameras": sorted({r.camera_id for r in rows}),
                             "last_seen": max((r.t_end for r in rows), default=None)}
        return {"clip": digest, **res}

    def audit(self, who: Principal, q: dict[str, str]) -> dict[str, Any]:
        limit = int(_float(q, "limit", 200))
        if not 1 <= limit <= MAX_ROWS:
            raise ApiError(HTTPStatus.BAD_REQUEST, f"limit must be 1..{MAX_ROWS}")
        rows = self.store.audit_log(subject=q.get("subject") or None, limit=limit)
        return {"entries": [{"at": r.at, "actor": r.actor, "action": r.action, "subject": r.subject,
                             "reason": r.reason, "detail": json.loads(r.detail or "{}")} for r in rows]}


class _BoundedServer(ThreadingHTTPServer):
    """A threading HTTP server with at most ``max_threads`` connections served at once: the next one
    waits in the listen backlog (idle connections free their thread after the handler's socket timeout)."""

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], max_threads: int) -> None:
        self._slots = threading.BoundedSemaphore(max_threads)
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        self._slots.acquire()
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


def make_server(api: Api, host: str, port: int, timeout_s: float = 10.0, max_threads: int = 32) -> ThreadingHTTPServer:
    """An HTTP server for ``api`` (port 0 = any free port: see ``server.server_address``).

    Args:
        api: the routes.
        host, port: where to listen.
        timeout_s: a connection that sends nothing for this long is closed (slow or idle clients).
        max_threads: most connections served at once.
    """

    class Handler(BaseHTTPRequestHandler):
        server_version = "gaitline-api"
        timeout = timeout_s  # socketserver sets it on the connection: a silent client cannot hold a thread

        def _answer(self) -> None:
            t0 = time.perf_counter()
            try:
                status, ctype, body, route = self._dispatch()
            except Exception:  # a bug or a dead store: log it, tell the caller without a traceback
                log.exception("request %s %s failed", self.command, urlsplit(self.path).path)
                status, ctype, route = HTTPStatus.SERVICE_UNAVAILABLE, "application/json", "error"
                body = b'{"error": "the store is unavailable or the server failed; the failure is logged"}'
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")  # answers name people: never cache them
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'")
            self.end_headers()
            self.wfile.write(body)
            api.metrics.requests.labels(route, str(int(status))).inc()
            api.metrics.request_seconds.labels(route).observe(time.perf_counter() - t0)

        def _dispatch(self) -> tuple[HTTPStatus, str, bytes, str]:
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            if length != 0:  # a body is read (or drained) only for a caller whose token is good
                early = api.refuse_before_body(self.command, self.path, self.headers.get("Authorization"))
                if early is not None:
                    self.close_connection = True  # the unread body must not be taken for the next request
                    return early
            if not 0 <= length <= api.probe.max_bytes:
                if 0 < length <= api.probe.max_bytes + _DRAIN_MAX:
                    while length > 0:  # read what was sent so the client hears the 413 instead of a reset
                        chunk = self.rfile.read(min(length, 2**20))
                        if not chunk:
                            break
                        length -= len(chunk)
                self.close_connection = True
                msg = f"the body must be at most {api.probe.max_bytes // 2**20} MB with a Content-Length"
                return (HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "application/json",
                        json.dumps({"error": msg}).encode(), "/api/v1/search")
            body = self.rfile.read(length) if length else b""
            return api.handle(self.command, self.path, self.headers.get("Authorization"), body)

        do_GET = _answer  # noqa: N815 -- http.server's naming
        do_POST = do_PUT = do_DELETE = do_PATCH = _answer  # noqa: N815 -- answered 405

        def log_message(self, fmt: str, *args: Any) -> None:
            # the access log names routes, not query strings: those hold ids and reasons
            log.info("%s %s %s", self.address_string(), self.command, urlsplit(self.path).path.split("/identities/")[0])

    server = _BoundedServer((host, port), Handler, max_threads)
    server.daemon_threads = False  # server_close waits for answers in flight (SIGTERM drains)
    return server


def run(store_url: str, tokens_path: Path, host: str, port: int, metrics_port: int = 0,
        registry: CollectorRegistry | None = None, ready: Callable[[str], None] | None = None,
        gallery: GallerySource | None = None, probe: ProbeSettings | None = None) -> None:
    """Serve until SIGTERM/SIGINT, then finish the requests in flight and stop.

    ``ready`` is called with the page's URL once the socket listens.
    """
    from gaitline.metrics import serve

    registry = registry or CollectorRegistry()
    tokens = TokenBook.load(tokens_path)  # first: a bad token file must not open (or create) a store
    api = Api(Store(store_url), tokens, ApiMetrics(registry), gallery=gallery, probe=probe)
    serve(registry, metrics_port)
    server = make_server(api, host, port)
    stop = threading.Event()

    def _stop(*_: object) -> None:
        if not stop.is_set():
            stop.set()
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    h, p = server.server_address[:2]
    if ready is not None:
        ready(f"http://{h!s}:{p}/")
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        api.store.close()
