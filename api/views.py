"""How the store's rows become the API's JSON: sightings with their evidence, visits, path length."""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from typing import Any

from store.db import SightingRow


def data_url(mime: str, data: bytes | None) -> str | None:
    """``data:<mime>;base64,...`` for ``data`` (the page shows it as an image with no second request)."""
    return None if data is None else f"data:{mime};base64,{base64.b64encode(data).decode()}"


def sighting_json(r: SightingRow, evidence: Any = None) -> dict[str, Any]:
    """One sighting; ``evidence`` is the store's :class:`store.evidence.Evidence` for it, or None."""
    return {"sighting_id": r.sighting_id, "camera": r.camera_id, "track": r.track_id, "identity": r.identity_id,
            "t_start": r.t_start, "t_end": r.t_end, "x": r.x, "y": r.y, "ground_plane": r.ground_plane,
            "score": round(r.score, 4), "enrolled": r.enrolled, "cadence_spm": r.cadence_spm,
            "speed_mps": r.speed_mps, "step_length_m": r.step_length_m, "stride_length_m": r.stride_length_m,
            "evidence": data_url("image/png", evidence.gei_png) if evidence is not None else None,
            "keyframe": data_url("image/jpeg", evidence.keyframe_jpeg) if evidence is not None else None}


def sightings_json(store: Any, rows: Sequence[SightingRow]) -> list[dict[str, Any]]:
    """Sightings with their evidence, read in one query per few hundred rows."""
    ev = store.evidence([r.sighting_id for r in rows]) if rows else {}
    return [sighting_json(r, ev.get(r.sighting_id)) for r in rows]


def visits(rows: Sequence[SightingRow]) -> list[dict[str, Any]]:
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


def path_length_m(rows: Sequence[SightingRow]) -> float | None:
    """Ground distance along the sightings (metres), when they are on the ground plane."""
    pts = [(r.x, r.y) for r in rows if r.ground_plane]
    if len(pts) < 2:
        return None
    return round(sum(math.dist(a, b) for a, b in zip(pts, pts[1:], strict=False)), 1)


def watch_json(w: Any) -> dict[str, Any] | None:
    """A watchlist entry (the store's ``WatchRow``) or None."""
    return None if w is None else {"identity_id": w.identity_id, "actor": w.actor, "reason": w.reason,
                                   "created_at": w.created_at}
