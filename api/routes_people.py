"""Searches about people: who is known, where one was seen, who cameras saw, one sighting, an export,
and the audit log of those searches. Each search is audited before it answers (a search that
finds nothing too), with the caller's name and reason."""

from __future__ import annotations

import csv
import io
import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response

from api.deps import (
    CAMERA_PATTERN,
    ID_PATTERN,
    MAX_ROWS,
    Anyone,
    ApiDep,
    Auditor,
    IdentityId,
    Limit,
    Offset,
    Reason,
    Searcher,
    Since,
    Until,
    clean_reason,
    time_range,
)
from api.exceptions import ApiError
from api.models import AuditOut, CameraSightingsOut, IdentitiesOut, MeOut, SightingOut, WhereOut
from api.views import path_length_m, sighting_json, sightings_json, visits, watch_json

router = APIRouter(prefix="/api/v1")

Prefix = Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_.:-]{1,64}$", description="identity ids starting with this")]
OneCamera = Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_.:-]{1,100}$", description="only identities this "
                                                                                         "camera saw")]
Cameras = Annotated[str | None, Query(pattern=CAMERA_PATTERN, description="a camera id or a comma list (none: "
                                                                          "every camera)")]
EXPORT_FIELDS = ("sighting_id", "identity", "camera", "track", "t_start", "t_end", "x", "y", "ground_plane", "score",
                 "enrolled", "cadence_spm", "speed_mps", "step_length_m", "stride_length_m")


@router.get("/me", response_model=MeOut)
def me(who: Anyone) -> dict[str, Any]:
    """Who the token belongs to and what it may do."""
    return {"user": who.user, "role": who.role, "permissions": who.permissions}


@router.get("/identities", response_model=IdentitiesOut)
def identities(who: Searcher, api: ApiDep, reason: Reason, prefix: Prefix = None, camera: OneCamera = None,
               since: Since = None, until: Until = None, limit: Annotated[int, Query(ge=1, le=MAX_ROWS)] = 50,
               offset: Offset = 0) -> dict[str, Any]:
    """Identities, most recently seen first, by id prefix, camera and time range, a page at a time."""
    since, until = time_range(since, until)
    store = api.store
    rows = store.search_identities(prefix=prefix, camera=camera, since=since, until=until, limit=limit, offset=offset)
    total = store.count_identities(prefix=prefix, camera=camera, since=since, until=until)
    store.audit(who.user, "api.identities", clean_reason(reason),
                detail={"identities": len(rows), "total": total, "prefix": prefix, "camera": camera,
                        "since": since, "until": until, "offset": offset})
    watched = store.watched([r.identity_id for r in rows]) if rows else {}
    return {"identities": [{"identity_id": r.identity_id, "sightings": r.sightings, "first_seen": r.first_seen,
                            "last_seen": r.last_seen, "cameras": list(r.camera_ids),
                            "watched": r.identity_id in watched} for r in rows],
            "total": total, "limit": limit, "offset": offset}


@router.get("/identities/{id}/sightings", response_model=WhereOut)
def where(who: Searcher, api: ApiDep, id: IdentityId, reason: Reason, since: Since = None,  # noqa: A002
          until: Until = None, limit: Limit = MAX_ROWS, offset: Offset = 0) -> dict[str, Any]:
    """Where an identity was seen: its sightings (with evidence), visits per camera, and path."""
    since, until = time_range(since, until)
    store = api.store
    rows = list(store.where(id, since=since, until=until, limit=limit + 1, offset=offset))
    store.audit(who.user, "api.where", clean_reason(reason), subject=id,
                detail={"sightings": min(len(rows), limit), "since": since, "until": until, "offset": offset})
    if not rows:
        raise ApiError(404, f"no sightings of identity {id!r}" + (" in that time range" if since or until else ""))
    page = rows[:limit]
    return {"identity": id, "sightings": sightings_json(store, page), "truncated": len(rows) > limit,
            "limit": limit, "offset": offset, "visits": visits(page),
            "cameras": sorted({r.camera_id for r in page}), "first_seen": page[0].t_start,
            "last_seen": max(r.t_end for r in page), "path_m": path_length_m(page),
            "watched": watch_json(store.watched([id]).get(id))}


@router.get("/sightings", response_model=CameraSightingsOut)
def by_camera(who: Searcher, api: ApiDep, reason: Reason, camera: Cameras = None, since: Since = None,
              until: Until = None) -> dict[str, Any]:
    """Who cameras saw in a time range: one camera, a comma list, or every camera (the cross-camera timeline)."""
    since, until = time_range(since, until)
    store = api.store
    cams = sorted(set(camera.split(","))) if camera else store.cameras_seen()
    lo, hi = (since if since is not None else 0.0), (until if until is not None else float("inf"))
    rows = sorted((r for c in cams for r in store.seen_by(c, lo, hi, limit=MAX_ROWS + 1)),
                  key=lambda r: (r.t_start, r.sighting_id))
    subject = f"camera:{','.join(cams)}"[:200] if camera else "camera:*"
    store.audit(who.user, "api.camera", clean_reason(reason), subject=subject,
                detail={"since": since, "until": until, "sightings": min(len(rows), MAX_ROWS)})
    page = rows[:MAX_ROWS]
    return {"camera": ",".join(cams), "cameras": cams, "sightings": sightings_json(store, page),
            "truncated": len(rows) > MAX_ROWS, "identities": sorted({r.identity_id for r in page})}


@router.get("/sightings/{sid:path}", response_model=SightingOut)
def one_sighting(who: Searcher, api: ApiDep, reason: Reason,
                 sid: Annotated[str, Path(pattern=r"^[A-Za-z0-9_.:/-]{1,200}$",
                                          description="a sighting id")]) -> dict[str, Any]:
    """One sighting with its evidence (a watchlist alert links here)."""
    store = api.store
    row = store.sighting(sid)
    store.audit(who.user, "api.sighting", clean_reason(reason), subject=row.identity_id if row else f"sighting:{sid}",
                detail={"sighting": sid, "found": row is not None})
    if row is None:
        raise ApiError(404, f"no sighting {sid!r}")
    return sighting_json(row, store.evidence([sid]).get(sid))


@router.get("/identities/{id}/export", response_class=Response,
            responses={200: {"content": {"text/csv": {}, "application/json": {}},
                             "description": "the sightings as an attachment"}})
def export(who: Searcher, api: ApiDep, id: IdentityId, reason: Reason,  # noqa: A002
           format: Annotated[Literal["csv", "json"], Query(description="csv or json")] = "csv",  # noqa: A002
           since: Since = None, until: Until = None) -> Response:
    """A person's sightings as a file (audited as an export: the data leaves the control room)."""
    since, until = time_range(since, until)
    store = api.store
    rows = list(store.where(id, since=since, until=until))
    store.audit(who.user, "export", clean_reason(reason), subject=id,
                detail={"format": format, "sightings": len(rows), "since": since, "until": until})
    if not rows:
        raise ApiError(404, f"no sightings of identity {id!r}")
    records = [{k: v for k, v in sighting_json(r).items() if k in EXPORT_FIELDS} for r in rows]
    name = f"gaitline-{id}.{format}"
    if format == "json":
        body = json.dumps({"identity": id, "exported_by": who.user, "reason": clean_reason(reason),
                           "sightings": records}, indent=1).encode()
        kind = "application/json"
    else:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=EXPORT_FIELDS, lineterminator="\n")
        w.writeheader()
        w.writerows(records)
        body, kind = buf.getvalue().encode(), "text/csv; charset=utf-8"
    return Response(body, media_type=kind, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/audit", response_model=AuditOut)
def audit(who: Auditor, api: ApiDep, limit: Annotated[int, Query(ge=1, le=MAX_ROWS)] = 200,
          subject: Annotated[str | None, Query(max_length=200, description="only entries about this")] = None
          ) -> dict[str, Any]:
    """The audit log, newest first."""
    rows = api.store.audit_log(subject=subject or None, limit=limit)
    return {"entries": [{"at": r.at, "actor": r.actor, "action": r.action, "subject": r.subject,
                         "reason": r.reason, "detail": json.loads(r.detail or "{}")} for r in rows]}


__all__ = ["router", "ID_PATTERN"]
