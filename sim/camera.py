"""Pinhole cameras: world (x, y ground metres, z up) → image pixels, and ground homographies."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PinholeCamera:
    """A camera at ``centre`` looking at ``target`` with focal length ``f`` pixels.

    ``R`` rows are the camera axes (right, down, forward) in world coordinates.
    """

    centre: np.ndarray  # [3]
    R: np.ndarray  # [3, 3]
    f: float
    cx: float
    cy: float

    @classmethod
    def look_at(cls, centre: np.ndarray, target: np.ndarray, f: float, cx: float, cy: float) -> PinholeCamera:
        """Build a level camera (no roll) at ``centre`` looking at ``target``.

        Args:
            centre: camera position ``[3]`` in metres.
            target: a point ``[3]`` the optical axis passes through.
            f: focal length in pixels; cx, cy: principal point in pixels.
        """
        fwd = np.asarray(target, float) - np.asarray(centre, float)
        fwd /= np.linalg.norm(fwd)
        right = np.cross(fwd, [0.0, 0.0, 1.0])
        right /= np.linalg.norm(right)
        down = np.cross(fwd, right)
        return cls(np.asarray(centre, float), np.stack([right, down, fwd]), float(f), float(cx), float(cy))

    @property
    def K(self) -> np.ndarray:
        """Intrinsic matrix ``[3, 3]``."""
        return np.array([[self.f, 0, self.cx], [0, self.f, self.cy], [0, 0, 1.0]])

    def project(self, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Project world points ``[..., 3]`` to pixels ``[..., 2]`` and depths ``[...]`` (metres)."""
        pc = (pts - self.centre) @ self.R.T  # [..., 3] camera coordinates
        z = np.maximum(pc[..., 2], 1e-3)  # points behind the camera are pushed to its plane
        uv = np.stack([self.f * pc[..., 0] / z + self.cx, self.f * pc[..., 1] / z + self.cy], axis=-1)
        return uv, z

    def ground_to_image(self) -> np.ndarray:
        """Homography ``[3, 3]`` mapping ground (x, y, 1) metres to image pixels."""
        t = -self.R @ self.centre
        H = self.K @ np.stack([self.R[:, 0], self.R[:, 1], t], axis=1)
        return H / H[2, 2]

    def image_to_ground(self) -> np.ndarray:
        """Homography ``[3, 3]`` mapping image pixels (u, v, 1) to ground metres (the config's)."""
        H = np.linalg.inv(self.ground_to_image())
        return H / H[2, 2]
