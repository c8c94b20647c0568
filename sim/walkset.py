"""A small labelled walking set in the layout of KTH's walking class: one walker per video.

``person{NN}_walking_d{K}.avi``: each person walks across a side-on camera and back. The
condition ``K`` changes what KTH's conditions change: ``d1`` the reference (camera ~4 m away),
``d2`` another scale (the camera further away, the person smaller), ``d3`` other clothes (a
coat or a jacket), ``d4`` another place (a lower, nearer camera and another background). It is
the stand-in the tests score with ``gaitline eval real``: real labelled video is never part of
the project. Same seed, same bytes.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np

from sim.body import draw_identity, session, walking_speed
from sim.camera import PinholeCamera
from sim.city import BLOCK_M, CityCamera, CityPlan, Walker
from sim.cityrender import render_city
from sim.exceptions import SimError
from sim.outfit import draw_outfit, everyday_outfit

# per condition: camera distance (m), camera height (m), outfit condition
CONDITIONS: dict[str, tuple[float, float, str]] = {
    "d1": (4.0, 1.1, "nm"),
    "d2": (5.5, 1.1, "nm"),
    "d3": (4.0, 1.1, "cl"),
    "d4": (3.6, 0.9, "nm"),
}


def _colours(rng: np.random.Generator, cl: bool) -> np.ndarray:
    """BGR per part (skin, top, bottom, shoes, bag, hair): clothes that stand out from the street."""
    skin = rng.uniform([60, 90, 130], [140, 170, 220])
    top = rng.uniform(0, 1, 3) * 80 + (170 if cl else 0) * (rng.random(3) > 0.5)
    bottom = rng.uniform(10, 60, 3)
    cols = [skin, top, bottom, rng.uniform(10, 50, 3), rng.uniform(20, 200, 3), rng.uniform(10, 60, 3)]
    return np.clip(np.stack(cols), 1, 255).astype(np.uint8)


def walk_plan(person: int, condition: str, seed: int = 0, seconds: float = 9.0, fps: float = 25.0,
              width: int = 160, height: int = 120) -> CityPlan:
    """The plan of one recording: one side-on camera, one walker across the view and back.

    Args:
        person: person number (1-based); the identity is drawn from ``(seed, person)``.
        condition: a key of :data:`CONDITIONS`.
        seed: the set's seed.
        seconds, fps, width, height: the video's length, frame rate and size.
    """
    if condition not in CONDITIONS:
        raise SimError(f"unknown walking condition {condition!r} (known: {', '.join(CONDITIONS)})")
    dist, cam_h, outfit_cond = CONDITIONS[condition]
    k = int(condition[1:])
    prng = np.random.default_rng([seed, 91, person])
    ident, everyday = draw_identity(prng), everyday_outfit(prng)
    rrng = np.random.default_rng([seed, 92, person, k])
    sess = session(ident, rrng, speed=float(np.exp(rrng.normal(0, 0.05))))
    outfit = draw_outfit(rrng, outfit_cond, everyday)
    half = dist * np.tan(np.radians(30)) * 0.9  # the view's half-width at the walker's depth
    route = np.array([[-half, 0.0], [half, 0.0], [-half, 0.0], [half, 0.0]])
    f = (width / 2) / np.tan(np.radians(30))  # 60° horizontal field of view
    cam = PinholeCamera.look_at(np.array([0.0, -dist, cam_h]), np.array([0.0, 0.0, 0.85]), f=f,
                                cx=width / 2, cy=height / 2)
    walker = Walker(id=f"person{person:02d}", ident=sess, outfit=outfit, colours=_colours(rrng, outfit_cond == "cl"),
                    route=route, t0=0.0, phase0=float(rrng.random()))
    sun = np.array([0.3, 0.2, -0.93])
    return CityPlan(seed=seed * 1000 + person * 10 + k, duration=float(seconds), fps=float(fps),
                    nodes=np.array([[0.0, 0.0], [BLOCK_M, 0.0]]), edges=[(0, 1)],
                    cameras=[CityCamera(id="cam1", node=0, cam=cam, width=width, height=height)],
                    walkers=[walker], sun=sun / np.linalg.norm(sun))


def render_walkset(out: Path, people: int = 3, conditions: tuple[str, ...] = ("d1", "d2", "d3"), seed: int = 0,
                   seconds: float = 9.0, fps: float = 25.0, width: int = 160, height: int = 120) -> list[Path]:
    """Render ``people`` x ``conditions`` videos named ``personNN_walking_dK.avi`` into ``out``.

    Returns the video paths. Walking speed is stated by :func:`sim.body.walking_speed`: at
    the defaults a walker crosses the 4.2 m wide view in about 3 s, so 9 s hold about three
    crossings.
    """
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    with tempfile.TemporaryDirectory(dir=out) as tmp:
        for p in range(1, people + 1):
            for cond in conditions:
                plan = walk_plan(p, cond, seed, seconds, fps, width, height)
                if walking_speed(plan.walkers[0].ident) <= 0:
                    raise SimError(f"person {p} does not walk")
                scene = Path(tmp) / f"{p}-{cond}"
                render_city(plan, scene)
                dst = out / f"person{p:02d}_walking_{cond}.avi"
                shutil.move(scene / "video" / "cam1.avi", dst)
                paths.append(dst)
    return paths
