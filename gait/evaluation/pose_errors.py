"""How well the keypoint gait parameters are measured, against a simulated city's exact joints.

The city is planned again from its seed (``city.json``, ``people.json``: same seed, same walkers),
so every walker's exact 3-D joints are known at every frame (:func:`sim.keypoints.walker_joints`)
and so is the true value of every keypoint parameter (:func:`sim.keypoints.gait_truth`: the same
definitions applied to the joints in the walker's own frame). Each camera's ground truth gives
where each walker is seen; every stretch of ``window_s`` seconds of one walker on one camera
(boxes at least :data:`MIN_BOX_H` px tall, mostly visible) is one window, and the window's
keypoints are either

* ``truth``: the exact joints projected through the camera (what a perfect pose model would give:
  the error is the geometry's: perspective, a steep camera, turns, frame rate, smoothing), or
* ``model``: BlazePose on the rendered video's crops around the true boxes (the whole chain; the
  rendered people are simple figures, so this is a harsh test of the model, not of real people);

then smoothed (:func:`gait.vision.pose.smooth_track`) and measured
(:func:`gait.vision.pose_parameters.pose_parameters`, with the camera's homography) as
``gaitline analyze`` does. Every window has a true view: the angle between the walker's heading
and the camera's line of sight on the ground (side 60-90°, oblique 30-60°, frontal under 30°).

Per parameter and view: ``coverage`` (windows that gave a value), ``median_abs_err``,
``within_tol`` (share within :data:`TOLERANCE`: 5° for angles, 3 cm for ground lengths, 10 % for
cadence), ``bias`` (median signed error) and ``per_person_abs_err`` (median over people of the
error of their median), beside the ``constant`` that answers the population median of the truth.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from gaitline.errors import GaitlineError

# (parameter, absolute tolerance or None, relative tolerance or None)
TOLERANCE: dict[str, tuple[float | None, float | None]] = {
    **{f"{j}_{s}_range_deg": (5.0, None) for j in ("hip", "knee", "ankle") for s in ("left", "right")},
    "cadence_spm": (None, 0.10),
    "step_length_legs": (None, 0.10),
    "step_time_asymmetry_pct": (5.0, None),
    "step_length_asymmetry_pct": (5.0, None),
    "double_support_share": (0.05, None),
    "step_width_m": (0.03, None),
    "progression_deviation_m": (0.03, None),
    "foot_angle_deg": (5.0, None),
}
POSE_PARAMS = tuple(TOLERANCE)
VIEWS = ("side", "oblique", "frontal")
GROUPS = ("side+oblique", *VIEWS)  # the targets hold on side and oblique views
MIN_BOX_H = 60  # px: smaller walkers show no limbs to a pose model (the city's are 40-200 px)
MIN_VISIBLE = 0.7  # share of the walker not hidden by others or poles
Keypoints = Literal["truth", "model"]


@dataclass(frozen=True)
class Window:
    """One walker on one camera for ``window_s``: true ids, frame numbers, times, boxes, true view."""

    camera: str
    person: str
    frames: np.ndarray  # [n]
    times: np.ndarray  # [n] s from the city's start
    boxes: np.ndarray  # [n, 4] x, y, w, h
    view: str
    view_angle: float  # degrees between heading and line of sight on the ground


def replan(city: Path) -> Any:
    """The :class:`sim.city.CityPlan` a city folder was rendered from (checked against people.json)."""
    from sim.city import plan_city

    try:
        meta = json.loads((city / "city.json").read_text())
        people = json.loads((city / "people.json").read_text())
        cams = meta["cameras"]
        plan = plan_city(len(cams), len(people), float(meta["duration_s"]), int(meta["seed"]),
                         fps=float(meta["fps"]), width=int(cams[0]["width"]), height=int(cams[0]["height"]))
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise GaitlineError(f"{city}: not a city written by `gaitline sim city` ({exc})") from exc
    for w, p in zip(plan.walkers, people, strict=True):
        if w.id != p["id"] or abs(w.ident.gait.cadence_spm - float(p["cadence_spm"])) > 0.06:
            raise GaitlineError(f"{city}: its walkers differ from what seed {meta['seed']} plans "
                                "(written by another gaitline version?)")
    return plan


def _view(angle: float) -> str:
    return "side" if angle >= 60 else "oblique" if angle >= 30 else "frontal"


def city_windows(city: Path, plan: Any, window_s: float = 4.0) -> Iterator[Window]:
    """Every stretch of ``window_s`` seconds (starting every ``window_s / 2``) of one walker seen
    whole on one camera (consecutive frames, boxes >= MIN_BOX_H, visible >= MIN_VISIBLE)."""
    from sim.city import START_TIME
    from sim.truth import read_truth

    walkers = {w.id: w for w in plan.walkers}
    for cc in plan.cameras:
        runs: dict[str, list[tuple[int, float, tuple[int, int, int, int]]]] = {}
        done: list[tuple[str, list[tuple[int, float, tuple[int, int, int, int]]]]] = []
        for ft in read_truth(city, cc.id):
            seen = set()
            for p in ft.people:
                if p.box[3] >= MIN_BOX_H and p.visible >= MIN_VISIBLE and p.id in walkers:
                    runs.setdefault(p.id, []).append((ft.frame, ft.t - START_TIME, p.box))
                    seen.add(p.id)
            for pid in [k for k in runs if k not in seen]:
                done.append((pid, runs.pop(pid)))
        done.extend(runs.items())
        n = max(8, int(round(window_s * plan.fps)))
        for pid, run in done:
            # a turn at a corner changes the view within the window: windows lie between turns
            _, heads, _ = walkers[pid].position(np.array([r[1] for r in run]))
            cuts = np.flatnonzero(np.abs(np.diff(heads)) > 1e-3) + 1
            for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, len(run)], strict=True):
                straight = run[lo:hi]
                for s in range(0, len(straight) - n + 1, max(1, n // 2)):
                    part = straight[s:s + n]
                    t = np.array([r[1] for r in part])
                    pos, heading, _ = walkers[pid].position(t[len(t) // 2:len(t) // 2 + 1])
                    sight = pos[0] - cc.cam.centre[:2]
                    cosang = abs(np.cos(heading[0]) * sight[0] + np.sin(heading[0]) * sight[1]) / np.linalg.norm(sight)
                    ang = float(np.degrees(np.arccos(np.clip(cosang, 0, 1))))
                    yield Window(cc.id, pid, np.array([r[0] for r in part]), t, np.array([r[2] for r in part]),
                                 _view(ang), ang)


def truth_keypoints(plan: Any, w: Window) -> np.ndarray:
    """The exact joints of the window's walker projected through its camera ``[n, 33, 3]``; points
    outside the image are unseen (NaN, visibility 0)."""
    from sim.keypoints import keypoints, walker_joints

    cc = next(c for c in plan.cameras if c.id == w.camera)
    walker = next(x for x in plan.walkers if x.id == w.person)
    kp = keypoints(walker_joints(walker, w.times), cc.cam)
    out = (kp[..., 0] < 0) | (kp[..., 0] >= cc.width) | (kp[..., 1] < 0) | (kp[..., 1] >= cc.height)
    kp[out] = (np.nan, np.nan, 0.0)
    return kp


class ModelKeypoints:
    """BlazePose on the rendered video's crops around the true boxes, decoded once per camera and
    cached as ``<cache>/<camera>-model.npz`` (frame, person → keypoints)."""

    def __init__(self, city: Path, windows: list[Window], cache: Path | None) -> None:
        """Args: city: the folder; windows: all windows to serve; cache: folder for the keypoints."""
        self._kp: dict[tuple[str, int, str], np.ndarray] = {}
        for cam in sorted({w.camera for w in windows}):
            want: dict[int, dict[str, tuple[int, int, int, int]]] = {}
            for w in windows:
                if w.camera == cam:
                    for f, b in zip(w.frames, w.boxes, strict=True):
                        want.setdefault(int(f), {})[w.person] = tuple(int(v) for v in b)  # type: ignore[assignment]
            self._kp.update(self._camera(city, cam, want, cache))

    @staticmethod
    def _camera(city: Path, cam: str, want: dict[int, dict[str, tuple[int, int, int, int]]],
                cache: Path | None) -> dict[tuple[str, int, str], np.ndarray]:
        file = cache / f"{city.name}-{cam}-model.npz" if cache is not None else None
        have: dict[tuple[str, int, str], np.ndarray] = {}
        if file is not None and file.is_file():
            with np.load(file, allow_pickle=False) as z:
                for f, pid, kp in zip(z["frames"], z["people"], z["keypoints"], strict=True):
                    have[(cam, int(f), str(pid))] = kp
        todo = {f: {p: b for p, b in ps.items() if (cam, f, p) not in have} for f, ps in want.items()}
        todo = {f: ps for f, ps in todo.items() if ps}
        if todo:
            import cv2

            from gait.vision.pose import PoseEstimator

            est = PoseEstimator()
            cap = cv2.VideoCapture(str(city / "video" / f"{cam}.avi"))
            try:
                i, last = 0, max(todo)
                while i <= last:
                    ok, frame = cap.read()
                    if not ok:
                        break
                    for pid, box in todo.get(i, {}).items():
                        have[(cam, i, pid)] = est(frame, box)
                    i += 1
            finally:
                cap.release()
                est.close()
            if file is not None:
                keys = sorted(k for k in have if k[0] == cam)
                file.parent.mkdir(parents=True, exist_ok=True)
                tmp = file.with_name(f".{file.stem}.tmp.npz")
                np.savez_compressed(tmp, frames=np.array([k[1] for k in keys], np.int64),
                                    people=np.array([k[2] for k in keys]),
                                    keypoints=np.stack([have[k] for k in keys]) if keys else np.zeros((0, 33, 3)))
                tmp.replace(file)
        return have

    def __call__(self, w: Window) -> np.ndarray:
        """Keypoints ``[n, 33, 3]`` of a window (all NaN on frames the video did not reach)."""
        nan = np.full((33, 3), np.nan, np.float32)
        return np.stack([self._kp.get((w.camera, int(f), w.person), nan) for f in w.frames])


def _measure(plan: Any, w: Window, kp: np.ndarray) -> dict[str, float | None]:
    from gait.vision.pose import smooth_track
    from gait.vision.pose_parameters import pose_parameters

    cc = next(c for c in plan.cameras if c.id == w.camera)
    res = pose_parameters(smooth_track(kp, w.times), w.times, cc.cam.image_to_ground(),
                          principal_point=(cc.width / 2, cc.height / 2))
    return {p: res["params"][p].value if p in res["params"] else None for p in POSE_PARAMS}


def _ok(err: np.ndarray, true: np.ndarray, name: str) -> np.ndarray:
    absol, rel = TOLERANCE[name]
    return np.abs(err) <= absol if absol is not None else np.abs(err) <= rel * np.abs(true)  # type: ignore[operator]


def _stats(name: str, est: list[float | None], true: list[float], person: list[str]) -> dict[str, Any]:
    n = len(est)
    if n == 0:
        return {"windows": 0, "coverage": None, "median_abs_err": None, "within_tol": None, "bias": None,
                "per_person_abs_err": None}
    have = [i for i, e in enumerate(est) if e is not None]
    e = np.array([est[i] for i in have], np.float64)
    t = np.array([true[i] for i in have], np.float64)
    err = e - t
    by: dict[str, list[float]] = {}
    for i in have:
        by.setdefault(person[i], []).append(float(est[i]))  # type: ignore[arg-type]
    truth_of = dict(zip(person, true, strict=True))
    pp = [abs(float(np.median(v)) - truth_of[p]) for p, v in by.items()]

    def r(x: float) -> float:
        return round(float(x), 4)

    return {"windows": n, "coverage": r(len(have) / n),
            "median_abs_err": r(np.median(np.abs(err))) if len(have) else None,
            "within_tol": r(_ok(err, t, name).mean()) if len(have) else None,
            "bias": r(np.median(err)) if len(have) else None,
            "per_person_abs_err": r(np.median(pp)) if pp else None}


def evaluate(city: Path, keypoints: Keypoints = "truth", window_s: float = 4.0, cache: Path | None = None,
             progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Score every keypoint parameter of every window of a city (see the module docstring).

    Args:
        city: a folder written by ``gaitline sim city``.
        keypoints: ``truth`` (exact projected joints) or ``model`` (BlazePose on the rendered video).
        window_s: seconds per window (gait events need three steps or more: >= ~2 s).
        cache: folder for the model's keypoints (``model`` only).
        progress: called with a line now and then.
    """
    from sim.keypoints import gait_truth

    plan = replan(city)
    windows = list(city_windows(city, plan, window_s))
    if progress:
        progress(f"{len(windows)} windows of {len({w.person for w in windows})} people; keypoints: {keypoints}")
    truth = {w.id: gait_truth(w.ident) for w in plan.walkers}
    source = ModelKeypoints(city, windows, cache) if keypoints == "model" else None
    measured = [_measure(plan, w, source(w) if source else truth_keypoints(plan, w)) for w in windows]
    res: dict[str, Any] = {"city": str(city), "keypoints": keypoints, "window_s": window_s, "fps": plan.fps,
                           "windows": len(windows), "people": len({w.person for w in windows}),
                           "views": {v: sum(w.view == v for w in windows) for v in VIEWS},
                           "tolerance": {k: {"abs": a, "rel": r} for k, (a, r) in TOLERANCE.items()}}
    for name in POSE_PARAMS:
        res[name] = {}
        for group in GROUPS:
            idx = [i for i, w in enumerate(windows) if w.view in group.split("+")]
            est = [measured[i][name] for i in idx]
            true = [truth[windows[i].person][name] for i in idx]
            person = [windows[i].person for i in idx]
            seen = sorted(set(person))
            const = float(np.median([truth[p][name] for p in seen])) if seen else 0.0
            res[name][group] = {"ours": _stats(name, est, true, person),
                                "constant": _stats(name, [const] * len(idx), true, person)}
    return res


def table(res: dict[str, Any], groups: tuple[str, ...] = ("side+oblique", "frontal")) -> str:
    """The result as a text table: per parameter and view group ours against the constant."""
    if not res["windows"]:
        return (f"keypoints: no walker is seen whole (>= {MIN_BOX_H} px, {MIN_VISIBLE:.0%} visible) for "
                f"{res['window_s']:g} s between two turns on any camera: nothing to score")
    lines = [f"{res['windows']} windows of {res['window_s']:g} s, {res['people']} people, {res['fps']:g} fps, "
             f"keypoints: {res['keypoints']}; views: " + ", ".join(f"{v} {n}" for v, n in res["views"].items()),
             f"{'parameter':<26} {'views':<12} {'cover':>5} {'med|err|':>8} {'in tol':>6} {'bias':>7} "
             f"{'person':>7} | {'const':>7} {'in tol':>6}  tolerance"]
    for name in POSE_PARAMS:
        a, r = TOLERANCE[name]
        tol = f"{a:g}" if a is not None else f"{100 * r:g}%"  # type: ignore[operator]
        for g in groups:
            o, c = res[name][g]["ours"], res[name][g]["constant"]
            if not o["windows"]:
                continue

            def f(v: float | None, w: int, d: int = 3) -> str:
                return f"{'-':>{w}}" if v is None else f"{v:>{w}.{d}f}"

            lines.append(f"{name:<26} {g:<12} {f(o['coverage'], 5, 2)} {f(o['median_abs_err'], 8)} "
                         f"{f(o['within_tol'], 6, 2)} {f(o['bias'], 7)} {f(o['per_person_abs_err'], 7)} | "
                         f"{f(c['median_abs_err'], 7)} {f(c['within_tol'], 6, 2)}  {tol}")
    return "\n".join(lines)
