"""Body keypoints in the frames stage (``GAITLINE_FRAMES_POSE``, off by default: ~45 ms per walker per frame).

On every frame, before the window builder sees it, BlazePose runs on a crop around each confirmed
track's box (:class:`gait.vision.pose.PoseEstimator`) and the keypoints are kept per track for a
few windows' worth of frames. When the builder emits a window, its frames' keypoints are looked up
by timestamp, leg swaps undone and smoothed over the window (:func:`gait.vision.pose.smooth_track`)
and attached, packed (:mod:`streams.pose`), as the window's ``pose``. A window whose frames the
stage did not see (none should) goes out without it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np

from streams.pose import encode
from streams.schemas import TrackletWindow


class PoseStage:
    """Keypoints of each confirmed track on each frame, attached to the windows emitted."""

    def __init__(self, window: int, max_gap: int, estimator: Any = None) -> None:
        """Args: window: frames per window; max_gap: frames a track may be unseen inside a window;
        estimator: a callable ``(image, box) -> [33, 3]`` (default: BlazePose, loaded on first use)."""
        self._est = estimator
        self._keep = 2 * window + max_gap + 2
        self._kp: dict[int, deque[tuple[float, np.ndarray]]] = {}
        self._dead: list[int] = []

    def add(self, image: np.ndarray, timestamp: float, tracks: list[Any]) -> None:
        """Keypoints of this frame's confirmed tracks with a detection (call before the builder's add)."""
        if self._est is None:
            from gait.vision.pose import PoseEstimator

            self._est = PoseEstimator()
        for tid in self._dead:  # the builder emitted their last windows after the previous add
            self._kp.pop(tid, None)
        alive = {t.id for t in tracks}
        self._dead = [tid for tid in self._kp if tid not in alive]
        for t in tracks:
            if t.detection is None:
                continue
            buf = self._kp.setdefault(t.id, deque(maxlen=self._keep))
            buf.append((round(float(timestamp), 2), self._est(image, t.detection.box)))

    def attach(self, w: TrackletWindow) -> TrackletWindow:
        """The window with its smoothed keypoints as ``pose`` (unchanged when some frame is missing)."""
        from gait.vision.pose import smooth_track

        seen = dict(self._kp.get(w.track_id, ()))
        rows = [seen.get(round(float(t), 2)) for t in w.timestamps]
        if any(r is None for r in rows):
            return w
        kp = smooth_track(np.stack(rows), np.asarray(w.timestamps, np.float64))  # type: ignore[arg-type]
        return w.model_copy(update={"pose": encode(kp, w.boxes)})

    def wrap(self, emit: Callable[[TrackletWindow], None]) -> Callable[[TrackletWindow], None]:
        """An ``emit`` that attaches the keypoints first."""
        return lambda w: emit(self.attach(w))

    def close(self) -> None:
        """Release the pose model."""
        if self._est is not None and hasattr(self._est, "close"):
            self._est.close()
