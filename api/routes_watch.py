"""The watchlist: identities an operator wants to be told about when they are seen again.

Putting a person on it or taking them off needs a reason and is audited (``watch``, ``unwatch``);
the list itself is readable by operators and by auditors (who check what is watched and why).
Alerts come through the live feed (:mod:`api.live`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response

from api.auth import Principal
from api.deps import ApiDep, IdentityId, Reason, Searcher, clean_reason, require
from api.exceptions import ApiError
from api.models import WatchIn, WatchlistOut, WatchOut
from api.views import watch_json

router = APIRouter(prefix="/api/v1")


@router.get("/watchlist", response_model=WatchlistOut)
def watchlist(who: Annotated[Principal, Depends(require(("search", "audit")))], api: ApiDep) -> dict[str, Any]:
    """Who is watched, by whom and why, newest first."""
    return {"watchlist": [watch_json(w) for w in api.store.watchlist()]}


@router.post("/watchlist", status_code=201, response_model=WatchOut)
def watch(who: Searcher, api: ApiDep, body: WatchIn) -> dict[str, Any]:
    """Put an identity on the watchlist (its next sightings raise alerts)."""
    store = api.store
    reason = clean_reason(body.reason)
    known = bool(store.where(body.identity_id, limit=1))
    store.audit(who.user, "watch", reason, subject=body.identity_id, detail={"known": known})
    if not known:
        raise ApiError(404, f"no sightings of identity {body.identity_id!r}: only a person seen can be watched")
    return watch_json(store.watch(body.identity_id, who.user, reason)) or {}


@router.delete("/watchlist/{id}", status_code=204, response_class=Response)
def unwatch(who: Searcher, api: ApiDep, id: IdentityId, reason: Reason) -> Response:  # noqa: A002
    """Take an identity off the watchlist."""
    store = api.store
    gone = store.unwatch(id)
    store.audit(who.user, "unwatch", clean_reason(reason), subject=id, detail={"was_watched": gone})
    if not gone:
        raise ApiError(404, f"identity {id!r} is not on the watchlist")
    return Response(status_code=204)
