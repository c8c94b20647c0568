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
