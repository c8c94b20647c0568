"""Plan a city: a street grid, cameras over intersections, and people walking routes.

Everything here is geometry and randomness, no pixels: :mod:`sim.cityrender` draws it.
Ground coordinates are metres; times are seconds from the city's start.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.sparse.csgraph import shortest_path

from sim.body import Identity, draw_identity, session, walking_speed
from sim.camera import PinholeCamera
from sim.exceptions import SimError
from sim.outfit import CARRIES, Outfit, everyday_outfit

BLOCK_M = 32.0  # street spacing
START_TIME = 1_700_000_000.0  # epoch seconds of frame 0 (fixed: same seed, same bytes)


@dataclass(frozen=True)
class CityCamera:
    """A camera over a street-grid node."""

    id: str
    node: int
    cam: PinholeCamera
    width: int
    height: int


@dataclass(frozen=True)
class Walker:
    """A person walking a polyline route from ``t0`` at ``speed`` m/s."""

    id: str
    ident: Identity
    outfit: Outfit
    colours: np.ndarray  # [6, 3] BGR per outfit part
    route: np.ndarray  # [K, 2] ground polyline (already offset to the pavement)
    t0: float
    phase0: float

    @property
    def speed(self) -> float:
        """Walking speed in m/s."""
        return walking_speed(self.ident)

    def position(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Ground position ``[T, 2]``, heading (rad) ``[T]`` and presence ``[T]`` at times ``t``."""
        seg = np.diff(self.route, axis=0)  # [K-1, 2]
        seglen = np.linalg.norm(seg, axis=1)
        cum = np.concatenate([[0.0], np.cumsum(seglen)])  # [K]
        s = self.speed * (t - self.t0)
        present = (s >= 0) & (s <= cum[-1])
        sc = np.clip(s, 0, cum[-1] - 1e-6)
        k = np.clip(np.searchsorted(cum, sc, side="right") - 1, 0, len(seg) - 1)
        frac = (sc - cum[k]) / np.maximum(seglen[k], 1e-9)
        pos = self.route[k] + frac[:, None] * seg[k]
        heading = np.arctan2(seg[k, 1], seg[k, 0])
        return pos, heading, present


@dataclass(frozen=True)
class CityPlan:
    """The whole scene: street grid, cameras and walkers."""

    seed: int
    duration: float
    fps: float
    nodes: np.ndarray  # [N, 2]
    edges: list[tuple[int, int]]
    cameras: list[CityCamera]
    walkers: list[Walker]
    sun: np.ndarray  # [3] light direction (z < 0)

    def transit(self) -> list[dict[str, float | str]]:
        """Topology edges between cameras whose shortest street path passes no other camera."""
        n = len(self.nodes)
        w = np.zeros((n, n))
        for a, b in self.edges:
            w[a, b] = w[b, a] = float(np.linalg.norm(self.nodes[a] - self.nodes[b]))
        dist, pred = shortest_path(w, directed=False, return_predecessors=True)
        cam_nodes = {c.node: c.id for c in self.cameras}
        out: list[dict[str, float | str]] = []
        for ca in self.cameras:
            for cb in self.cameras:
                if ca.id == cb.id:
                    continue
                k, blocked = pred[ca.node, cb.node], False
                while k >= 0 and k != ca.node:
                    blocked |= int(k) in cam_nodes
                    k = pred[ca.node, k]
                if blocked or not np.isfinite(dist[ca.node, cb.node]):
                    continue
                d = float(dist[ca.node, cb.node])
                # the views span ~±12 m around each node; fast walkers do 2.2 m/s
                out.append({"from": ca.id, "to": cb.id, "min_transit_s": round(max(d - 24, 0) / 2.2, 1),
                            "typical_transit_s": round(d / 1.35, 1), "distance_m": round(d, 1)})
        return out


def _grid(side: int) -> tuple[np.ndarray, list[tuple[int, int]]]:
    nodes = np.array([(i * BLOCK_M, j * BLOCK_M) for j in range(side) for i in range(side)], float)
    edges = []
    for j in range(side):
        for i in range(side):
            k = j * side + i
            if i + 1 < side:
                edges.append((k, k + 1))
            if j + 1 < side:
                edges.append((k, k + side))
    return nodes, edges


def _camera(rng: np.random.Generator, node_xy: np.ndarray, width: int, height: int) -> PinholeCamera:
    """A pole-mounted camera 9-13 m from an intersection, 6-9 m up, looking down at it.

    Steep enough that the view ends ~30 m out: cameras watch their own intersection, not the
    whole grid, so a person is on one camera at a time unless views really overlap.
    """
    ang = rng.uniform(0, 2 * np.pi)
    back = rng.uniform(9, 13)
    centre = np.array([node_xy[0] + back * np.cos(ang), node_xy[1] + back * np.sin(ang), rng.uniform(6.0, 9.0)])
    target = np.array([node_xy[0] + rng.normal(0, 1.5), node_xy[1] + rng.normal(0, 1.5), 0.0])
    hfov = np.radians(rng.uniform(55, 70))
    f = (width / 2) / np.tan(hfov / 2)
    return PinholeCamera.look_at(centre, target, f=f, cx=width / 2, cy=height / 2)


def _colours(rng: np.random.Generator) -> np.ndarray:
    """BGR colours per part (skin, top, bottom, shoes, bag, hair); some blend with the street."""
    skin = np.array([rng.uniform(60, 140), rng.uniform(90, 170), rng.uniform(130, 220)])
    cols = [skin] + [rng.uniform(15, 235, 3) for _ in range(2)]
    if rng.random() < 0.25:  # grey clothes on grey pavement: background subtraction will struggle
        g = rng.uniform(90, 150)
        cols[rng.integers(1, 3)] = np.array([g, g, g]) + rng.normal(0, 5, 3)
    cols += [rng.uniform(10, 70, 3), rng.uniform(20, 200, 3), rng.uniform(10, 80, 3)]
    return np.clip(np.stack(cols), 1, 255).astype(np.uint8)


def _route(rng: np.random.Generator, nodes: np.ndarray, edges: list[tuple[int, int]], length: float) -> np.ndarray:
    """A random walk along streets (no U-turns unless stuck), offset onto the right pavement."""
    nbr: dict[int, list[int]] = {}
    for a, b in edges:
        nbr.setdefault(a, []).append(b)
        nbr.setdefault(b, []).append(a)
    path = [int(rng.integers(len(nodes)))]
    prev = -1
    total = 0.0
    while total < length:
        opts = [n for n in nbr[path[-1]] if n != prev] or nbr[path[-1]]
        nxt = int(rng.choice(opts))
        total += float(np.linalg.norm(nodes[nxt] - nodes[path[-1]]))
        prev = path[-1]
        path.append(nxt)
    pts = nodes[path]  # [K, 2]
    offset = rng.uniform(1.2, 4.0) * rng.choice([-1, 1])
    d = np.diff(pts, axis=0)
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    nrm = np.stack([-d[:, 1], d[:, 0]], 1)  # [K-1, 2] left normals
    vn = np.concatenate([nrm[:1], nrm[:-1] + nrm[1:], nrm[-1:]])  # miter at corners
    vn /= np.maximum(np.linalg.norm(vn, axis=1, keepdims=True), 1e-9)
    # start part-way along the first street so people do not all appear at intersections
    start = pts[0] + rng.uniform(0.0, 0.9) * (pts[1] - pts[0])
    route = pts + offset * vn
    route[0] = start + offset * vn[0]
    return route


def plan_city(cameras: int, people: int, duration: float, seed: int, fps: float = 10.0,
              width: int = 768, height: int = 576) -> CityPlan:
    """Lay out a city.

    Args:
        cameras: number of cameras (each over its own intersection).
        people: number of walkers.
        duration: seconds of video per camera.
        seed: same seed, same city.
        fps: frames per second of every camera.
        width, height: image size in pixels.

    Raises:
        SimError: an impossible parameter, named.
    """
    if cameras < 1:
        raise SimError(f"--cameras must be at least 1 (got {cameras})")
    if people < 0:
        raise SimError(f"--people must not be negative (got {people})")
    if not duration > 0:
        raise SimError(f"--duration must be positive seconds (got {duration})")
    if not 0 < fps <= 60:
        raise SimError(f"--fps must be within (0, 60] (got {fps})")
    if width < 64 or height < 64 or width > 4096 or height > 4096:
        raise SimError(f"--size must be between 64x64 and 4096x4096 (got {width}x{height})")
    rng = np.random.default_rng([seed, 77])
    side = max(2, math.ceil(math.sqrt(cameras * 1.5)))
    nodes, edges = _grid(side)
    cam_nodes = rng.choice(len(nodes), size=cameras, replace=False)
    cams = [CityCamera(id=f"cam{i + 1}", node=int(n), cam=_camera(rng, nodes[n], width, height),
                       width=width, height=height) for i, n in enumerate(cam_nodes)]
    walkers = []
    for p in range(people):
        prng = np.random.default_rng([seed, 78, p])
        ident = session(draw_identity(prng), prng, speed=float(np.exp(prng.normal(0, 0.1))))
        everyday = everyday_outfit(prng)
        carry = str(prng.choice(CARRIES, p=[0.55, 0.2, 0.15, 0.1]))
        outfit = Outfit(top=str(prng.choice(["shirt", "coat", "jacket"], p=[0.6, 0.25, 0.15])),
                        bottom=everyday.bottom, carry=carry, side=int(prng.choice([-1, 1])),
                        size=float(prng.uniform(0.85, 1.2)), hem=everyday.hem, hair=everyday.hair)
        t0 = float(prng.uniform(-0.3 * duration, 0.6 * duration))
        length = walking_speed(ident) * (duration - t0) + 5
        walkers.append(Walker(id=f"p{p + 1:03d}", ident=ident, outfit=outfit, colours=_colours(prng),
                              route=_route(prng, nodes, edges, length), t0=t0, phase0=float(prng.random())))
    sun_az, sun_el = rng.uniform(0, 2 * np.pi), rng.uniform(np.radians(30), np.radians(65))
    sun = np.array([np.cos(sun_az) * np.cos(sun_el), np.sin(sun_az) * np.cos(sun_el), -np.sin(sun_el)])
    return CityPlan(seed=seed, duration=float(duration), fps=float(fps), nodes=nodes, edges=edges,
                    cameras=cams, walkers=walkers, sun=sun)
