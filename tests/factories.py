"""Builders for the messages of :mod:`streams.schemas`, shared by the unit and integration tests.

Each builder returns a valid message with plain defaults (camera ``c``, track 1, region ``r``,
model ``m`` version ``1``); any field can be overridden by keyword. Ids that the product derives
from other fields (a window id is ``camera/track/first frame``) follow the overrides unless they
are given themselves. Vectors are L2-normalised and ``dim`` follows their length.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from streams.schemas import DeadLetter, Embedding, GaitParams, GalleryEntry, Sighting, TrackletWindow

__all__ = ["dead_letter", "embedding", "gallery_entry", "sighting", "tracklet_window", "unit_vector"]


def unit_vector(values: Sequence[float] | np.ndarray | None = None, seed: int = 0, dim: int = 8) -> np.ndarray:
    """``values`` as float32 scaled to length 1; without values, a random ``dim``-vector drawn from ``seed``."""
    v = np.random.default_rng(seed).normal(size=dim) if values is None else values
    arr = np.asarray(v, np.float32)
    return arr / np.linalg.norm(arr)


def tracklet_window(n: int = 5, fps: float = 10.0, t0: float = 0.0, **over: Any) -> TrackletWindow:
    """A window of ``n`` frames (all-ones silhouettes) taken at ``fps`` from ``t0`` seconds on.

    ``window_id`` defaults to ``camera_id/track_id/frame_start`` and ``frame_end`` to
    ``frame_start + n - 1``; the per-frame lists follow ``n`` unless given.
    """
    camera, track, start = over.get("camera_id", "c"), over.get("track_id", 1), over.get("frame_start", 0)
    fields: dict[str, Any] = dict(
        window_id=f"{camera}/{track}/{start}", camera_id=camera, track_id=track, region="r", frame_start=start,
        frame_end=start + n - 1, timestamps=[t0 + i / fps for i in range(n)], foot_points=[(0.0, 1.0)] * n,
        ground_plane=True, boxes=[(1, 2, 3, 4)] * n, quality=0.9, gait=GaitParams(cadence_spm=110.0),
        silhouettes=np.ones((n, 64, 44), np.uint8))
    fields.update(over)
    return TrackletWindow(**fields)


def embedding(vector: Sequence[float] | np.ndarray | None = None, seed: int = 0, **over: Any) -> Embedding:
    """One window's embedding: ``vector`` normalised (a random 8-vector from ``seed`` when None).

    ``window_id`` defaults to ``camera_id/track_id/0`` and ``t_end`` to ``t_start + 3``.
    """
    vec = unit_vector(vector, seed)
    camera, track, t = over.get("camera_id", "c"), over.get("track_id", 1), over.get("t_start", 0.0)
    fields: dict[str, Any] = dict(
        window_id=f"{camera}/{track}/0", camera_id=camera, track_id=track, region="r", t_start=t, t_end=t + 3,
        foot_point=(0.0, 0.0), ground_plane=True, quality=1.0, gait=GaitParams(), model="m", model_version="1",
        dim=len(vec), vector=vec)
    fields.update(over)
    return Embedding(**fields)


def sighting(**over: Any) -> Sighting:
    """A sighting of ``p-1`` that enrolled it (score 1.0).

    ``sighting_id`` defaults to ``camera_id/track_id/0`` and ``t_end`` to ``t_start + 3``.
    """
    camera, track, t = over.get("camera_id", "c"), over.get("track_id", 1), over.get("t_start", 0.0)
    fields: dict[str, Any] = dict(
        sighting_id=f"{camera}/{track}/0", identity_id="p-1", camera_id=camera, track_id=track, region="r",
        t_start=t, t_end=t + 3, x=0.0, y=0.0, ground_plane=True, score=1.0, enrolled=True, model="m",
        gait=GaitParams())
    fields.update(over)
    return Sighting(**fields)


def gallery_entry(vector: Sequence[float] | np.ndarray | None = None, seed: int = 0, **over: Any) -> GalleryEntry:
    """An enrolment of ``p-1`` on the gallery: ``vector`` normalised (random from ``seed`` when None).

    ``updated_at`` defaults to ``created_at``.
    """
    vec = unit_vector(vector, seed)
    created = over.get("created_at", 1.0)
    fields: dict[str, Any] = dict(
        identity_id="p-1", op="enrol", model="m", model_version="1", n_sightings=1, created_at=created,
        updated_at=created, dim=len(vec), vector=vec)
    fields.update(over)
    return GalleryEntry(**fields)


def dead_letter(**over: Any) -> DeadLetter:
    """The embed stage giving up on record 0 of ``tracklets.v1`` (original bytes ``b"bad"``)."""
    fields: dict[str, Any] = dict(stage="embed", reason="bad record", source_topic="tracklets.v1", partition=0,
                                  offset=0, original=b"bad")
    fields.update(over)
    return DeadLetter(**fields)
