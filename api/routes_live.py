"""``GET /api/v1/live``: new sightings of a person or of cameras, and watchlist alerts, as Server-Sent Events.

The page reads it with ``fetch`` (EventSource cannot send the Authorization header). Events:
``sighting`` (the sighting JSON with its evidence) for the identity or cameras asked for, and
``watchlist`` for every sighting of a watched identity; a ``: keepalive`` comment when there is
nothing to say for ``live_keepalive_s``. Opening the feed is audited once (it is a search that
goes on). The token is checked again before the next event or keepalive once a second has passed
since the last check (not on every event of a busy feed): a token revoked or expired while its
feed is open ends the feed with an ``error`` event (the page then signs out).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from api.deps import CAMERA_PATTERN, DENIED, ID_PATTERN, ApiDep, Reason, Searcher, clean_reason, verify_token
from api.live import Stream

router = APIRouter(prefix="/api/v1")


@router.get("/live", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}},
                             "description": "events `sighting`, `watchlist` and a last `error` (the token "
                                            "no longer holds), `: keepalive` comments"}})
async def live(request: Request, who: Searcher, api: ApiDep, reason: Reason,
               identity: Annotated[str | None, Query(pattern=ID_PATTERN, description="follow this identity")] = None,
               camera: Annotated[str | None, Query(pattern=CAMERA_PATTERN,
                                                   description="follow these cameras (a comma list)")] = None
               ) -> StreamingResponse:
    """Follow an identity and/or cameras live; watchlist alerts come on every feed."""
    cams = frozenset(camera.split(",")) if camera else frozenset()
    subject = identity or (f"camera:{','.join(sorted(cams))}"[:200] if cams else None)
    await run_in_threadpool(api.store.audit, who.user, "api.live", clean_reason(reason), subject,
                            {"identity": identity, "cameras": sorted(cams)})
    stream = api.live.open(identity, cams)
    return StreamingResponse(_events(api, stream, request.state.token), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


TOKEN_RECHECK_S = 1.0  # how stale an open feed's verdict on its token may grow


async def _events(api: ApiDep, stream: Stream, token: str) -> AsyncIterator[str]:
    checked = time.monotonic()  # the request's own dependency has just checked it
    try:
        yield ": connected\n\n"  # the headers and a first byte now: the page knows the feed is open
        while True:
            try:
                item: str | None = await asyncio.wait_for(stream.queue.get(), timeout=api.settings.live_keepalive_s)
            except TimeoutError:
                item = ": keepalive\n\n"
            if item is None:
                return
            if time.monotonic() >= checked + TOKEN_RECHECK_S:
                who, why = await run_in_threadpool(verify_token, api, token)
                checked = time.monotonic()
                if who is None:
                    api.metrics.denied.labels(why).inc()
                    yield f"event: error\ndata: {json.dumps({'error': DENIED.get(why, DENIED['unknown_token'])})}\n\n"
                    return
            yield item
    finally:
        api.live.close(stream)
