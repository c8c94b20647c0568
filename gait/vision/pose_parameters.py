"""Gait parameters from body keypoints: joint-angle ranges, gait events, asymmetry, the ground.

Input: one walker's smoothed keypoints ``[n, 33, 3]`` (x, y frame pixels, visibility; see
:mod:`gait.vision.pose`) and their timestamps; with a calibrated camera also its image->ground
homography. Every parameter is a :class:`Measure`: a value, a confidence in [0, 1], and where
the recording cannot give it, ``value=None`` with the reason (a side view cannot give step
width; a frontal view cannot give joint angles). How each is computed and from which views it
is valid: ``docs/gait-parameters.md``.

Kept apart from :mod:`gait.vision.gait_parameters` (the silhouette parameters every window
carries) because these need a pose model the city pipeline does not run by default.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
from scipy.signal import find_peaks

from gait.vision.pose import (
    ANKLE_L,
    ANKLE_R,
    HEEL_L,
    HEEL_R,
    HIP_L,
    HIP_R,
    KNEE_L,
    KNEE_R,
    SHOULDER_L,
    SHOULDER_R,
    TOE_L,
    TOE_R,
)

View = Literal["side", "oblique", "frontal", "unknown"]
# shoulder + hip breadth in the image over the torso length: ~0.1-0.3 seen from the side (the two
# shoulders overlap), ~0.7-1.0 from the front or back
SIDE_MAX, FRONTAL_MIN = 0.35, 0.55
MIN_VISIBILITY = 0.5  # a keypoint the model saw less surely is left out of the parameters
MIN_FRAMES = 8
MAX_SPM = 160.0  # fastest walking cadence: steps closer in time are one step seen twice
# a ground offset is measurable when 10 cm of it spans this many image pixels at the walker
MIN_PX_PER_10CM = 2.0
# adults walk with a base of ~5-30 cm: a wider one means left/right feet were confused or the
# calibration is off at the walker's place, and is not reported
MAX_STEP_WIDTH_M = 0.45
MAX_FOOT_ANGLE_DEG = 40.0  # toe-out beyond this (or toe-in) is not a walking foot but a bad keypoint
# walking takes a hip through ~40-50°, a knee ~60°, an ankle ~30°: ranges far past these are keypoints
# gone astray (a turn, a swapped leg, a coat), not a gait
MAX_RANGE_DEG = {"hip": 90.0, "knee": 100.0, "ankle": 80.0}
SIDES = (("left", HIP_L, KNEE_L, ANKLE_L, HEEL_L, TOE_L), ("right", HIP_R, KNEE_R, ANKLE_R, HEEL_R, TOE_R))


@dataclass(frozen=True)
class Measure:
    """One parameter: ``value`` (None where not measurable), ``confidence`` 0..1, ``reason`` why not."""

    value: float | None
    unit: str
    confidence: float = 0.0
    reason: str | None = None

    def as_dict(self, digits: int = 3) -> dict[str, float | str | None]:
        """JSON-ready, the value rounded to ``digits``."""
        d = asdict(self)
        d["value"] = None if self.value is None else round(float(self.value), digits)
        d["confidence"] = round(float(self.confidence), 2)
        return d


def _none(unit: str, reason: str) -> Measure:
    return Measure(None, unit, 0.0, reason)


def _pts(kp: np.ndarray, j: int) -> np.ndarray:
    """``[n, 2]`` x, y of keypoint ``j``, NaN where its visibility is below MIN_VISIBILITY."""
    p = kp[:, j, :2].astype(np.float64)
    return np.where((kp[:, j, 2] >= MIN_VISIBILITY)[:, None], p, np.nan)


def _angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Signed angle (degrees) from vectors ``a`` to ``b`` ``[n, 2]``, positive counter-clockwise on
    screen (image y points down, so that is clockwise in the array's coordinates)."""
    cross = a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]
    dot = (a * b).sum(axis=1)
    return -np.degrees(np.arctan2(cross, dot))


def view_of(kp: np.ndarray) -> tuple[View, float]:
    """The camera's view of the walker, from how broad the shoulders and hips look against the
    torso: ``(view, breadth ratio)``; ``unknown`` when too few frames show the torso."""
    sl, sr, hl, hr = (_pts(kp, j) for j in (SHOULDER_L, SHOULDER_R, HIP_L, HIP_R))
    torso = np.linalg.norm((sl + sr) / 2 - (hl + hr) / 2, axis=1)  # [n]
    breadth = (np.linalg.norm(sl - sr, axis=1) + np.linalg.norm(hl - hr, axis=1)) / 2
    r = breadth / np.where(torso > 1, torso, np.nan)
    if int(np.isfinite(r).sum()) < MIN_FRAMES // 2:
        return "unknown", float("nan")
    ratio = float(np.nanmedian(r))
    return ("side" if ratio < SIDE_MAX else "frontal" if ratio > FRONTAL_MIN else "oblique"), ratio


def forward_sign(kp: np.ndarray) -> float:
    """+1 when the walker faces image +x (right), -1 when left: from the feet (heel -> toe), which
    point forward even when the walker hardly moves across the image."""
    d = np.concatenate([_pts(kp, t)[:, 0] - _pts(kp, h)[:, 0] for h, t in ((HEEL_L, TOE_L), (HEEL_R, TOE_R))])
    d = d[np.isfinite(d)]
    if len(d) == 0:
        mid = (_pts(kp, HIP_L) + _pts(kp, HIP_R))[:, 0]
        mid = mid[np.isfinite(mid)]
        return 1.0 if len(mid) < 2 or mid[-1] >= mid[0] else -1.0
    return 1.0 if float(np.median(d)) >= 0 else -1.0


def joint_angles(kp: np.ndarray) -> dict[str, np.ndarray]:
    """Per-frame sagittal angles in degrees, ``{hip,knee,ankle}_{left,right}`` → ``[n]`` (NaN where
    a keypoint is missing): hip flexion = thigh against the trunk's line, positive with the knee
    ahead; knee flexion = thigh against shank, 0 straight; ankle dorsiflexion = 90° minus the angle
    between shank (ankle -> knee) and foot (heel -> toe), positive with the toes raised."""
    fwd = forward_sign(kp)
    down = (_pts(kp, HIP_L) + _pts(kp, HIP_R)) / 2 - (_pts(kp, SHOULDER_L) + _pts(kp, SHOULDER_R)) / 2  # [n, 2]
    out = {}
    for side, hip, knee, ankle, heel, toe in SIDES:
        h, k, a, he, t = (_pts(kp, j) for j in (hip, knee, ankle, heel, toe))
        thigh, shank = k - h, a - k
        # the thigh turning from "down" towards the walking direction: on screen counter-clockwise
        # when walking to the right (+x), clockwise when walking left
        out[f"hip_{side}"] = fwd * _angle(down, thigh)
        out[f"knee_{side}"] = np.abs(_angle(thigh, shank))
        out[f"ankle_{side}"] = 90.0 - np.abs(_angle(-shank, t - he))
    return out


def _range(x: np.ndarray) -> float | None:
    x = x[np.isfinite(x)]
    return float(np.percentile(x, 98) - np.percentile(x, 2)) if len(x) >= MIN_FRAMES else None


CYCLE_HARMONICS = 4  # a joint's curve over the gait cycle is smooth: four harmonics hold it (Winter)


def cycle_range(x: np.ndarray, strikes: np.ndarray) -> float | None:
    """Range of a joint angle ``x`` ``[n]`` over its mean gait cycle: every frame between two strikes
    of the same foot gets its phase in the cycle, a Fourier series of :data:`CYCLE_HARMONICS` is
    fitted to (phase, angle) and its peak-to-peak is the range. A pose model's frame-to-frame
    jitter inflates a range taken over frames; the fit averages it over the cycles. None with
    fewer than ~3 frames per coefficient (one short cycle, a low frame rate)."""
    phase = np.full(len(x), np.nan)
    for a, b in zip(strikes, strikes[1:], strict=False):
        phase[a:b] = (np.arange(a, b) - a) / max(b - a, 1)
    ok = np.isfinite(phase) & np.isfinite(x)
    k = np.arange(1, CYCLE_HARMONICS + 1)
    if int(ok.sum()) < 3 * (1 + 2 * len(k)):
        return None
    u, y = phase[ok], x[ok]

    def basis(v: np.ndarray) -> np.ndarray:
        ang = 2 * np.pi * v[:, None] * k[None, :]
        return np.concatenate([np.ones((len(v), 1)), np.cos(ang), np.sin(ang)], axis=1)  # [m, 1 + 2K]

    keep = np.ones(len(y), bool)
    for _ in range(2):  # refit once without the frames the model got badly wrong
        coef, *_ = np.linalg.lstsq(basis(u[keep]), y[keep], rcond=None)
        res = np.abs(y - basis(u) @ coef)
        keep = res <= max(3.0 * float(np.median(res[keep])) * 1.4826, 2.0)
    curve = basis(np.linspace(0, 1, 100, endpoint=False)) @ coef
    return float(np.ptp(curve))


@dataclass(frozen=True)
class Events:
    """Heel strikes (frame indices) per side and the forward separation of the ankles ``[n]``."""

    left: np.ndarray
    right: np.ndarray
    separation: np.ndarray


def gait_events(kp: np.ndarray, timestamps: np.ndarray) -> Events | None:
    """Heel strikes from the ankles' forward separation (left ankle ahead of the right, in image
    pixels along the walking direction): a foot strikes where the feet are furthest apart, with
    that foot ahead. The strikes are the peaks of the unsigned separation (one per step) and
    alternate between the feet; which foot is which comes from the majority of the peaks' signs,
    so a pose model's occasional left/right confusion does not break the sequence. None when the
    separation shows no steps (a frontal view, a walker standing)."""
    fwd = forward_sign(kp)
    s = fwd * (_pts(kp, ANKLE_L)[:, 0] - _pts(kp, ANKLE_R)[:, 0])  # [n]
    ok = np.isfinite(s)
    if int(ok.sum()) < MIN_FRAMES:
        return None
    idx = np.arange(len(s))
    s = np.interp(idx, idx[ok], s[ok])
    dur = float(timestamps[-1] - timestamps[0])
    if dur <= 0:
        return None
    fps = (len(s) - 1) / dur
    a = np.abs(s)
    span = float(np.percentile(a, 95) - np.percentile(a, 5))
    leg = np.nanmedian(np.linalg.norm(_pts(kp, HIP_L) - _pts(kp, ANKLE_L), axis=1))
    if not np.isfinite(leg) or span < 0.25 * leg:
        return None  # the feet never pass each other across the image
    dist = max(1, int(0.8 * 60.0 / MAX_SPM * fps))  # consecutive steps are >= 60/160 s apart
    # a peak on the first or last frame is no peak: the feet may still be parting there
    peaks, _ = find_peaks(a, distance=dist, prominence=0.3 * span)
    if len(peaks) < 3:
        return None
    # side of each step by alternation, anchored on the majority sign
    parity = np.arange(len(peaks)) % 2
    vote = float(np.sum(np.sign(s[peaks]) * np.where(parity == 0, 1, -1)))
    first_left = vote >= 0
    is_left = (parity == 0) == first_left
    return Events(left=peaks[is_left], right=peaks[~is_left], separation=s)


def strike_time(ev: Events, ts: np.ndarray, i: int) -> float:
    """The time of the strike at frame ``i``, between frames: the vertex of the parabola through
    the unsigned separation at ``i - 1, i, i + 1`` (at 25 fps a step is 12-14 frames, so whole
    frames alone would read a 7 % step-time asymmetry in a symmetric walker)."""
    if not 0 < i < len(ts) - 1:
        return float(ts[i])
    a0, a1, a2 = (abs(float(ev.separation[j])) for j in (i - 1, i, i + 1))
    den = a0 - 2 * a1 + a2
    d = 0.5 * (a0 - a2) / den if den < 0 else 0.0
    d = float(np.clip(d, -0.5, 0.5))
    return float(ts[i] + d * (ts[i + 1] - ts[i] if d > 0 else ts[i] - ts[i - 1]))


def _steps(ev: Events, ts: np.ndarray) -> tuple[list[float], list[float], list[float], list[float]]:
    """Step times (s) and separations at strike (px) of the steps ending with a left and with a
    right strike."""
    marks = sorted([(int(i), "left") for i in ev.left] + [(int(i), "right") for i in ev.right])
    tl: list[float] = []
    tr: list[float] = []
    ll: list[float] = []
    lr: list[float] = []
    for (i0, s0), (i1, s1) in zip(marks, marks[1:], strict=False):
        if s0 == s1:
            continue  # a missed strike in between: not one step
        dt = strike_time(ev, ts, i1) - strike_time(ev, ts, i0)
        (tl if s1 == "left" else tr).append(dt)
        (ll if s1 == "left" else lr).append(abs(float(ev.separation[i1])))
    return tl, tr, ll, lr


def _symmetry_index(a: list[float], b: list[float]) -> float | None:
    """``2 |A - B| / (A + B)`` in percent of the medians; None without both."""
    if not a or not b:
        return None
    ma, mb = float(np.median(a)), float(np.median(b))
    return 200.0 * abs(ma - mb) / (ma + mb) if ma + mb > 0 else None


def double_support(kp: np.ndarray, timestamps: np.ndarray) -> float | None:
    """Share of frames both feet are on the ground: a stance foot stands still in the image while
    the body moves on, so a foot counts as in stance while its ankle moves at under half the hips'
    speed across the image. None when the walker does not cross the image."""
    ts = np.asarray(timestamps, np.float64)
    hip = (_pts(kp, HIP_L) + _pts(kp, HIP_R))[:, 0] / 2
    ok = np.isfinite(hip)
    if int(ok.sum()) < MIN_FRAMES:
        return None
    body = abs(np.polyfit(ts[ok] - ts[0], hip[ok], 1)[0])  # px/s
    leg = np.nanmedian(np.linalg.norm(_pts(kp, HIP_L) - _pts(kp, ANKLE_L), axis=1))
    if not np.isfinite(leg) or body < 0.3 * leg:
        return None
    stance = []
    for ankle in (ANKLE_L, ANKLE_R):
        x = _pts(kp, ankle)[:, 0]
        v = np.abs(np.gradient(x, ts))  # [n] px/s
        stance.append(v < 0.5 * body)
    both = np.isfinite(np.gradient(_pts(kp, ANKLE_L)[:, 0], ts)) & np.isfinite(
        np.gradient(_pts(kp, ANKLE_R)[:, 0], ts))
    if int(both.sum()) < MIN_FRAMES:
        return None
    return float((stance[0] & stance[1])[both].mean())


def _ground(h: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Image points ``[n, 2]`` through the image->ground homography ``h`` → metres ``[n, 2]``."""
    p = np.c_[pts, np.ones(len(pts))] @ h.T
    return p[:, :2] / p[:, 2:3]


def _px_per_10cm(h: np.ndarray, at: np.ndarray, direction: np.ndarray) -> float:
    """Image pixels spanned by 10 cm along ground ``direction`` at ground point ``at``."""
    inv = np.linalg.inv(h)
    ends = np.stack([at, at + 0.1 * direction])  # [2, 2]
    img = np.c_[ends, np.ones(2)] @ inv.T
    img = img[:, :2] / img[:, 2:3]
    return float(np.linalg.norm(img[1] - img[0]))


def ground_parameters(kp: np.ndarray, ev: Events | None, timestamps: np.ndarray,
                      homography: np.ndarray | None) -> dict[str, Measure]:
    """Step width, progression-line deviation and foot angle on the ground plane.

    Each foot contact is the heel's ground point (through ``homography``) in the middle of the
    foot's single support (between its strike and the other foot's next one), when it is flat, on
    the frames it sits lowest; the progression line is the least-squares line through the contacts;
    step width is the median lateral distance between consecutive left and right contacts; the
    deviation is the RMS lateral offset of the contact pairs' midpoints from the line; foot angle
    is the heel -> toe direction on the ground against the line (toe-out positive).
    """
    names = {"step_width_m": "m", "progression_deviation_m": "m", "foot_angle_deg": "deg",
             "step_length_asymmetry_pct": "%"}
    if homography is None:
        return {k: _none(u, "camera not calibrated: needs an image->ground homography") for k, u in names.items()}
    if ev is None:
        return {k: _none(u, "no gait events: the feet are not seen passing each other") for k, u in names.items()}
    h = np.asarray(homography, np.float64)
    ts = np.asarray(timestamps, np.float64)
    contacts = []  # (frame, side, ground xy [2], foot direction [2] or None)
    for side, strikes, other, heel, toe, ankle in (("left", ev.left, ev.right, HEEL_L, TOE_L, ANKLE_L),
                                                   ("right", ev.right, ev.left, HEEL_R, TOE_R, ANKLE_R)):
        he, to, an = _pts(kp, heel), _pts(kp, toe), _pts(kp, ankle)
        he = np.where(np.isfinite(he), he, an)
        for i in strikes:
            # the foot is flat in the middle of its single support: between its own strike and the
            # other foot's next one (the toes are still raised at the strike itself)
            nxt = other[other > i]
            t0, t1 = (ts[i] + 0.25 * (ts[nxt[0]] - ts[i]), ts[i] + 0.75 * (ts[nxt[0]] - ts[i])) if len(nxt) \
                else (ts[i] + 0.1, ts[i] + 0.25)
            sl = np.flatnonzero((ts >= t0) & (ts <= t1) & np.isfinite(he[:, 1]))
            if len(sl) == 0:
                continue
            # a heel above the ground maps onto the ground beyond its true place (away from the
            # camera): keep the frames it sits lowest in the image, i.e. lowest in the world
            sl = sl[he[sl, 1] >= np.percentile(he[sl, 1], 66)]
            g = _ground(h, he[sl])
            g = g[np.isfinite(g).all(axis=1)]
            if len(g) == 0:
                continue
            gt = _ground(h, to[sl]) - _ground(h, he[sl])
            gt = gt[np.isfinite(gt).all(axis=1)]
            contacts.append((int(i), side, np.median(g, axis=0), np.median(gt, axis=0) if len(gt) else None))
    contacts.sort(key=lambda c: c[0])
    if len(contacts) < 3:
        return {k: _none(u, "fewer than 3 foot contacts seen") for k, u in names.items()}
    xy = np.array([c[2] for c in contacts])  # [m, 2]
    centre = xy.mean(axis=0)
    _, _, vt = np.linalg.svd(xy - centre)
    along = vt[0] * (1.0 if float(np.dot(xy[-1] - xy[0], vt[0])) >= 0 else -1.0)  # walking direction
    lateral = np.array([-along[1], along[0]])  # to the walker's left (ground x, y right-handed, z up)
    px = _px_per_10cm(h, centre, lateral)
    if px < MIN_PX_PER_10CM:
        reason = (f"10 cm sideways spans {px:.1f} px here: the walker's sideways direction lies along "
                  "the line of sight (a side view)")
        return {k: _none(u, reason) for k, u in names.items()}
    conf = float(min(1.0, px / (4 * MIN_PX_PER_10CM)))
    lat = (xy - centre) @ lateral  # [m]
    fwd = (xy - centre) @ along  # [m]
    widths, mids = [], []
    lengths: dict[str, list[float]] = {"left": [], "right": []}
    for a, b in zip(range(len(contacts)), range(1, len(contacts)), strict=False):
        if contacts[a][1] != contacts[b][1]:
            widths.append(abs(lat[b] - lat[a]))
            mids.append((lat[a] + lat[b]) / 2)
            lengths[contacts[b][1]].append(abs(fwd[b] - fwd[a]))
    out: dict[str, Measure] = {}
    width = float(np.median(widths)) if widths else None
    out["step_width_m"] = (
        _none("m", "no consecutive left and right contacts") if width is None else
        _none("m", f"implausible base of {width:.2f} m: feet confused or calibration off here")
        if width > MAX_STEP_WIDTH_M else Measure(width, "m", conf))
    out["progression_deviation_m"] = (Measure(float(np.sqrt(np.mean(np.square(mids)))), "m", conf)
                                      if len(mids) >= 2 else _none("m", "fewer than two steps seen"))
    angles = []
    for _, side, _, d in contacts:
        if d is None or np.linalg.norm(d) < 0.05:
            continue
        ang = np.degrees(np.arctan2(float(d @ lateral), float(d @ along)))  # + = towards the left
        angles.append(ang if side == "left" else -ang)
    si = _symmetry_index(lengths["left"], lengths["right"])
    out["step_length_asymmetry_pct"] = (Measure(si, "%", conf) if si is not None
                                        else _none("%", "needs a left and a right step"))
    foot = float(np.median(angles)) if angles else None
    out["foot_angle_deg"] = (
        _none("deg", "heel and toe not seen on the ground") if foot is None else
        _none("deg", f"implausible foot angle of {foot:.0f}°: heel and toe keypoints too coarse here")
        if abs(foot) > MAX_FOOT_ANGLE_DEG else Measure(foot, "deg", conf))
    return out


def pose_parameters(kp: np.ndarray, timestamps: np.ndarray, homography: np.ndarray | None = None,
                    silhouette_cadence: float | None = None,
                    principal_point: tuple[float, float] | None = None) -> dict[str, Any]:
    """Every keypoint parameter of one walker's stretch of frames.

    Args:
        kp: ``[n, 33, 3]`` smoothed keypoints (frame pixels, visibility).
        timestamps: ``[n]`` seconds.
        homography: the camera's image->ground ``[3, 3]``; None when uncalibrated.
        silhouette_cadence: the silhouette's cadence (steps/min) to cross-check against.
        principal_point: the image centre (x, y) px; with ``homography`` the view comes from the
            geometry and angles and steps are measured on the sagittal plane
            (:mod:`gait.vision.pose_geometry`) instead of in the image.

    Returns:
        ``{"view": ..., "view_source": "calibration" | "keypoints", "view_angle_deg": ...,
        "breadth_ratio": ..., "params": {name: Measure}}``.
    """
    from gait.vision.pose_geometry import sagittal_view

    ts = np.asarray(timestamps, np.float64)
    view, ratio = view_of(kp)
    geo = sagittal_view(kp, homography, principal_point)
    rectified = geo is not None and geo[2] is not None
    if geo is not None:
        view = geo[0]  # type: ignore[assignment]  # one of the View names
    sk = geo[2] if geo is not None and geo[2] is not None else kp  # what angles and steps are measured on
    params: dict[str, Measure] = {}
    vis = float(np.nanmean(kp[:, HIP_L:TOE_R + 1, 2])) if np.isfinite(kp[:, HIP_L:, 2]).any() else 0.0
    sagittal_ok = view in ("side", "oblique")
    # on the sagittal plane an oblique view loses only resolution, in the image also the geometry
    view_conf = {"side": 1.0, "oblique": 0.8 if rectified else 0.5}.get(view, 0.0)
    angles = joint_angles(sk) if sagittal_ok else {}
    ev = gait_events(sk, ts) if sagittal_ok else None
    ground = ground_parameters(kp, ev, ts, homography)
    toe_out = ground["foot_angle_deg"].value
    if rectified and sagittal_ok and toe_out is not None:
        # the toes lie off the heels' plane by the foot angle: placed again, the ankle's angle is true
        again = sagittal_view(kp, homography, principal_point, toe_out_deg=toe_out)
        if again is not None and again[2] is not None:
            angles = {**angles, **{k: v for k, v in joint_angles(again[2]).items() if k.startswith("ankle")}}
    for joint in ("hip", "knee", "ankle"):
        for side in ("left", "right"):
            name = f"{joint}_{side}_range_deg"
            if not sagittal_ok:
                params[name] = _none("deg", f"{view} view: the legs swing along the line of sight")
                continue
            # over the mean cycle where the steps are seen, else over the frames (jitter inflates it)
            r = cycle_range(angles[f"{joint}_{side}"], getattr(ev, side)) if ev is not None else None
            r = r if r is not None else _range(angles[f"{joint}_{side}"])
            params[name] = (
                _none("deg", f"{joint} and its neighbours seen in fewer than {MIN_FRAMES} frames") if r is None else
                _none("deg", f"implausible range of {r:.0f}°: keypoints astray") if r > MAX_RANGE_DEG[joint] else
                Measure(r, "deg", vis * view_conf))
    no_ev = _none("", f"{view} view: steps need the feet seen passing each other across the image"
                  if not sagittal_ok else "no clear steps: the feet are not seen passing each other")
    if ev is None:
        for name, unit in (("cadence_spm", "steps/min"), ("step_time_asymmetry_pct", "%"),
                           ("step_length_asymmetry_pct", "%"), ("step_length_legs", "legs")):
            params[name] = Measure(None, unit, 0.0, no_ev.reason)
    else:
        tl, tr, ll, lr = _steps(ev, ts)
        steps = tl + tr
        conf = vis * view_conf * min(1.0, len(steps) / 4)
        cad = 60.0 / float(np.median(steps)) if steps else None
        params["cadence_spm"] = Measure(cad, "steps/min", conf) if cad else _none("steps/min", "no whole step")
        si_t, si_l = _symmetry_index(tl, tr), _symmetry_index(ll, lr)
        params["step_time_asymmetry_pct"] = (Measure(si_t, "%", conf) if si_t is not None
                                             else _none("%", "needs a left and a right step"))
        # in image pixels the near leg's steps look longer than the far one's unless the walker
        # crosses the view square on (a side view); elsewhere only the ground plane can tell
        square_on = view == "side" or rectified
        params["step_length_asymmetry_pct"] = (
            Measure(si_l, "%", conf * 0.7) if si_l is not None and square_on
            else _none("%", "needs a left and a right step" if view == "side" else
                       f"{view} view: step lengths in pixels differ with depth; needs a calibrated camera"
                       if not square_on else "needs a left and a right step"))
        # step length in leg lengths (hip to ankle in the image): scale-free, so comparable across
        # uncalibrated recordings; only square-on, where the step lies in the image plane
        leg = np.nanmedian(np.linalg.norm(_pts(sk, HIP_L) - _pts(sk, ANKLE_L), axis=1))
        params["step_length_legs"] = (
            Measure(float(np.median(ll + lr)) / float(leg), "legs", conf * 0.7)
            if square_on and ll + lr and np.isfinite(leg) and leg > 0
            else _none("legs", "no whole step" if square_on else
                       f"{view} view: steps in the image are foreshortened; needs a side view"))
    if silhouette_cadence and params["cadence_spm"].value:
        diff = 100.0 * abs(params["cadence_spm"].value - silhouette_cadence) / silhouette_cadence
        params["cadence_disagreement_pct"] = Measure(diff, "%", params["cadence_spm"].confidence)
    else:
        params["cadence_disagreement_pct"] = _none("%", "needs both the keypoint and the silhouette cadence")
    ds = double_support(sk, ts) if view != "frontal" else None
    fps = (len(ts) - 1) / max(float(ts[-1] - ts[0]), 1e-9) if len(ts) > 1 else 0.0
    params["double_support_share"] = (
        Measure(ds, "share", vis * min(1.0, fps / 50.0)) if ds is not None
        else _none("share", "the walker does not cross the image (frontal view or standing)"))
    sl = ground.pop("step_length_asymmetry_pct")
    if sl.value is not None:
        params["step_length_asymmetry_pct"] = sl  # metres on the ground beat pixels
    params.update(ground)
    return {"view": view, "view_source": "calibration" if geo is not None else "keypoints",
            "view_angle_deg": None if geo is None else round(geo[1], 1),
            "breadth_ratio": None if not np.isfinite(ratio) else round(ratio, 3), "params": params}

