"""The site as the control room draws it: cameras with their position and field of view on the ground
plane, the topology's links, and an optional floor-plan image, from a network config.

Positions are site ground-plane metres, the frame every homography of the network maps into; headings
are degrees counter-clockwise from +x. :func:`camera_pose_from_homography` recovers a calibrated camera's
position, heading and field of view from its homography (the network configs write them down; a test
checks that they agree).
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from configs.exceptions import ConfigError
from configs.schema import Camera, LoadedNetwork, Network

MAP_URL = "/api/v1/site/map"
"""Where the API serves the site's map image (``GET``), named in :func:`site_view`."""


@dataclass(frozen=True)
class CameraPose:
    """Where a camera stands and looks, recovered from its homography.

    ``position`` is the ground point below the camera (metres), ``height_m`` its height above the ground,
    ``heading_deg`` the direction of its optical axis on the ground (counter-clockwise from +x),
    ``fov_deg`` its horizontal field of view, ``near_m``/``far_m`` the ground distances from ``position``
    to the bottom and top centre of the image (``far_m`` is infinite when the top row is above the horizon).
    """

    position: tuple[float, float]
    height_m: float
    heading_deg: float
    fov_deg: float
    near_m: float
    far_m: float


def camera_pose_from_homography(h: np.ndarray, width: int, height: int) -> CameraPose:
    """Decompose an image-to-ground homography of a ``width`` x ``height`` image, assuming a pinhole camera
    with square pixels, no skew and the principal point at the image centre.

    Raises:
        ConfigError: the homography is not one of such a camera looking at the ground.
    """
    cx, cy = width / 2.0, height / 2.0
    g = np.linalg.inv(np.asarray(h, np.float64))  # [3, 3] ground (x, y, 1) -> image
    a = g[0] - cx * g[2]  # per column: f * (r_x) * s
    b = g[1] - cy * g[2]  # f * (r_y) * s
    c = g[2]  # (r_z) * s
    # the first two columns are orthogonal unit vectors once divided by f: two equations for f^2
    cand = []
    if abs(c[0] * c[1]) > 1e-12:
        cand.append(-(a[0] * a[1] + b[0] * b[1]) / (c[0] * c[1]))
    if abs(c[1] ** 2 - c[0] ** 2) > 1e-12:
        cand.append((a[0] ** 2 + b[0] ** 2 - a[1] ** 2 - b[1] ** 2) / (c[1] ** 2 - c[0] ** 2))
    cand = [f2 for f2 in cand if f2 > 0]
    if not cand:
        raise ConfigError("the homography is not that of a pinhole camera looking at the ground")
    f = math.sqrt(cand[-1] if len(cand) == 1 else float(np.median(cand)))
    kinv = np.linalg.inv(np.array([[f, 0, cx], [0, f, cy], [0, 0, 1.0]]))
    m = kinv @ g  # [3, 3] = s [r1 r2 t]
    s = 1.0 / math.sqrt(float(np.linalg.norm(m[:, 0]) * np.linalg.norm(m[:, 1])))
    centre_ground = np.asarray(h, np.float64) @ np.array([cx, cy, 1.0])
    if float((m @ (centre_ground / centre_ground[2]))[2]) * s < 0:
        s = -s  # the ground at the image centre must lie in front of the camera
    r1, r2, t = m[:, 0] * s, m[:, 1] * s, m[:, 2] * s
    rot = np.stack([r1, r2, np.cross(r1, r2)], axis=1)  # [3, 3] world -> camera
    centre = -rot.T @ t  # [3] camera centre in the world
    forward = rot.T @ np.array([0.0, 0.0, 1.0])  # optical axis in the world
    if abs(centre[2]) < 1e-9 or math.hypot(forward[0], forward[1]) < 1e-9:
        raise ConfigError("the homography's camera stands on the ground or looks straight down")

    def ground_distance(u: float, v: float) -> float:
        p = np.asarray(h, np.float64) @ np.array([u, v, 1.0])
        ray = rot.T @ (kinv @ np.array([u, v, 1.0]))  # viewing direction of that pixel
        if ray[2] * np.sign(-centre[2]) <= 0:
            return math.inf  # at or above the horizon
        return float(math.hypot(p[0] / p[2] - centre[0], p[1] / p[2] - centre[1]))

    return CameraPose(position=(float(centre[0]), float(centre[1])), height_m=abs(float(centre[2])),
                      heading_deg=math.degrees(math.atan2(forward[1], forward[0])) % 360.0,
                      fov_deg=math.degrees(2 * math.atan(width / (2 * f))),
                      near_m=ground_distance(cx, height), far_m=ground_distance(cx, 0.0))


def _wedge_points(c: Camera) -> list[tuple[float, float]]:
    """The camera's position and the far corners of its field of view."""
    assert c.position is not None
    x, y = c.position
    pts = [(x, y)]
    if c.heading_deg is not None:
        for side in (-1, 0, 1):
            a = math.radians(c.heading_deg + side * c.fov_deg / 2)
            pts.append((x + c.range_m * math.cos(a), y + c.range_m * math.sin(a)))
    else:
        pts += [(x - c.range_m, y - c.range_m), (x + c.range_m, y + c.range_m)]
    return pts


def site_bounds(network: Network) -> tuple[float, float, float, float] | None:
    """The ground rectangle the site covers: the configured ``site.bounds``, else the extent of the
    cameras' fields of view with a 5 % margin, else None when no camera has a position."""
    if network.site is not None and network.site.bounds is not None:
        return network.site.bounds
    pts = [p for c in network.cameras if c.position is not None for p in _wedge_points(c)]
    if not pts:
        return None
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    pad = 0.05 * max(max(xs) - min(xs), max(ys) - min(ys), 1.0)
    return (round(min(xs) - pad, 2), round(min(ys) - pad, 2), round(max(xs) + pad, 2), round(max(ys) + pad, 2))


def site_map_path(loaded: LoadedNetwork) -> Path | None:
    """The site's map image (resolved against the config file's folder), or None when the network has none."""
    site = loaded.network.site
    if site is None or site.map_image is None:
        return None
    p = Path(site.map_image)
    return p if p.is_absolute() else (loaded.base / p).resolve()


def site_view(loaded: LoadedNetwork, seen: Collection[str] = ()) -> dict[str, Any]:
    """The site as ``GET /api/v1/cameras`` answers it (JSON-ready).

    Args:
        loaded: the network config.
        seen: camera ids the store holds sightings of (each camera's ``seen``).
    """
    net = loaded.network
    bounds = site_bounds(net)
    seen_ids = set(seen)
    return {
        "site": {"name": net.name, "map_image": MAP_URL if site_map_path(loaded) is not None else None,
                 "bounds": None if bounds is None else list(bounds)},
        "cameras": [{"id": c.id, "region": c.region, "position": None if c.position is None else list(c.position),
                     "heading_deg": c.heading_deg, "fov_deg": c.fov_deg, "range_m": c.range_m,
                     "lat": c.lat, "lon": c.lon, "seen": c.id in seen_ids} for c in net.cameras],
        "links": [{"from": e.from_, "to": e.to, "min_transit_s": e.min_transit_s,
                   "typical_transit_s": e.typical_transit_s} for e in net.topology],
    }


def ground_view(image: np.ndarray, homography: np.ndarray, bounds: tuple[float, float, float, float],
                px_per_m: float = 8.0, fill: tuple[int, int, int] = (235, 235, 235)) -> np.ndarray:
    """A camera's image seen from above: ``image`` ``[h, w, 3]`` warped through its image-to-ground
    ``homography`` onto the ground rectangle ``bounds`` (x_min, y_min, x_max, y_max metres) with +y up,
    ``px_per_m`` pixels a metre; ground the camera does not see is ``fill``. Gives a site without a floor
    plan a real map image (tall things such as walls and poles smear away from the camera)."""
    import cv2

    x0, y0, x1, y1 = bounds
    out_w, out_h = round((x1 - x0) * px_per_m), round((y1 - y0) * px_per_m)
    to_map = np.array([[px_per_m, 0, -x0 * px_per_m], [0, -px_per_m, y1 * px_per_m], [0, 0, 1.0]])
    back = np.linalg.inv(to_map @ np.asarray(homography, np.float64))  # [3, 3] map pixel -> image pixel
    yy, xx = np.mgrid[0:out_h, 0:out_w]  # [H, W]
    p = np.stack([xx, yy, np.ones_like(xx)], axis=-1).reshape(-1, 3).astype(np.float64) @ back.T  # [H*W, 3]
    ih, iw = image.shape[:2]
    # the ground at the image centre fixes which sign of w lies in front of the camera (not behind it)
    centre = to_map @ np.asarray(homography, np.float64) @ np.array([iw / 2, ih / 2, 1.0])
    front = np.sign((back @ centre)[2])
    with np.errstate(divide="ignore", invalid="ignore"):
        u, v = p[:, 0] / p[:, 2], p[:, 1] / p[:, 2]
    ok = (np.sign(p[:, 2]) == front) & (u >= 0) & (u < iw) & (v >= 0) & (v < ih)
    map_x = np.where(ok, u, -1).reshape(out_h, out_w).astype(np.float32)
    map_y = np.where(ok, v, -1).reshape(out_h, out_w).astype(np.float32)
    return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=fill)
