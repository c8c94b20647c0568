"""Keypoint truth of a simulated walker: exact joints in BlazePose's layout, and true angle ranges.

The walkers' joints are exact (:func:`sim.body.pose`); here they are projected through a
camera into the 33-keypoint layout :mod:`gait.vision.pose` produces (points the body model
has no joint for -- eyes, ears, fingers -- are NaN with visibility 0), so the keypoint gait
parameters can be checked against the truth without the pose model in between. The true
joint-angle ranges come straight from each identity's Fourier curves.
"""

from __future__ import annotations

import numpy as np

from gait.vision import pose as bp
from sim import body
from sim.camera import PinholeCamera
from sim.city import Walker

# sim joint -> BlazePose keypoint
_MAP = {body.SHOULDER_L: bp.SHOULDER_L, body.SHOULDER_R: bp.SHOULDER_R, body.HIP_L: bp.HIP_L,
        body.HIP_R: bp.HIP_R, body.KNEE_L: bp.KNEE_L, body.KNEE_R: bp.KNEE_R, body.ANKLE_L: bp.ANKLE_L,
        body.ANKLE_R: bp.ANKLE_R, body.HEEL_L: bp.HEEL_L, body.HEEL_R: bp.HEEL_R, body.TOE_L: bp.TOE_L,
        body.TOE_R: bp.TOE_R, body.HEAD: bp.NOSE, body.ELBOW_L: 13, body.ELBOW_R: 14, body.WRIST_L: 15,
        body.WRIST_R: 16}


def world_pose(ident: body.Identity, t: np.ndarray, heading: float = 0.0,
               start: tuple[float, float] = (0.0, 0.0), phase0: float = 0.0) -> np.ndarray:
    """Joints ``[T, 20, 3]`` of ``ident`` walking from ground point ``start`` along ``heading`` (rad)."""
    p = body.pose(ident, t, phase0)  # [T, J, 3] walking along +x
    c, s = np.cos(heading), np.sin(heading)
    x, y = p[..., 0].copy(), p[..., 1].copy()
    p[..., 0] = c * x - s * y + start[0]
    p[..., 1] = s * x + c * y + start[1]
    return p


def keypoints(joints: np.ndarray, camera: PinholeCamera) -> np.ndarray:
    """BlazePose-layout keypoints ``[T, 33, 3]`` (pixels, visibility 1) of world joints ``[T, 20, 3]``."""
    uv, _ = camera.project(joints)  # [T, J, 2]
    out = np.full((len(joints), bp.N_KEYPOINTS, 3), np.nan, np.float32)
    for j, k in _MAP.items():
        out[:, k, :2] = uv[:, j]
        out[:, k, 2] = 1.0
    return out


def angle_ranges(ident: body.Identity, samples: int = 200) -> dict[str, float]:
    """True range (max - min, degrees) of hip flexion, knee flexion and ankle dorsiflexion over
    one gait cycle, per side (the right leg's hip swing is scaled by the identity's asymmetry, as
    :func:`sim.body.pose` draws it)."""
    g = ident.gait
    b = body._basis(np.linspace(0, 1, samples, endpoint=False))  # [s, 1 + 2K]
    hip = np.degrees(b @ g.coef["hip"])
    knee = np.degrees(np.maximum(b @ g.coef["knee"], 0.0))
    ank = np.degrees(b @ g.coef["ankle"])
    out = {}
    for side, amp in (("left", 1.0), ("right", g.asym)):
        out[f"hip_{side}_range_deg"] = float(np.ptp(hip)) * amp
        out[f"knee_{side}_range_deg"] = float(np.ptp(knee))
        out[f"ankle_{side}_range_deg"] = float(np.ptp(ank))
    return out


def walker_joints(walker: Walker, t: np.ndarray) -> np.ndarray:
    """Joints ``[T, 20, 3]`` of a city walker at its own times ``t`` (s from the city's start), on its
    route, exactly as :func:`sim.cityrender.world_figure` places the figure it renders."""
    pos, heading, _ = walker.position(t)
    carry_side = walker.outfit.side if walker.outfit.carry == "handbag" else 0
    j = body.pose(walker.ident, t, phase0=walker.phase0, carry_side=carry_side)  # [T, J, 3] along +x
    j[..., 0] -= (walker.speed * t)[:, None]  # walk in place, then place on the route
    c, s = np.cos(heading)[:, None], np.sin(heading)[:, None]
    x, y = j[..., 0].copy(), j[..., 1].copy()
    j[..., 0] = c * x - s * y + pos[:, 0:1]
    j[..., 1] = s * x + c * y + pos[:, 1:2]
    return j


def gait_truth(ident: body.Identity, cycles: int = 12, rate: float = 200.0) -> dict[str, float]:
    """The true value of every keypoint gait parameter of ``ident``, each by the definition
    :mod:`gait.vision.pose_parameters` measures it with, applied to the exact 3-D joints of a
    straight walk (body frame: x forward, y left) instead of to image keypoints.

    Joint ranges are :func:`angle_ranges`. The strikes are where the body model puts them (left at
    cycle phase 0, right at 0.5), so step times are equal (step-time asymmetry 0). A foot's contact
    is its heel's ground point over the middle half of its single support, on the third of those
    instants it is lowest; step width, progression deviation, foot angle and step-length asymmetry
    follow from the contacts as in :func:`gait.vision.pose_parameters.ground_parameters`. Double
    support: the share of time both ankles move forward at under half the body's speed. Step length
    in legs: the ankles' forward separation at the strikes over the median hip-to-ankle distance.
    """
    g = ident.gait
    f = g.cadence_spm / 120.0  # strides per second
    t = np.arange(0.0, cycles / f, 1.0 / rate)
    p = body.pose(ident, t)  # [T, J, 3]
    u = (f * t) % 1.0
    k = np.floor(f * t + 1e-9).astype(int)
    contacts = []  # (time, side, heel xy, heel->toe xy)
    for side, heel, toe, lo in (("left", body.HEEL_L, body.TOE_L, 0.0), ("right", body.HEEL_R, body.TOE_R, 0.5)):
        for c in range(cycles):
            sel = np.flatnonzero((k == c) & (u >= lo + 0.125) & (u <= lo + 0.375))
            if len(sel) == 0:
                continue
            sel = sel[p[sel, heel, 2] <= np.percentile(p[sel, heel, 2], 34)]
            contacts.append((float(t[sel[0]]), side, np.median(p[sel, heel, :2], axis=0),
                             np.median(p[sel, toe, :2] - p[sel, heel, :2], axis=0)))
    contacts.sort(key=lambda c: c[0])
    xy = np.array([c[2] for c in contacts])  # [m, 2]
    centre = xy.mean(axis=0)
    _, _, vt = np.linalg.svd(xy - centre)
    along = vt[0] * (1.0 if float(np.dot(xy[-1] - xy[0], vt[0])) >= 0 else -1.0)
    lateral = np.array([-along[1], along[0]])
    lat, fwd = (xy - centre) @ lateral, (xy - centre) @ along
    widths: list[float] = []
    mids: list[float] = []
    lengths: dict[str, list[float]] = {"left": [], "right": []}
    for a in range(len(contacts) - 1):
        b = a + 1
        if contacts[a][1] != contacts[b][1]:
            widths.append(abs(lat[b] - lat[a]))
            mids.append((lat[a] + lat[b]) / 2)
            lengths[contacts[b][1]].append(abs(fwd[b] - fwd[a]))
    angles = [np.degrees(np.arctan2(float(d @ lateral), float(d @ along))) * (1 if side == "left" else -1)
              for _, side, _, d in contacts]
    ml, mr = float(np.median(lengths["left"])), float(np.median(lengths["right"]))
    speed = body.walking_speed(ident)
    stance = [np.abs(np.gradient(p[:, a, 0], t)) < 0.5 * speed for a in (body.ANKLE_L, body.ANKLE_R)]
    sep = np.abs(p[:, body.ANKLE_L, 0] - p[:, body.ANKLE_R, 0])  # [T] forward separation
    at_strike = [float(sep[max(0, i - 5):i + 6].max()) for i in
                 np.flatnonzero(np.diff(np.floor(2 * f * t + 1e-9)) > 0) + 1]  # every half cycle
    leg = float(np.median(np.linalg.norm(p[:, body.HIP_L] - p[:, body.ANKLE_L], axis=1)))
    out = angle_ranges(ident)
    out.update({"cadence_spm": g.cadence_spm, "step_time_asymmetry_pct": 0.0,
                "step_length_asymmetry_pct": 200.0 * abs(ml - mr) / (ml + mr),
                "double_support_share": float((stance[0] & stance[1]).mean()),
                "step_width_m": float(np.median(widths)),
                "progression_deviation_m": float(np.sqrt(np.mean(np.square(mids)))),
                "foot_angle_deg": float(np.median(angles)),
                "step_length_legs": float(np.median(at_strike)) / leg})
    return out
