"""``POST /api/v1/search``: who in this clip has been seen before, and where (:mod:`api.probe`).

The body is the video file itself. Its size is checked before a byte is read (``Content-Length``
over the limit: 413) and again while it streams in (a chunked body that passes the limit: 413);
a content type that is not a video (``video/*``, or ``application/octet-stream`` as a browser
sends an unknown file) is 415. Only a caller with a good token and the search role gets that far.
"""

from __future__ import annotations

import hashlib
from typing import Any

import anyio
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from api.auth import Principal
from api.deps import ApiDep, Reason, Searcher, clean_reason
from api.exceptions import ApiError, ProbeError
from api.models import ErrorOut, SearchOut
from api.probe import search_clip
from api.state import Api
from api.views import data_url, visits

router = APIRouter(prefix="/api/v1")

VIDEO_TYPES = ("video/", "application/octet-stream")


_CLIP = {"schema": {"type": "string", "format": "binary", "minLength": 1}}


@router.post("/search", response_model=SearchOut,
             openapi_extra={"requestBody": {"required": True, "description": "the video file", "content": {
                 "video/x-msvideo": _CLIP, "video/mp4": _CLIP, "application/octet-stream": _CLIP}}},
             responses={409: {"model": ErrorOut, "description": "the gallery's model is not this server's"},
                        413: {"model": ErrorOut, "description": "the clip is larger than the limit"},
                        415: {"model": ErrorOut, "description": "the body is not a video"},
                        503: {"model": ErrorOut, "description": "no gallery to search"}})
async def search(request: Request, who: Searcher, api: ApiDep, reason: Reason) -> dict[str, Any]:
    """Match the walkers of a clip against the gallery; each match is audited as a search for that person."""
    limit = api.probe.max_bytes
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise ApiError(413, f"the clip is {int(length) / 2**20:.1f} MB; the limit is {limit / 2**20:.0f} MB")
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind and not kind.startswith(VIDEO_TYPES):
        raise ApiError(415, f"the body must be a video file (Content-Type video/... or application/octet-stream), "
                            f"not {kind[:60]}")
    if api.gallery is None:
        raise ApiError(503, "search by clip needs the gallery: start the API with --kafka (it follows gallery.v1)")
    clip = await _read(request, limit, api.settings.timeout_s)
    return await run_in_threadpool(_search, api, who, clean_reason(reason), clip)


async def _read(request: Request, limit: int, idle_s: float) -> bytes:
    """The body, at most ``limit`` bytes, each chunk within ``idle_s`` of the last (408 for a stalled upload)."""
    buf = bytearray()
    chunks = request.stream().__aiter__()
    while True:
        try:
            with anyio.fail_after(idle_s):
                chunk = await chunks.__anext__()
        except StopAsyncIteration:
            return bytes(buf)
        except TimeoutError:
            raise ApiError(408, f"the upload stalled for {idle_s:.0f} s") from None
        except ClientDisconnect:
            raise ApiError(400, "the upload was cut off") from None
        buf += chunk
        if len(buf) > limit:
            raise ApiError(413, f"the clip is over {limit / 2**20:.0f} MB, the limit")


def _search(api: Api, who: Principal, reason: str, clip: bytes) -> dict[str, Any]:
    store = api.store
    digest = hashlib.sha256(clip).hexdigest()[:16]
    try:
        res = search_clip(clip, api.gallery, api.probe)  # type: ignore[arg-type]
    except ProbeError as exc:
        store.audit(who.user, "api.probe", reason, subject=f"clip:{digest}", detail={"error": str(exc)})
        raise ApiError(exc.status, str(exc)) from exc
    matched = sorted({t["match"] for t in res["tracks"] if t["match"]})
    store.audit(who.user, "api.probe", reason, subject=f"clip:{digest}",
                detail={"tracks": len(res["tracks"]), "matches": matched})
    for ident in matched:  # "who searched for whom" finds the people a clip was matched to
        store.audit(who.user, "api.probe.match", reason, subject=ident, detail={"clip": digest})
    for t in res["tracks"]:
        if t["match"]:
            rows = list(store.where(t["match"]))
            latest = max(rows, key=lambda r: r.t_end, default=None)
            ev = store.evidence([latest.sighting_id]).get(latest.sighting_id) if latest is not None else None
            t["seen"] = {"visits": visits(rows)[-10:], "cameras": sorted({r.camera_id for r in rows}),
                         "last_seen": latest.t_end if latest is not None else None,
                         "evidence": data_url("image/png", ev.gei_png) if ev is not None else None}
    return {"clip": digest, **res}
