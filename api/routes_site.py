"""The site: cameras with their place and field of view, the links between them, the floor plan.

Nothing here is about a person, so nothing is audited; it still needs the search role (a camera
layout is not for everyone). The layout comes from the network config (``GAITLINE_API_NETWORK``,
:func:`configs.site.site_view`); ``seen`` says which cameras have sightings in the store, and a
camera the store knows but the config does not is listed without a place.
"""

from __future__ import annotations

import mimetypes
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from api.deps import ApiDep, Searcher
from api.exceptions import ApiError
from api.models import CamerasOut

router = APIRouter(prefix="/api/v1")

_NO_PLACE = {"position": None, "heading_deg": None, "fov_deg": None, "range_m": None, "lat": None, "lon": None}


@router.get("/cameras", response_model=CamerasOut)
def cameras(who: Searcher, api: ApiDep) -> dict[str, Any]:
    """The site, its cameras (place, heading, field of view, range; ``seen``: any sightings stored) and links."""
    seen = set(api.store.cameras_seen())
    if api.network is not None:
        from configs.site import site_view

        view = site_view(api.network, seen)
    else:
        view = {"site": {"name": "", "map_image": None, "bounds": None}, "cameras": [], "links": []}
    known = {cam["id"] for cam in view["cameras"]}
    view["cameras"] += [{"id": c, "region": "", **_NO_PLACE, "seen": True} for c in sorted(seen - known)]
    return view


@router.get("/site/map", response_class=Response,
            responses={200: {"content": {"image/png": {}, "image/jpeg": {}, "image/svg+xml": {}},
                             "description": "the floor plan or map image the site's bounds place"}})
def site_map(who: Searcher, api: ApiDep) -> Response:
    """The site's floor-plan image (404 when the network config names none)."""
    path = None
    if api.network is not None:
        from configs.site import site_map_path

        path = site_map_path(api.network)
    if path is None or not path.is_file():
        raise ApiError(404, "this site has no map image (set site.map_image in the network config)")
    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return Response(path.read_bytes(), media_type=kind)
