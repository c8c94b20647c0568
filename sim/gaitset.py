"""The CASIA-B-style dataset generator: 11 views x 10 sequences per synthetic subject.

Every sequence has its own generator seeded from (seed, subject, type, view), so subjects can
be generated in parallel processes and the bytes never depend on the worker count.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from gait.dataset import TYPES, VIEWS, align_opengait, save_sequence
from sim.body import Identity, draw_identity, pose, session, walking_speed
from sim.camera import PinholeCamera
from sim.exceptions import SimError
from sim.noise import SegNoise, corrupt, draw_noise
from sim.outfit import Figure, Outfit, draw_outfit, dress, everyday_outfit
from sim.render import Projected, draw, frame_box, project

FPS_CHOICES = (15, 20, 25, 30)


@dataclass(frozen=True)
class Recording:
    """The covariates of one synthetic sequence (written to the manifest)."""

    azimuth: float
    elevation: float
    distance_m: float
    height_px: float
    fps: int
    speed: float
    outfit: Outfit
    noise: SegNoise


def subject_id(i: int, n: int) -> str:
    """Zero-padded subject folder name (``001``), wider when there are more than 999."""
    return f"{i:0{max(3, len(str(n)))}d}"


def identity_of(seed: int, subject: int) -> tuple[Identity, Outfit]:
    """The persistent identity and everyday clothes of subject number ``subject``."""
    rng = np.random.default_rng([seed, subject, 1])
    return draw_identity(rng), everyday_outfit(rng)


def _flatten_to_ground(points: np.ndarray, light: np.ndarray) -> np.ndarray:
    """Cast points ``[T, Q, 3]`` along the light direction ``[3]`` (z < 0) onto z = 0."""
    t = -points[..., 2:3] / light[2]  # [T, Q, 1]
    return points + t * light


def record(ident: Identity, everyday: Outfit, rng: np.random.Generator, view_deg: float,
           condition: str, noise_level: float = 1.0, cleanup: bool = True) -> tuple[np.ndarray, Recording]:
    """Render one aligned sequence of ``ident`` walking past a camera.

    Args:
        ident: the persistent identity.
        everyday: the identity's usual clothes.
        rng: the sequence's generator.
        view_deg: nominal view azimuth: 0 = walking towards the camera, 90 = side, 180 = away.
        condition: ``nm``, ``bg`` or ``cl``.
        noise_level: segmentation-noise level (0 clean .. 2 heavy).
        cleanup: pass the noisy masks through the frames worker's clean-up (see :func:`sim.noise.corrupt`).

    Returns:
        ``[n, 64, 64]`` uint8 silhouettes and the recording's covariates.
    """
    outfit = draw_outfit(rng, condition, everyday)
    speed = float(np.exp(rng.normal(0, 0.08)))
    sess = session(ident, rng, speed=speed)
    fps = int(rng.choice(FPS_CHOICES, p=[0.1, 0.2, 0.5, 0.2]))
    dur = float(rng.uniform(2.2, 3.0))
    t = np.arange(int(fps * dur)) / fps  # [n]
    carry_side = outfit.side if outfit.carry == "handbag" else 0
    joints = pose(sess, t, phase0=float(rng.random()), carry_side=carry_side,
                  load_lean=np.radians(3.0) if outfit.carry == "backpack" else 0.0)  # [n, J, 3]
    joints[..., 0] -= walking_speed(sess) * dur / 2  # centre the walk on the origin
    joints[..., 1] += rng.normal(0, 0.3)
    fig = dress(sess, joints, outfit)
    az = np.radians(view_deg + rng.normal(0, 2.0))
    elev = np.radians(rng.uniform(0, 25))
    # the walk passes through the view's centre; keep its near end well in front of the lens
    dist = float(rng.uniform(4.0, 12.0)) + walking_speed(sess) * dur / 2
    height_px = float(rng.uniform(50, 150))
    centre = np.array([dist * np.cos(az) * np.cos(elev), dist * np.sin(az) * np.cos(elev),
                       0.9 + dist * np.sin(elev)])
    cam = PinholeCamera.look_at(centre, np.array([0.0, 0.0, 0.9]), f=height_px * dist / sess.shape.height,
                                cx=0.0, cy=0.0)
    noise = draw_noise(rng, noise_level)
    proj = project(fig, cam)
    shadow: Projected | None = None
    if noise.shadow > 0:
        sun_az, sun_el = rng.uniform(0, 2 * np.pi), rng.uniform(np.radians(35), np.radians(65))
        light = np.array([np.cos(sun_az) * np.cos(sun_el), np.sin(sun_az) * np.cos(sun_el), -np.sin(sun_el)])
        shadow = project(Figure(_flatten_to_ground(fig.points, light), fig.capsules, fig.hulls), cam)
    walk_x0, walk_x1 = float(proj.lo[:, 0].min()), float(proj.hi[:, 0].max())
    frames = []
    for i in range(len(t)):
        x0, y0, w, h = frame_box(proj, i)
        if shadow is not None:
            sx0, sy0, sw, sh = frame_box(shadow, i)
            x1, y1 = max(x0 + w, sx0 + sw), max(y0 + h, sy0 + sh)
            x0, y0 = min(x0, sx0), min(y0, sy0)
            w, h = x1 - x0, y1 - y0
        if h > 6 * height_px or w > 6 * height_px:  # degenerate projection: drop the frame
            continue
        canvas = np.zeros((h, w), np.uint8)  # [h, w] clean silhouette
        draw(proj, i, canvas, (x0, y0))
        smask = None
        if shadow is not None:
            smask = np.zeros((h, w), np.uint8)
            draw(shadow, i, smask, (x0, y0))
        body_h = float(proj.hi[i, 1] - proj.lo[i, 1])
        m = corrupt(canvas, noise, rng, body_h, smask, cleanup=cleanup)
        if noise.occluder is not None:
            a = int(walk_x0 + noise.occluder[0] * (walk_x1 - walk_x0)) - x0
            b = int(walk_x0 + noise.occluder[1] * (walk_x1 - walk_x0)) - x0
            m[:, max(a, 0):max(b, 0)] = 0
        al = align_opengait(m)
        if al is not None:
            frames.append(al)
    seq = np.stack(frames) if frames else np.zeros((0, 64, 64), np.uint8)  # [n, 64, 64]
    rec = Recording(azimuth=float(np.degrees(az)), elevation=float(np.degrees(elev)), distance_m=dist,
                    height_px=height_px, fps=fps, speed=speed, outfit=outfit, noise=noise)
    return seq, rec


def make_subject(seed: int, subject: int, n_subjects: int, out: Path, noise_level: float = 1.0,
                 views: tuple[str, ...] = VIEWS, types: tuple[str, ...] = TYPES,
                 cleanup: bool = True) -> list[dict[str, Any]]:
    """Write every sequence of one subject under ``out``; return its manifest entries.

    Args:
        seed: the dataset seed.
        subject: 1-based subject number.
        n_subjects: total subjects (folder-name width).
        out: dataset root.
        noise_level: segmentation-noise level.
        views, types: which views/types to write (all by default).
        cleanup: the frames worker's mask clean-up (False: the masks of generator version 1).
    """
    ident, everyday = identity_of(seed, subject)
    sid = subject_id(subject, n_subjects)
    entries = []
    for ti, typ in enumerate(types):
        for view in views:
            rng = np.random.default_rng([seed, subject, TYPES.index(typ) + 10, VIEWS.index(view) + 100])
            seq, rec = record(ident, everyday, rng, float(view), typ[:2], noise_level, cleanup)
            folder = out / sid / typ / view
            folder.mkdir(parents=True, exist_ok=True)
            save_sequence(folder / f"{view}.npz", seq)
            entries.append({"subject": sid, "type": typ, "view": view, "file": f"{sid}/{typ}/{view}/{view}.npz",
                            "frames": int(seq.shape[0]), **_rec_dict(rec)})
        del ti
    return entries


def _rec_dict(rec: Recording) -> dict[str, Any]:
    d = asdict(rec)
    for k, v in list(d.items()):
        if isinstance(v, float):
            d[k] = round(v, 4)
    d["noise"] = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in d["noise"].items()}
    d["outfit"] = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in d["outfit"].items()}
    return d


def _subject_job(args: tuple[int, int, int, str, float, bool]) -> list[dict[str, Any]]:
    seed, subject, n, out, level, cleanup = args
    return make_subject(seed, subject, n, Path(out), level, cleanup=cleanup)


def generate(n_subjects: int, seed: int, out: Path, workers: int = 1, noise_level: float = 1.0,
             progress: Callable[[int], None] | None = None, cleanup: bool = True) -> dict[str, Any]:
    """Generate the whole dataset and its ``manifest.json``; return the manifest.

    Args:
        n_subjects: number of identities (CASIA-B has 124).
        seed: dataset seed: same seed, same bytes.
        out: output root (created; must be writable).
        workers: processes (0 = one per CPU core).
        noise_level: segmentation-noise level (0 clean .. 2 heavy).
        progress: called with the number of subjects finished so far.
        cleanup: pass masks through the frames worker's clean-up (False: generator version 1,
            the data behind checkpoints trained before it existed).
    """
    if n_subjects < 1:
        raise SimError(f"--subjects must be at least 1 (got {n_subjects})")
    if not 0 <= noise_level <= 2:
        raise SimError(f"--noise must be within 0..2 (got {noise_level})")
    prepare_out(out)
    workers = workers or (os.cpu_count() or 1)
    jobs = [(seed, s, n_subjects, str(out), noise_level, cleanup) for s in range(1, n_subjects + 1)]
    entries: list[dict[str, Any]] = []
    if workers <= 1:
        results = map(_subject_job, jobs)
        for k, r in enumerate(results, 1):
            entries += r
            if progress:
                progress(k)
    else:
        with get_context("spawn").Pool(min(workers, n_subjects)) as pool:
            for k, r in enumerate(pool.imap(_subject_job, jobs), 1):
                entries += r
                if progress:
                    progress(k)
    idents = {}
    for s in range(1, n_subjects + 1):
        ident, everyday = identity_of(seed, s)
        idents[subject_id(s, n_subjects)] = {
            "height_m": round(ident.shape.height, 3), "cadence_spm": round(ident.gait.cadence_spm, 1),
            "step_ratio": round(ident.gait.step_ratio, 3), "everyday": asdict(everyday)}
    manifest = {"format": "casia-b", "generator": "gaitline sim gaitset", "version": 1, "seed": seed,
                "subjects": n_subjects, "views": list(VIEWS), "types": list(TYPES), "noise_level": noise_level,
                "cleanup": cleanup, "frame_size": [64, 64], "identities": idents, "sequences": entries}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return manifest


def prepare_out(out: Path) -> None:
    """Create ``out`` and check it is writable; :class:`SimError` naming ``--out`` otherwise."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".gaitline-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise SimError(f"--out {out}: not a writable directory ({exc.strerror})") from exc
