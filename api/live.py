"""The live feed: one poller per API process, fanning new sightings out to the open streams.

Every ``live_poll_s`` the poller asks the store what was written since it last looked
(``Store.stored_since``, an indexed read), then

* gives each open stream (``GET /api/v1/live``) the sightings of the identity or cameras it
  follows, with their evidence,
* for each sighting of a watched identity sends a ``watchlist`` alert to every open stream and
  records the hit (``Store.record_watch_hit``): the one replica whose insert wins counts it in
  ``gaitline_api_watchlist_hits_total`` and POSTs it to the webhook, so several replicas over
  one store alert other systems once.

The poller re-reads the last second of writes (deduplicated by sighting id): two track workers
committing out of step must not hide a sighting behind the other's later timestamp. A stream
whose client reads too slowly to keep up is closed (the page reconnects) rather than holding
memory for it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import logging
import time
import urllib.request
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio.to_thread

from api.views import data_url, sighting_json

if TYPE_CHECKING:
    from api.state import Api

log = logging.getLogger(__name__)

OVERLAP_S = 1.0  # writes re-read: longer than a store transaction takes
PAGE = 1000
QUEUE = 1000  # events a slow stream may have pending before it is closed


@dataclass(eq=False)
class Stream:
    """One open live feed: what it follows and the events waiting for it (None = end)."""

    identity: str | None
    cameras: frozenset[str]
    queue: asyncio.Queue[str | None] = field(default_factory=lambda: asyncio.Queue(QUEUE))

    def wants(self, identity: str, camera: str) -> bool:
        return identity == self.identity or camera in self.cameras


def sse(kind: str, data: dict[str, Any]) -> str:
    """One Server-Sent Event."""
    return f"event: {kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


class LiveHub:
    """The poller and the open streams of one API process (started and stopped with the server)."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.streams: set[Stream] = set()
        self.cursor = self._start = time.time()  # only what is written from now on
        self._seen: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None
        self._webhook = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="gaitline-webhook")
        self._failing = False

    # --- lifecycle (in the server's event loop) ---------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="gaitline-live-poller")

    def close_streams(self) -> None:
        """End every open stream (the server is stopping: their clients reconnect elsewhere)."""
        for s in list(self.streams):
            _offer(s, None)

    async def stop(self) -> None:
        self.close_streams()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._webhook.shutdown(wait=False, cancel_futures=True)

    def open(self, identity: str | None, cameras: frozenset[str]) -> Stream:
        s = Stream(identity, cameras)
        self.streams.add(s)
        return s

    def close(self, stream: Stream) -> None:
        self.streams.discard(stream)

    async def _run(self) -> None:
        while True:
            try:
                events = await anyio.to_thread.run_sync(self.poll_once)
                if self._failing:
                    log.info("live feed: the store answers again")
                    self._failing = False
            except Exception as exc:  # the store is away: say it once, keep trying
                if not self._failing:
                    log.warning("live feed: cannot read new sightings (%s: %s); retrying", type(exc).__name__, exc)
                    self._failing = True
                events = []
            for kind, payload, identity, camera in events:
                for s in list(self.streams):
                    if (kind == "watchlist" or s.wants(identity, camera)) and not _offer(s, payload):
                        self.streams.discard(s)
            await asyncio.sleep(self.api.settings.live_poll_s)

    # --- one poll (in a worker thread: the store is synchronous) ----------------------------------

    def poll_once(self) -> list[tuple[str, str, str, str]]:
        """Read what was stored since the last poll: ``(kind, event text, identity, camera)`` in write order."""
        store = self.api.store
        rows, after = [], max(self._start, self.cursor - OVERLAP_S)
        while True:
            page = store.stored_since(after, limit=PAGE)
            rows += [r for r in page if r.sighting_id not in self._seen]
            if len(page) < PAGE:
                break
            after = page[-1].stored_at or after  # a full page: go on from its end, not from the overlap again
        for r in rows:
            self._seen[r.sighting_id] = r.stored_at or 0.0
            self.cursor = max(self.cursor, r.stored_at or 0.0)
        horizon = self.cursor - OVERLAP_S
        self._seen = {k: v for k, v in self._seen.items() if v >= horizon}
        if not rows:
            return []
        evidence = store.evidence([r.sighting_id for r in rows])
        watched = store.watched(list({r.identity_id for r in rows}))
        out: list[tuple[str, str, str, str]] = []
        for r in rows:
            ev = evidence.get(r.sighting_id)
            out.append(("sighting", sse("sighting", sighting_json(r, ev)), r.identity_id, r.camera_id))
            w = watched.get(r.identity_id)
            if w is None:
                continue
            alert = {"sighting_id": r.sighting_id, "identity_id": r.identity_id, "camera_id": r.camera_id,
                     "t": r.t_start, "watch_reason": w.reason, "watched_by": w.actor,
                     "evidence": data_url("image/png", ev.gei_png) if ev is not None else None}
            out.append(("watchlist", sse("watchlist", alert), r.identity_id, r.camera_id))
            if store.record_watch_hit(r.sighting_id, r.identity_id, r.camera_id, r.t_start):
                self.api.metrics.watchlist_hits.inc()
                if self.api.settings.webhook_url:
                    self._webhook.submit(self._post, self.api.settings.webhook_url, alert)
        return out

    def _post(self, url: str, alert: dict[str, Any]) -> None:
        body = json.dumps({"event": "gaitline.watchlist_hit", **alert}).encode()
        req = urllib.request.Request(url, data=body, method="POST",  # noqa: S310 - http(s) only (ApiSettings)
                                     headers={"Content-Type": "application/json", "User-Agent": "gaitline-api"})
        try:
            with urllib.request.urlopen(req, timeout=self.api.settings.webhook_timeout_s) as res:  # noqa: S310
                res.read(1024)
        except (OSError, ValueError) as exc:
            self.api.metrics.webhook_failures.inc()
            log.warning("watchlist webhook failed for sighting %s: %s", alert["sighting_id"], exc)


def _offer(stream: Stream, item: str | None) -> bool:
    """Queue ``item`` for ``stream``; False (and the stream is told to end) when it is full."""
    try:
        stream.queue.put_nowait(item)
        return True
    except asyncio.QueueFull:
        while not stream.queue.empty():
            stream.queue.get_nowait()
        stream.queue.put_nowait(None)
        return False
