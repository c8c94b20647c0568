"""Rasterise figures: tapered capsules and inflated hulls through a pinhole camera.

Projection is vectorised over all frames and primitives; the per-frame loop only issues
OpenCV fill calls in sub-pixel fixed point (``SHIFT`` fractional bits), which keeps thin
limbs of small, distant people smooth.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from sim.camera import PinholeCamera
from sim.outfit import Figure

SHIFT = 4
ONE = 1 << SHIFT
_RING = np.stack([np.cos(np.arange(8) * np.pi / 4), np.sin(np.arange(8) * np.pi / 4)], axis=1)  # [8, 2]


@dataclass
class Projected:
    """A figure in pixels, fixed point (``x * 16``), ready to draw frame by frame."""

    quads: np.ndarray  # [T, S, 4, 2] int32 capsule bodies
    centres: np.ndarray  # [T, S, 2, 2] int32 capsule end caps
    radii: np.ndarray  # [T, S, 2] int32
    hulls: list[np.ndarray]  # each [T, m * 8, 2] int32 ring samples of inflated points
    parts: list[int]  # capsules then hulls
    depth: np.ndarray  # [T, S + H] mean depth of each primitive (painter's order)
    lo: np.ndarray  # [T, 2] float pixel bounding box
    hi: np.ndarray  # [T, 2]

    @property
    def n_frames(self) -> int:
        """Number of frames."""
        return int(self.quads.shape[0])


def project(fig: Figure, cam: PinholeCamera) -> Projected:
    """Project every primitive of ``fig`` for every frame.

    Args:
        fig: points ``[T, Q, 3]`` and primitives.
        cam: the camera.
    """
    uv, z = cam.project(fig.points)  # [T, Q, 2], [T, Q]
    a = np.array([c[0] for c in fig.capsules])
    b = np.array([c[1] for c in fig.capsules])
    ra = cam.f * np.array([c[2] for c in fig.capsules])[None] / z[:, a]  # [T, S] pixels
    rb = cam.f * np.array([c[3] for c in fig.capsules])[None] / z[:, b]
    pa, pb = uv[:, a], uv[:, b]  # [T, S, 2]
    d = pb - pa
    n = np.stack([-d[..., 1], d[..., 0]], -1) / np.maximum(np.linalg.norm(d, axis=-1, keepdims=True), 1e-6)
    quads = np.stack([pa + n * ra[..., None], pb + n * rb[..., None], pb - n * rb[..., None],
                      pa - n * ra[..., None]], axis=2)  # [T, S, 4, 2]
    centres = np.stack([pa, pb], axis=2)  # [T, S, 2, 2]
    radii = np.stack([ra, rb], axis=2)  # [T, S, 2]
    hulls = []
    lo = np.minimum((pa - ra[..., None]).min(1), (pb - rb[..., None]).min(1))  # [T, 2]
    hi = np.maximum((pa + ra[..., None]).max(1), (pb + rb[..., None]).max(1))
    depth = [0.5 * (z[:, a] + z[:, b])]
    for idx, infl, _ in fig.hulls:
        r = cam.f * infl / z[:, idx]  # [T, m]
        ring = uv[:, idx, None, :] + r[..., None, None] * _RING[None, None]  # [T, m, 8, 2]
        ring = ring.reshape(len(uv), -1, 2)
        hulls.append(np.round(ring * ONE).astype(np.int32))
        lo = np.minimum(lo, ring.min(1))
        hi = np.maximum(hi, ring.max(1))
        depth.append(z[:, idx].mean(1, keepdims=True))
    parts = [c[4] for c in fig.capsules] + [h[2] for h in fig.hulls]
    return Projected(quads=np.round(quads * ONE).astype(np.int32), centres=np.round(centres * ONE).astype(np.int32),
                     radii=np.maximum(np.round(radii * ONE), ONE // 2).astype(np.int32), hulls=hulls, parts=parts,
                     depth=np.concatenate(depth, axis=1), lo=lo, hi=hi)


def draw(p: Projected, i: int, canvas: np.ndarray, offset: tuple[int, int],
         colours: np.ndarray | None = None, value: int = 255) -> None:
    """Fill frame ``i`` of ``p`` into ``canvas``.

    Args:
        p: the projected figure.
        i: frame index.
        canvas: ``[h, w]`` uint8 mask or ``[h, w, 3]`` uint8 image, drawn in place.
        offset: canvas origin (x, y) in the camera image, whole pixels.
        colours: ``[n_parts, 3]`` BGR per part, or None to fill ``value`` (mask; no ordering needed).
        value: the fill of a mask.
    """
    off = np.array(offset, dtype=np.int32) * ONE
    n_caps = p.quads.shape[1]
    order = range(n_caps + len(p.hulls)) if colours is None else np.argsort(-p.depth[i], kind="stable")
    for k in order:
        col: tuple[int, ...] | int = value if colours is None else tuple(int(c) for c in colours[p.parts[k]])
        if k < n_caps:
            cv2.fillConvexPoly(canvas, p.quads[i, k] - off, col, cv2.LINE_8, SHIFT)
            for e in (0, 1):
                cv2.circle(canvas, tuple(int(v) for v in p.centres[i, k, e] - off), int(p.radii[i, k, e]),
                           col, -1, cv2.LINE_8, SHIFT)
        else:
            hull = cv2.convexHull(p.hulls[k - n_caps][i] - off)
            cv2.fillConvexPoly(canvas, hull, col, cv2.LINE_8, SHIFT)


def frame_box(p: Projected, i: int, margin: int = 2) -> tuple[int, int, int, int]:
    """Integer box (x0, y0, w, h) around frame ``i`` with ``margin`` pixels of room."""
    x0, y0 = (np.floor(p.lo[i]) - margin).astype(int)
    x1, y1 = (np.ceil(p.hi[i]) + margin).astype(int)
    return int(x0), int(y0), int(x1 - x0), int(y1 - y0)
