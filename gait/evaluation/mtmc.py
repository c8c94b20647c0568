"""Multi-target multi-camera tracking scores against a simulated city's ground truth.

Predictions are the store's sightings (an identity on a camera during a window). For every
ground-truth frame of every camera, the sightings whose window covers the frame's time are the
hypotheses (one per track: its latest window). A hypothesis matches a true person when

* the sighting carries that person's ``truth_id`` (the frames worker tagged it from the
  ``sim://`` ground truth), or otherwise
* its box (the track's box at the window's last frame) overlaps the person's box at that
  time with IoU >= ``min_iou`` (the usual MOT criterion), or, for sightings without a box,
* its ground point (``ground_plane``), the track's foot point at the window's last frame,
  lies within ``max_dist_m`` of the person's foot point at that time.

People too small (box under ``min_height_px``) or too hidden (``min_visible``) to analyse are
"don't care": nobody is required to find them, and a sighting of one is not a false positive.

Scores come from ``motmetrics``: one accumulator over all cameras with global identities
(multi-camera IDF1/IDP/IDR/MOTA, the DukeMTMC convention) and one per camera.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import motmetrics as mm
import numpy as np

from sim.truth import FrameTruth, camera_ids, read_truth

METRICS = ["idf1", "idp", "idr", "mota", "num_switches", "num_false_positives", "num_misses"]


class SightingLike(Protocol):
    """What the evaluation reads from a stored sighting."""

    camera_id: str
    track_id: int
    identity_id: str
    t_start: float
    t_end: float
    x: float
    y: float
    ground_plane: bool
    truth_id: str | None
    box_x: int | None
    box_y: int | None
    box_w: int | None
    box_h: int | None


@dataclass
class _Ids:
    """Stable integer ids for motmetrics (it wants numbers)."""

    table: dict[str, int]

    def __call__(self, key: str) -> int:
        return self.table.setdefault(key, len(self.table) + 1)


def _hypotheses(rows: list[SightingLike], t: float) -> list[SightingLike]:
    """Sightings covering ``t``, one per track (the latest-starting window)."""
    by_track: dict[int, SightingLike] = {}
    for r in rows:
        if r.t_start <= t <= r.t_end:
            cur = by_track.get(r.track_id)
            if cur is None or r.t_start > cur.t_start:
                by_track[r.track_id] = r
    return list(by_track.values())


@dataclass
class _Person:
    """One person on one camera over time: times ``[n]``, feet ``[n, 2]``, boxes ``[n, 4]``."""

    ts: np.ndarray
    feet: np.ndarray
    boxes: np.ndarray


def _people(frames: list[FrameTruth]) -> dict[str, _Person]:
    acc: dict[str, tuple[list[float], list[tuple[float, float]], list[tuple[int, ...]]]] = {}
    for f in frames:
        for p in f.people:
            ts, fs, bs = acc.setdefault(p.id, ([], [], []))
            ts.append(f.t)
            fs.append(p.foot)
            bs.append(tuple(p.box))
    return {k: _Person(np.array(ts), np.array(fs, dtype=float), np.array(bs, dtype=float))
            for k, (ts, fs, bs) in acc.items()}


def _iou(a: np.ndarray, b: tuple[float, float, float, float]) -> float:
    ax1, ay1, bx1, by1 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    iw = max(0.0, min(ax1, bx1) - max(a[0], b[0]))
    ih = max(0.0, min(ay1, by1) - max(a[1], b[1]))
    inter = iw * ih
    union = a[2] * a[3] + b[2] * b[3] - inter
    return float(inter / union) if union > 0 else 0.0


def _distance(h: SightingLike, pid: str, people: dict[str, _Person], max_d: float, min_iou: float) -> float:
    if h.truth_id is not None:
        return 0.0 if h.truth_id == pid else float("nan")
    person = people.get(pid)
    if person is None:
        return float("nan")
    # a sighting's box and point are the walker's at the window's last frame (t_end)
    i = int(np.argmin(np.abs(person.ts - h.t_end)))
    if abs(float(person.ts[i]) - h.t_end) > 0.5:
        return float("nan")
    if h.box_w is not None and h.box_h is not None and h.box_x is not None and h.box_y is not None:
        iou = _iou(person.boxes[i], (h.box_x, h.box_y, h.box_w, h.box_h))
        return 1.0 - iou if iou >= min_iou else float("nan")
    if not h.ground_plane:
        return float("nan")
    d = float(np.linalg.norm(person.feet[i] - (h.x, h.y)))
    return d if d <= max_d else float("nan")


def _hits(h: SightingLike, group: list[Any], people_of: dict[str, _Person], max_d: float, min_iou: float) -> bool:
    return any(np.isfinite(_distance(h, p.id, people_of, max_d, min_iou)) for p in group)


def evaluate(city: Path, sightings: Sequence[SightingLike], max_dist_m: float = 1.5,
             min_visible: float = 0.3, min_iou: float = 0.5, min_height_px: int = 40) -> dict[str, Any]:
    """Score ``sightings`` against the city's ground truth.

    Args:
        city: the folder ``gaitline sim city`` wrote.
        sightings: stored predictions (``Store.all_sightings()`` rows).
        max_dist_m: ground distance within which a position-only sighting matches a person.
        min_visible: people less visible than this are not required to be found.
        min_iou: box overlap for a sighting with a box to match a person.
        min_height_px: people with a shorter box are not required to be found.

    Returns:
        ``idf1``, ``idp``, ``idr``, ``mota`` (fractions) over all cameras, ``per_camera``
        with the same per camera, and counts.
    """
    cams = camera_ids(city)
    by_cam: dict[str, list[SightingLike]] = {c: [] for c in cams}
    for s in sightings:
        by_cam.setdefault(s.camera_id, []).append(s)
    gt_ids, hyp_ids = _Ids({}), _Ids({})
    overall = mm.MOTAccumulator(auto_id=False)
    per: dict[str, mm.MOTAccumulator] = {}
    n_frames = 0
    for ci, cam in enumerate(cams):
        frames = list(read_truth(city, cam))
        people_of = _people(frames)
        rows = sorted(by_cam.get(cam, []), key=lambda r: r.t_start)
        acc = mm.MOTAccumulator(auto_id=False)
        for f in frames:
            people = [p for p in f.people if p.visible >= min_visible and p.box[3] >= min_height_px]
            ignored = [p for p in f.people if p not in people]
            hyps = _hypotheses(rows, f.t)

            # a sighting of a don't-care person is neither a hit nor a false positive
            hyps = [h for h in hyps if not (ignored and _hits(h, ignored, people_of, max_dist_m, min_iou)
                                            and not _hits(h, people, people_of, max_dist_m, min_iou))]
            d = np.array([[_distance(h, p.id, people_of, max_dist_m, min_iou) for h in hyps] for p in people])
            d = d.reshape(len(people), len(hyps))  # [gt, hyp]
            g = [gt_ids(p.id) for p in people]
            hy = [hyp_ids(h.identity_id) for h in hyps]
            acc.update(g, hy, d, frameid=f.frame)
            overall.update(g, hy, d, frameid=ci * 10_000_000 + f.frame)
            n_frames += 1
        per[cam] = acc
    mh = mm.metrics.create()
    tot = mh.compute(overall, metrics=METRICS, name="all").iloc[0]
    per_camera = {}
    for cam, acc in per.items():
        r = mh.compute(acc, metrics=METRICS, name=cam).iloc[0]
        per_camera[cam] = {"idf1": _f(r["idf1"]), "mota": _f(r["mota"]), "idp": _f(r["idp"]), "idr": _f(r["idr"])}
    return {"idf1": _f(tot["idf1"]), "idp": _f(tot["idp"]), "idr": _f(tot["idr"]), "mota": _f(tot["mota"]),
            "id_switches": int(tot["num_switches"]), "false_positives": int(tot["num_false_positives"]),
            "misses": int(tot["num_misses"]), "frames": n_frames, "sightings": len(sightings),
            "per_camera": per_camera}


def _f(v: object) -> float | None:
    x = float(v)  # type: ignore[arg-type]
    return None if not np.isfinite(x) else round(x, 4)
