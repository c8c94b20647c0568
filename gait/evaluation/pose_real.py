"""Do the keypoint gait parameters tell people apart on real footage? (``gaitline eval params-real``)

No real recording here comes with measured joint angles, so the check is the one a measurement of
a person must pass anyway: one person's recordings (KTH: outdoors, zoomed, other clothes, indoors,
all side views) should agree with each other better than different people's do. Per recording the
product's own path runs (frames stage → tracks → BlazePose on each track's boxes → smoothing →
:func:`gait.vision.pose_parameters.pose_parameters` per continuous stretch of a track where steps
are seen); the recording's value of a parameter is the median over its stretches. Per parameter:

* ``within``: median absolute difference between two recordings of the same person,
* ``between``: the same between recordings of different people,
* ``ratio`` = within / between: under 1 the parameter carries something of the person; 1 is what a
  parameter that is noise reads,
* ``icc``: the intra-class correlation (one-way, people as groups), the usual reliability figure.

The keypoints of each recording are cached (``--cache``): the pose model is the slow part.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from gait.evaluation.real import Recording
from gait.vision.pose_parameters import pose_parameters

# what a person's gait is made of, from a side view without calibration; stride in leg lengths
PARAMS_REAL = ("cadence_spm", "stride_length_legs", "hip_range_deg", "knee_range_deg", "ankle_range_deg",
               "silhouette_cadence_spm")  # the last: the windows' own cadence, for reference
CACHE_VERSION = 1
MIN_WINDOW_FRAMES = 16  # a stretch of fewer frames gives no parameters


def _cache_file(cache: Path, rec: Recording, max_frames: int) -> Path:
    st = rec.path.stat()
    key = json.dumps({"v": CACHE_VERSION, "path": str(rec.path.resolve()), "size": st.st_size,
                      "mtime_ns": st.st_mtime_ns, "max_frames": max_frames}, sort_keys=True)
    return cache / f"{rec.path.stem}-pose-{hashlib.sha256(key.encode()).hexdigest()[:16]}.npz"


def recording_keypoints(rec: Recording, max_frames: int = 0, cache: Path | None = None) -> dict[str, np.ndarray]:
    """The smoothed keypoints of every track of a recording, with its windows' frame spans.

    Returns ``{"frames" [n], "timestamps" [n], "keypoints" [n, 33, 3], "track" [n], "windows" [k, 3]
    (track, first frame, last frame), "cadence" [k] (the window's silhouette cadence, NaN if none)}``.

    Args:
        rec: the recording.
        max_frames: only windows ending before this frame (0: all); the pose model costs ~45 ms a crop.
        cache: folder to keep the result in (read back when the file and ``max_frames`` match).
    """
    file = _cache_file(cache, rec, max_frames) if cache is not None else None
    if file is not None and file.is_file():
        try:
            with np.load(file, allow_pickle=False) as z:
                return {k: np.asarray(z[k]) for k in z.files}
        except (OSError, ValueError):
            pass  # a damaged cache file: computed again
    from workers.analyze import collect_windows, network_for, probe_video
    from workers.analyze_pose import track_keypoints

    fps, total = probe_video(rec.path)
    by_track, _ = collect_windows(network_for(rec.path, fps), total)
    if max_frames:
        by_track = {t: [w for w in ws if w.frame_end < max_frames] for t, ws in by_track.items()}
        by_track = {t: ws for t, ws in by_track.items() if ws}
    poses = track_keypoints(rec.path, by_track) if by_track else {}
    parts: dict[str, list[np.ndarray]] = {"frames": [], "timestamps": [], "keypoints": [], "track": []}
    for tid, tp in sorted(poses.items()):
        parts["frames"].append(tp.frames)
        parts["timestamps"].append(tp.timestamps)
        parts["keypoints"].append(tp.keypoints)
        parts["track"].append(np.full(len(tp.frames), tid))
    out = {k: np.concatenate(v) if v else np.zeros((0, 33, 3) if k == "keypoints" else 0) for k, v in parts.items()}
    wins = [(t, w.frame_start, w.frame_end, np.nan if w.gait.cadence_spm is None else w.gait.cadence_spm)
            for t, ws in sorted(by_track.items()) for w in ws]
    out["windows"] = np.array([w[:3] for w in wins], np.int64).reshape(-1, 3)
    out["cadence"] = np.array([w[3] for w in wins], np.float64)
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
        tmp = file.with_name(f".{file.stem}.tmp.npz")
        np.savez_compressed(tmp, **out)  # type: ignore[arg-type]  # numpy's stub types **kwds poorly
        tmp.replace(file)
    return out


def stride_legs(params: dict[str, Any]) -> float | None:
    """Stride length in leg lengths (hip to ankle), from the pose parameters' pixel step length."""
    m = params.get("step_length_legs")
    return None if m is None or m.value is None else 2.0 * float(m.value)


def _stretches(kp: dict[str, np.ndarray], gap: int = 5) -> list[np.ndarray]:
    """Index arrays of each track's continuous stretches of frames (a gap over ``gap`` frames splits)."""
    out: list[np.ndarray] = []
    for tid in np.unique(kp["track"]):
        idx = np.flatnonzero(kp["track"] == tid)
        idx = idx[np.argsort(kp["frames"][idx])]
        cuts = np.flatnonzero(np.diff(kp["frames"][idx]) > gap) + 1
        out.extend(s for s in np.split(idx, cuts) if len(s) >= MIN_WINDOW_FRAMES)
    return out


def recording_values(kp: dict[str, np.ndarray]) -> dict[str, float | None]:
    """A recording's value of each of :data:`PARAMS_REAL`: the median over its tracks' continuous
    stretches where steps are seen (a 30-frame window at 25 fps holds two steps: too few for gait
    events), the two legs' ranges pooled (which leg is the near one changes with the walking direction)."""
    per: dict[str, list[float]] = {p: [] for p in PARAMS_REAL}
    for sel in _stretches(kp):
        res = pose_parameters(kp["keypoints"][sel], kp["timestamps"][sel])["params"]
        if res["cadence_spm"].value is None:
            continue  # no steps seen: a turn, a stretch half out of view; its ranges are not a gait's
        per["cadence_spm"].append(float(res["cadence_spm"].value))
        s = stride_legs(res)
        if s is not None:
            per["stride_length_legs"].append(s)
        for joint in ("hip", "knee", "ankle"):
            for side in ("left", "right"):
                v = res[f"{joint}_{side}_range_deg"].value
                if v is not None:
                    per[f"{joint}_range_deg"].append(float(v))
    per["silhouette_cadence_spm"] = [float(c) for c in kp["cadence"] if np.isfinite(c)]
    return {p: (float(np.median(v)) if v else None) for p, v in per.items()}


def agreement(values: dict[str, dict[str, float | None]], people: dict[str, str]) -> dict[str, Any]:
    """Within- against between-person agreement of each parameter.

    Args:
        values: per recording name, its parameter values (:func:`recording_values`).
        people: per recording name, the person.
    """
    out: dict[str, Any] = {}
    for p in PARAMS_REAL:
        got = {r: v[p] for r, v in values.items() if v.get(p) is not None}
        within: list[float] = []
        between: list[float] = []
        for a, b in combinations(sorted(got), 2):
            d = abs(float(got[a]) - float(got[b]))  # type: ignore[arg-type]  # not None: filtered
            (within if people[a] == people[b] else between).append(d)
        groups: dict[str, list[float]] = {}
        for r, v in got.items():
            groups.setdefault(people[r], []).append(float(v))  # type: ignore[arg-type]
        out[p] = {"recordings": len(got), "people": len(groups),
                  "within": round(float(np.median(within)), 3) if within else None,
                  "between": round(float(np.median(between)), 3) if between else None,
                  "ratio": round(float(np.median(within) / np.median(between)), 3)
                  if within and between and np.median(between) > 0 else None,
                  "icc": _icc(list(groups.values()))}
    return out


def _icc(groups: list[list[float]]) -> float | None:
    """One-way random-effects ICC(1) of unequal groups: (MSB - MSW) / (MSB + (k0 - 1) MSW)."""
    groups = [g for g in groups if len(g) >= 1]
    n = sum(len(g) for g in groups)
    a = len(groups)
    if a < 2 or n - a < 1:
        return None
    grand = float(np.mean([x for g in groups for x in g]))
    ssb = sum(len(g) * (float(np.mean(g)) - grand) ** 2 for g in groups)
    ssw = sum(float(np.sum((np.asarray(g) - np.mean(g)) ** 2)) for g in groups)
    msb, msw = ssb / (a - 1), ssw / (n - a)
    k0 = (n - sum(len(g) ** 2 for g in groups) / n) / (a - 1)
    den = msb + (k0 - 1) * msw
    return round((msb - msw) / den, 3) if den > 0 else None


def evaluate(recs: list[Recording], max_frames: int = 0, cache: Path | None = None,
             progress: Callable[[Recording, dict[str, float | None], float], None] | None = None) -> dict[str, Any]:
    """Every recording's parameter values and their within/between agreement (module docstring).

    Args:
        recs: the labelled recordings.
        max_frames: frames per recording the pose model sees (0: all).
        cache: folder for each recording's keypoints.
        progress: called after each recording with its values and the seconds it took.
    """
    t0 = time.monotonic()
    values: dict[str, dict[str, float | None]] = {}
    for rec in recs:
        t = time.monotonic()
        values[rec.name] = recording_values(recording_keypoints(rec, max_frames, cache))
        if progress is not None:
            progress(rec, values[rec.name], time.monotonic() - t)
    people = {r.name: r.person for r in recs}
    return {"recordings": len(recs), "people": len(set(people.values())), "max_frames": max_frames,
            "parameters": agreement(values, people),
            "per_recording": {r.name: {"person": r.person, "condition": r.condition,
                                       **{k: None if v is None else round(v, 3) for k, v in values[r.name].items()}}
                              for r in recs},
            "seconds": round(time.monotonic() - t0, 1)}
