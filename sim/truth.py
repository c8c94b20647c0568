"""Ground truth of a simulated city: the on-disk format, mask run-lengths, and readers.

City folder layout (``gaitline sim city --out C``)::

    C/network.yaml        camera network (configs schema), sources = video/<camera>.avi
    C/network-live.yaml   the same network read live: sources = sim://./<camera>?pace=realtime
    C/city.json           seed, parameters, street graph, camera poses/intrinsics, start_time
    C/people.json         per person: id, height, cadence, speed, outfit, route, start time
    C/visits.json         per person: true camera visits [{camera_id, enter, exit}] (epoch s)
    C/video/<camera>.avi  MJPG video at the camera's fps
    C/truth/<camera>.jsonl  one line per frame:
        {"frame": i, "t": epoch s, "people": [{"id": "p003", "box": [x, y, w, h],
          "visible": 0.0..1.0, "foot": [gx, gy] (ground metres), "mask": [run lengths]}]}

``box`` is the whole body clipped to the image; ``mask`` covers that box row by row, the
visible pixels only (others and poles in front removed), as alternating run lengths that
start with a background run (:func:`rle_decode`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sim.exceptions import SimError


@dataclass(frozen=True)
class PersonTruth:
    """One person on one frame: id, box (x, y, w, h) pixels, visible fraction, ground foot point."""

    id: str
    box: tuple[int, int, int, int]
    visible: float
    foot: tuple[float, float]
    mask: tuple[int, ...]


@dataclass(frozen=True)
class FrameTruth:
    """Everything true about one frame of one camera."""

    frame: int
    t: float
    people: tuple[PersonTruth, ...]


def rle_encode(mask: np.ndarray) -> list[int]:
    """Run lengths of a boolean ``[h, w]`` mask, row-major, starting with a background run."""
    flat = mask.reshape(-1).astype(np.int8)  # [h * w]
    change = np.nonzero(np.diff(flat))[0] + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    runs = np.diff(bounds).tolist()
    return ([0] + runs) if flat.size and flat[0] else runs


def rle_decode(counts: list[int] | tuple[int, ...], h: int, w: int) -> np.ndarray:
    """Inverse of :func:`rle_encode`: boolean ``[h, w]``."""
    vals = np.arange(len(counts)) % 2 == 1  # odd runs are foreground
    flat = np.repeat(vals, counts)
    if flat.size != h * w:
        raise SimError(f"mask run lengths cover {flat.size} pixels, box has {h * w}")
    return flat.reshape(h, w)


def read_truth(city: Path, camera_id: str) -> Iterator[FrameTruth]:
    """Yield the ground truth of ``camera_id`` frame by frame.

    Args:
        city: the city folder.
        camera_id: a camera of its network.
    """
    path = city / "truth" / f"{camera_id}.jsonl"
    if not path.is_file():
        raise SimError(f"no ground truth for camera {camera_id!r}: {path} is missing")
    with path.open() as fh:
        for line in fh:
            d = json.loads(line)
            yield FrameTruth(frame=int(d["frame"]), t=float(d["t"]), people=tuple(
                PersonTruth(id=p["id"], box=tuple(p["box"]), visible=float(p["visible"]),
                            foot=tuple(p["foot"]), mask=tuple(p["mask"])) for p in d["people"]))


def camera_ids(city: Path) -> list[str]:
    """Camera ids of a city folder, in the order of ``city.json``."""
    meta = city / "city.json"
    if not meta.is_file():
        raise SimError(f"--truth {city}: not a simulated city (no city.json)")
    return [c["id"] for c in json.loads(meta.read_text())["cameras"]]
