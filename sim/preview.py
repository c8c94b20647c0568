"""Contact sheets that let a person see that the simulator makes walking people."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from gait.dataset import VIEWS
from sim.exceptions import SimError
from sim.gaitset import identity_of, record
from sim.truth import camera_ids, read_truth

CONDITIONS = ("nm", "bg", "cl")


def gait_sheet(seed: int, subjects: int, frames: int = 3) -> np.ndarray:
    """Views (columns) x subject/condition (rows); each cell ``frames`` aligned silhouettes.

    Args:
        seed: dataset seed (the same subjects ``gaitset --seed`` makes).
        subjects: how many subjects to show (from subject 1).
        frames: silhouettes per cell, spread over the sequence.

    Returns:
        ``[H, W]`` uint8 image.
    """
    rows = []
    for subj in range(1, subjects + 1):
        ident, everyday = identity_of(seed, subj)
        for ci, cond in enumerate(CONDITIONS):
            cells = []
            for vi, view in enumerate(VIEWS):
                rng = np.random.default_rng([seed, subj, 1000 + ci, vi])
                seq, _ = record(ident, everyday, rng, float(view), cond)
                pick = np.linspace(0, max(len(seq) - 1, 0), frames).astype(int)
                cell = np.concatenate([seq[i] for i in pick], axis=1) if len(seq) else np.zeros((64, 64 * frames),
                                                                                                   np.uint8)
                cells.append(np.pad(cell, 2, constant_values=60))
            row = np.concatenate(cells, axis=1)
            label = np.zeros((row.shape[0], 70), np.uint8)
            cv2.putText(label, f"{subj:03d} {cond}", (2, 40), cv2.FONT_HERSHEY_SIMPLEX, 0.45, 255, 1)
            rows.append(np.concatenate([label, row], axis=1))
    head = np.zeros((20, rows[0].shape[1]), np.uint8)
    cw = (rows[0].shape[1] - 70) // len(VIEWS)
    for vi, view in enumerate(VIEWS):
        cv2.putText(head, f"{view} deg", (70 + vi * cw + cw // 3, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.45, 255, 1)
    return np.concatenate([head, *rows], axis=0)


def city_sheet(city: Path, at: float = 0.5, scale: float = 0.5) -> np.ndarray:
    """One frame of every camera with ground-truth boxes and ids, tiled two per row.

    Args:
        city: the city folder.
        at: which frame, as a fraction of the duration.
        scale: resize factor of each camera image.
    """
    tiles = []
    for cam in camera_ids(city):
        frames = list(read_truth(city, cam))
        if not frames:
            raise SimError(f"camera {cam} has no frames")
        # show the frame near `at` with the most people, so the sheet has something to see
        lo = int(at * (len(frames) - 1))
        window = frames[max(lo - 50, 0):lo + 50] or frames
        ft = max(window, key=lambda f: len(f.people))
        cap = cv2.VideoCapture(str(city / "video" / f"{cam}.avi"))
        cap.set(cv2.CAP_PROP_POS_FRAMES, ft.frame)
        ok, img = cap.read()
        cap.release()
        if not ok:
            raise SimError(f"cannot read frame {ft.frame} of {cam}")
        for p in ft.people:
            x, y, w, h = p.box
            cv2.rectangle(img, (x, y), (x + w, y + h), (0, 255, 0), 2)
            cv2.putText(img, f"{p.id} {p.visible:.0%}", (x, max(y - 4, 10)), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                        (0, 255, 0), 1)
        cv2.putText(img, f"{cam} t={ft.t:.1f}", (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (0, 0, 255), 2)
        tiles.append(cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA))
    if len(tiles) % 2:
        tiles.append(np.zeros_like(tiles[0]))
    rows = [np.concatenate(tiles[i:i + 2], axis=1) for i in range(0, len(tiles), 2)]
    return np.concatenate(rows, axis=0)


def write_png(path: Path, img: np.ndarray) -> None:
    """Write ``img`` as PNG, creating the folder; :class:`SimError` naming ``--out`` on failure."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SimError(f"--out {path}: cannot create folder ({exc.strerror})") from exc
    if not cv2.imwrite(str(path), img):
        raise SimError(f"--out {path}: cannot write PNG")


def describe(city: Path) -> str:
    """One line about a city folder (cameras, people, visits)."""
    visits = json.loads((city / "visits.json").read_text())
    return f"{len(camera_ids(city))} cameras, {len(visits)} people, {sum(map(len, visits.values()))} visits"
