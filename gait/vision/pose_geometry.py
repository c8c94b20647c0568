"""Keypoints of a calibrated camera seen as from the walker's side: the sagittal-plane view.

In the image a leg's angles are foreshortened unless the camera looks square onto the walker's
path from the height of the hips: a camera on a pole looking down at an oblique walker makes a
straight knee look bent and a flat foot look tilted. A calibrated camera (its image->ground
homography) knows better. With the principal point (the image centre unless told) the homography
gives the whole camera: the focal length from the orthogonality of the ground axes, then its
rotation and position (:func:`camera_from_homography`). The feet's ground points give the
walking line; each keypoint's ray through the camera then meets the vertical plane along that
line (the sagittal plane), which puts the keypoint where a camera square onto the walker, at
infinite distance, would see it (:func:`sagittal_keypoints`). The result is in centimetres along
the path (x) and down from the ground (y), in the layout of :mod:`gait.vision.pose`, so the angle
and event code runs on it unchanged. The ray must cross the plane at a fair angle: seen from the
front the plane lies along the line of sight and nothing is recovered.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gait.vision.pose import ANKLE_L, ANKLE_R, HEEL_L, HEEL_R, HIP_L, HIP_R, KNEE_L, KNEE_R, TOE_L, TOE_R

MIN_TRAVEL_M = 0.5  # the walking line needs the feet to move this far over the stretch
MIN_CROSSING_DEG = 25.0  # rays meeting the sagittal plane at a shallower angle are not trusted
CM = 100.0  # the rectified keypoints' unit: centimetres


@dataclass(frozen=True)
class Camera:
    """A pinhole camera recovered from a ground homography: ``K`` ``[3, 3]``, world->camera
    rotation ``R`` ``[3, 3]`` and centre ``C`` ``[3]`` (ground metres, z up)."""

    K: np.ndarray
    R: np.ndarray
    C: np.ndarray

    def rays(self, uv: np.ndarray) -> np.ndarray:
        """World directions ``[..., 3]`` of the rays through pixels ``uv`` ``[..., 2]``."""
        p = np.concatenate([uv, np.ones(uv.shape[:-1] + (1,))], axis=-1)  # [..., 3]
        return (p @ np.linalg.inv(self.K).T) @ self.R  # R^T applied on the right


def camera_from_homography(image_to_ground: np.ndarray, principal_point: tuple[float, float]) -> Camera | None:
    """The camera behind an image->ground homography, assuming square pixels, no skew and the
    given principal point; None when the homography admits no such camera (not a ground plane
    seen from above, or a degenerate view)."""
    g = np.linalg.inv(np.asarray(image_to_ground, np.float64))  # ground (x, y, 1) -> image
    cx, cy = principal_point
    a = g.copy()
    a[0] -= cx * a[2]
    a[1] -= cy * a[2]  # [f r1, f r2, f t] rows x, y; row z is [r1z r2z tz], all up to one scale
    # r1 . r2 = 0 and |r1| = |r2|, linear in w = 1 / f^2: solved together (either alone degenerates
    # when a ground axis is parallel to the image plane)
    lhs = np.array([a[0, 0] * a[0, 1] + a[1, 0] * a[1, 1], a[0, 0] ** 2 + a[1, 0] ** 2 - a[0, 1] ** 2 - a[1, 1] ** 2])
    rhs = -np.array([a[2, 0] * a[2, 1], a[2, 0] ** 2 - a[2, 1] ** 2])
    if float(lhs @ lhs) < 1e-18:
        return None
    w = float(lhs @ rhs) / float(lhs @ lhs)
    if not w > 0:
        return None
    f = float(1.0 / np.sqrt(w))
    k = np.array([[f, 0, cx], [0, f, cy], [0, 0, 1.0]])
    m = np.linalg.inv(k) @ g  # [r1 r2 t] * s
    s = (np.linalg.norm(m[:, 0]) + np.linalg.norm(m[:, 1])) / 2
    m /= s
    # the scale's sign: the one that puts the ground seen at the image centre in front of the camera
    seen = np.asarray(image_to_ground, np.float64) @ np.array([cx, cy, 1.0])
    seen = np.array([seen[0] / seen[2], seen[1] / seen[2], 1.0])
    for sign in (1.0, -1.0):
        r1, r2, t = sign * m[:, 0], sign * m[:, 1], sign * m[:, 2]
        u, _, vt = np.linalg.svd(np.stack([r1, r2, np.cross(r1, r2)], axis=1))  # nearest rotation
        rot = u @ vt
        if float((np.stack([r1, r2, t], axis=1) @ seen)[2]) > 0:
            centre = -rot.T @ t
            # a camera under the ground: the homography was not of the ground plane seen from above
            return Camera(k, rot, centre) if centre[2] > 0 else None
    return None


def _ground(h: np.ndarray, uv: np.ndarray) -> np.ndarray:
    p = np.c_[uv, np.ones(len(uv))] @ h.T
    return p[:, :2] / p[:, 2:3]


def walking_line(kp: np.ndarray, image_to_ground: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """A point ``[2]`` and the unit walking direction ``[2]`` on the ground, from the heels' (else the
    ankles') ground points over the stretch; None when they do not travel :data:`MIN_TRAVEL_M`."""
    pts, when = [], []
    for heel, ankle in ((HEEL_L, ANKLE_L), (HEEL_R, ANKLE_R)):
        uv = np.where(np.isfinite(kp[:, heel, :2]), kp[:, heel, :2], kp[:, ankle, :2]).astype(np.float64)
        ok = np.isfinite(uv).all(axis=1)
        if ok.any():
            pts.append(_ground(np.asarray(image_to_ground, np.float64), uv[ok]))
            when.append(np.flatnonzero(ok))
    if not pts:
        return None
    xy, idx = np.concatenate(pts), np.concatenate(when)
    xy_ok = np.isfinite(xy).all(axis=1)
    xy, idx = xy[xy_ok], idx[xy_ok]
    if len(xy) < 4:
        return None
    centre = xy.mean(axis=0)
    _, _, vt = np.linalg.svd(xy - centre)
    d = vt[0]
    along = (xy - centre) @ d
    if float(np.ptp(along)) < MIN_TRAVEL_M:
        return None
    if np.polyfit(idx.astype(np.float64), along, 1)[0] < 0:
        d = -d
    return centre, d


def view_angle(cam: Camera, point: np.ndarray, direction: np.ndarray) -> float:
    """Degrees between the walking ``direction`` and the camera's line of sight to ``point`` on the
    ground: 90 square on (a side view), 0 walking straight towards or away (frontal)."""
    sight = point - cam.C[:2]
    c = abs(float(np.dot(sight, direction))) / max(float(np.linalg.norm(sight)), 1e-9)
    return float(np.degrees(np.arccos(np.clip(c, 0.0, 1.0))))


# each leg's keypoints and the side of the walking line it walks on (+1: the walker's left)
LEGS = ((1.0, HIP_L, KNEE_L, ANKLE_L, HEEL_L, TOE_L), (-1.0, HIP_R, KNEE_R, ANKLE_R, HEEL_R, TOE_R))


def sagittal_keypoints(kp: np.ndarray, cam: Camera, point: np.ndarray, direction: np.ndarray,
                       toe_out_deg: float | None = None) -> np.ndarray:
    """Keypoints ``[n, 33, 3]`` moved onto the vertical plane along the walking line: x = cm along
    the walking direction, y = cm below the ground (image-like: y grows downwards), visibility
    kept; NaN where the ray crosses the plane at under :data:`MIN_CROSSING_DEG`.

    A point off the plane lands where its ray meets the plane, shifted along the ray: on one plane
    the near leg would sit ahead of (or behind) the far one by the walker's width times the view's
    cotangent, and the steps' timing with it. So each leg is met on its own plane, parallel to the
    walking line through its foot's median ground point (a foot is on the ground most of the
    time). A foot turned out by ``toe_out_deg`` (the foot angle, measured on the ground) holds its
    toe further out than its heel by the foot's length along the path times the angle's tangent:
    the toe is met on a plane moved out by that much, or the foot's pitch, and the ankle's angle
    with it, would take the offset for a tilt. What no plane undoes: the pelvis turning and tilting
    through the stride carries the feet across their planes and back (docs/gait-parameters.md)."""
    normal = np.array([-direction[1], direction[0], 0.0])  # horizontal, across the path: the walker's left
    rays = cam.rays(kp[..., :2].astype(np.float64))  # [n, 33, 3]
    rays /= np.linalg.norm(rays, axis=-1, keepdims=True)
    cos_n = rays @ normal  # [n, 33]
    crossing = np.degrees(np.arcsin(np.clip(np.abs(cos_n), 0, 1)))
    origin = np.array([point[0], point[1], 0.0])
    d3 = np.array([direction[0], direction[1], 0.0])
    safe_cos = np.where(np.abs(cos_n) > 1e-9, cos_n, np.nan)

    def onto(offset_m: np.ndarray | float, r: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        s = ((origin - cam.C) @ normal + offset_m) / c  # [...]
        world = cam.C + s[..., None] * r
        return np.stack([CM * ((world - origin) @ d3), -CM * world[..., 2]], axis=-1), s

    xy, s = onto(0.0, rays, safe_cos)
    tan_out = float(np.tan(np.radians(toe_out_deg))) if toe_out_deg is not None and np.isfinite(toe_out_deg) else 0.0
    for outward, hip, knee, ankle, heel, toe in LEGS:
        seen = np.isfinite(kp[:, heel, :2]).all(axis=1)[:, None]
        foot = np.where(seen, rays[:, heel], rays[:, ankle])  # [n, 3]
        on_ground = cam.C - (cam.C[2] / np.where(foot[:, 2] < -1e-9, foot[:, 2], np.nan))[:, None] * foot
        side_m = (on_ground - origin) @ normal  # [n] the foot's offset from the line
        side_m = side_m[np.isfinite(side_m)]
        plane = float(np.median(side_m)) if len(side_m) else 0.0
        leg = [hip, knee, ankle, heel, toe]
        xy[:, leg], s[:, leg] = onto(plane, rays[:, leg], safe_cos[:, leg])
        for _ in range(2 if tan_out else 0):  # the foot's length along the path, from the last estimate of the toe
            length_m = (xy[:, toe, 0] - xy[:, heel, 0]) / CM  # [n]
            xy[:, toe], s[:, toe] = onto(plane + outward * length_m * tan_out, rays[:, toe], safe_cos[:, toe])
    out = np.full(kp.shape, np.nan, np.float32)
    out[..., :2] = xy
    out[..., 2] = kp[..., 2]
    bad = (crossing < MIN_CROSSING_DEG) | ~np.isfinite(s) | (s <= 0)
    out[bad, :2] = np.nan
    return out


def sagittal_view(kp: np.ndarray, image_to_ground: np.ndarray | None,
                  principal_point: tuple[float, float] | None,
                  toe_out_deg: float | None = None) -> tuple[str, float, np.ndarray | None] | None:
    """On a calibrated camera: the walker's view from the geometry (``side`` >= 60° between path and
    line of sight, ``oblique`` >= 30°, else ``frontal``), that angle, and the keypoints on the
    sagittal plane (:func:`sagittal_keypoints`, with the feet turned out by ``toe_out_deg`` where
    known; None for a frontal view). None without a calibration, a recoverable camera or a
    walking line."""
    if image_to_ground is None or principal_point is None:
        return None
    cam = camera_from_homography(image_to_ground, principal_point)
    line = walking_line(kp, image_to_ground) if cam is not None else None
    if cam is None or line is None:
        return None
    point, direction = line
    ang = view_angle(cam, point, direction)
    view = "side" if ang >= 60 else "oblique" if ang >= 30 else "frontal"
    return view, ang, (sagittal_keypoints(kp, cam, point, direction, toe_out_deg) if view != "frontal" else None)
