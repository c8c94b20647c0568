"""The control-room API as a FastAPI application: routes, guards, errors, the page.

Around every request sits :class:`Guard` (plain ASGI, outside FastAPI's routing):

* a body over the route's limit is refused with 413 *before it is read*: by its
  ``Content-Length`` at once, or, for a chunked body, as soon as the bytes received pass the
  limit; the clip search (``POST /api/v1/search``) checks its own, larger limit after the token;
* a response sent while the request's body is still unread closes the connection (the rest of
  the body must not be taken for the next request);
* the security headers (no caching of answers that name people, no sniffing, a CSP that
  allows only this origin and the evidence images' ``data:`` URLs);
* the metrics, labelled by route *template* (``/api/v1/identities/{id}/sightings``, never an id);
* any failure the routes did not expect is logged and answered as a 503 ``{"error": ...}``:
  no traceback reaches a client.
"""

from __future__ import annotations

import json
import logging
import mimetypes
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.exceptions import ApiError
from api.models import ErrorOut, StatusOut
from api.state import Api

log = logging.getLogger(__name__)
access = logging.getLogger("api.access")

STATIC = Path(__file__).resolve().parent / "static"
SMALL_BODY = 64 * 1024  # every body but a clip is a small JSON object
SEARCH = "/api/v1/search"
CSP = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'"
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut, "description": text} for code, text in (
        (400, "a parameter is missing or wrong (a reason is always required)"),
        (401, "no token, or an unknown, expired, revoked or forged one"),
        (403, "the token's role may not do this"),
        (404, "no such identity, sighting or page"))}
_ERROR_BODY = b'{"error": "the store is unavailable or the server failed; the failure is logged"}'


def _json(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _short(v: Any) -> str:
    s = repr(v)
    return s if len(s) <= 60 else s[:57] + "..."


def validation_message(exc: RequestValidationError) -> str:
    """One line about the first thing wrong with a request's parameters or body."""
    errors = exc.errors()
    if not errors:
        return "the request is malformed"
    e = errors[0]
    loc = [str(x) for x in e.get("loc", ()) if x not in ("query", "path", "body", "header")]
    name = ".".join(loc) or "the body"
    kind = e.get("type", "")
    if name == "reason" or name.endswith(".reason"):
        return "reason is required (at least 3 characters): it is written to the audit log with your name"
    if kind == "json_invalid" or (kind == "missing" and not loc):
        return "the body must be a JSON object"
    if name in ("id", "identity_id") and kind == "string_pattern_mismatch":
        return "identity ids are 1-64 letters, digits and . _ : -"
    if kind in ("float_parsing", "float_type", "finite_number"):
        return f"{name} must be a number (epoch seconds), got {_short(e.get('input'))}"
    if kind in ("int_parsing", "int_type"):
        return f"{name} must be a whole number, got {_short(e.get('input'))}"
    if kind == "missing":
        return f"{name} is required"
    return f"{name}: {e.get('msg', 'invalid')}"


class Guard:
    """Body limits, security headers, metrics and the last word on failures (see the module's doc)."""

    def __init__(self, app: ASGIApp, api: Api) -> None:
        self.app = app
        self.api = api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        headers = Headers(scope=scope)
        path = scope["path"]
        length_text = headers.get("content-length")
        chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        st: dict[str, Any] = {"status": 0, "started": False, "read": 0, "refused": False, "recorded": False,
                              "body_done": not chunked and length_text in (None, "", "0")}
        limit = None if path == SEARCH else SMALL_BODY  # the clip search applies its own, after the token

        def record() -> None:
            if st["recorded"]:
                return
            st["recorded"] = True
            route = _route_of(scope)
            client = scope.get("client") or ("-", 0)
            # the access log names the route template, never the path or query: those hold ids and reasons
            access.info("%s %s %s %s", client[0], scope.get("method"), route, st["status"] or 500)
            self.api.metrics.requests.labels(route, str(st["status"] or 500)).inc()
            if route != "/api/v1/live":  # a live feed lasts as long as it is watched: not an answer time
                self.api.metrics.request_seconds.labels(route).observe(time.perf_counter() - t0)

        async def emit(message: Message) -> None:
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                record()  # before the last byte leaves: whoever read the answer finds it counted
            if message["type"] == "http.response.start":
                st["started"], st["status"] = True, int(message["status"])
                h = MutableHeaders(scope=message)
                h.setdefault("cache-control", "no-store")  # answers name people: never cache them
                h["x-content-type-options"] = "nosniff"
                h["content-security-policy"] = CSP
                h["referrer-policy"] = "no-referrer"
                if not st["body_done"]:
                    h["connection"] = "close"
            await send(message)

        async def guarded_send(message: Message) -> None:
            if not st["refused"]:  # after our own 413 the route's answer is dropped
                await emit(message)

        async def refuse(message: str) -> None:
            if st["started"] or st["refused"]:
                return
            st["refused"] = True
            for m in _answer(413, message):
                await emit(m)

        async def guarded_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                st["read"] += len(message.get("body", b""))
                if not message.get("more_body", False):
                    st["body_done"] = True
                if limit is not None and st["read"] > limit and not st["refused"]:
                    await refuse(f"the body must be at most {limit // 1024} KB")
                    return {"type": "http.disconnect"}
            return message

        try:
            if length_text is not None and not length_text.isdigit():
                for m in _answer(400, "Content-Length must be a number"):
                    await emit(m)
            elif limit is not None and length_text is not None and int(length_text) > limit:
                await refuse(f"the body must be at most {limit // 1024} KB")
            else:
                await self.app(scope, guarded_receive, guarded_send)
        except Exception:  # a bug or a dead store: log it, tell the caller without a traceback
            log.exception("request %s %s failed", scope.get("method"), _route_of(scope))
            if not st["started"]:
                st["status"] = 503
                for m in _answer(503, None):
                    await emit(m)
        record()  # a feed closed by its client, or an answer never finished


def _answer(status: int, message: str | None) -> list[Message]:
    body = _ERROR_BODY if message is None else json.dumps({"error": message}).encode()
    return [{"type": "http.response.start", "status": status,
             "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]},
            {"type": "http.response.body", "body": body, "more_body": False}]


def _route_of(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    if path is None:
        return "unknown"
    if path == "/{name:path}" or path == "/":
        return "/static"
    return str(path)


def create_app(store: Any, tokens: Any, metrics: Any, network: Any = None, gallery: Any = None, probe: Any = None,
               settings: Any = None, oidc: Any = None) -> FastAPI:
    """The application over ``store`` (see :class:`api.state.Api` for the arguments)."""
    return app_for(Api(store, tokens, metrics, gallery=gallery, probe=probe, network=network, settings=settings,
                       oidc=oidc))


def app_for(api: Api) -> FastAPI:
    """The application serving ``api``."""
    from api.routes_live import router as live_router
    from api.routes_people import router as people_router
    from api.routes_search import router as search_router
    from api.routes_site import router as site_router
    from api.routes_watch import router as watch_router

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # sync routes run in worker threads: this many at once, the rest wait (bounded concurrency)
        anyio.to_thread.current_default_thread_limiter().total_tokens = api.settings.max_threads
        api.live.start()
        try:
            yield
        finally:
            await api.live.stop()

    app = FastAPI(title="gaitline control room", version="1", lifespan=lifespan,
                  description="Where was this person seen? Every route about a person needs a reason and is "
                              "audited before it answers.",
                  openapi_url="/api/v1/openapi.json", docs_url=None, redoc_url=None, responses=ERRORS)
    app.state.api = api
    app.add_middleware(Guard, api=api)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _json(exc.status, str(exc), exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _json(400, validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        path = request.url.path
        if exc.status_code == 404:
            return _json(404, f"no such endpoint {path!r}" if path.startswith("/api/") else f"no such page {path!r}")
        if exc.status_code == 405:
            return _json(405, f"{request.method} {path} is not supported", dict(exc.headers or {}))
        return _json(exc.status_code, str(exc.detail), dict(exc.headers or {}))

    @app.get("/healthz", response_model=StatusOut, include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", response_model=StatusOut, include_in_schema=False)
    def readyz() -> dict[str, str]:
        api.store.count()  # raises while the store is away: 503 from the guard
        return {"status": "ready"}

    for r in (people_router, site_router, watch_router, live_router, search_router):
        app.include_router(r)

    @app.get("/", include_in_schema=False)
    def index() -> Response:
        return _static("index.html")

    @app.get("/{name:path}", include_in_schema=False)
    def static(name: str) -> Response:
        if name.startswith("api/"):
            raise ApiError(404, f"no such endpoint {'/' + name!r}")
        return _static(name)

    return app


def _static(name: str) -> Response:
    """A file of the page from ``api/static`` (nothing outside it, no dot-files)."""
    target = (STATIC / name).resolve()
    if (not target.is_relative_to(STATIC) or not target.is_file()
            or any(p.startswith(".") for p in target.relative_to(STATIC).parts)):
        raise ApiError(404, f"no such page {'/' + name!r}")
    kind = "text/javascript" if target.suffix in (".js", ".mjs") else (
        mimetypes.guess_type(target.name)[0] or "application/octet-stream")
    if kind.startswith("text/") or kind in ("application/json", "image/svg+xml"):
        kind += "; charset=utf-8"
    return Response(target.read_bytes(), media_type=kind, headers={"Cache-Control": "no-store"})
