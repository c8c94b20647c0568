"""Learned person silhouettes inside the boxes motion finds.

Background subtraction finds and tracks the walkers, but it cuts their silhouettes badly on
real footage: a coat the colour of the background vanishes and leaves only the legs, shadows
join the body. Here a person segmentation trained on real people (MediaPipe's selfie
segmentation, whose model ships inside the ``mediapipe`` wheel: nothing is downloaded) cuts
the silhouette in a square crop around each moving blob. The crop reaches well above the blob,
because the blob may be only the legs. The model is made for close-ups: on a whole wide scene
it finds nobody, on a person's crop it cuts a clean silhouette.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

# a blob may be only the legs: look this many blob heights above it for the rest of the body
REACH_UP = 1.4
THRESHOLD = 0.5  # the model's per-pixel person probability that counts as the person


class PersonMasks:
    """Per-pixel person probability of a BGR crop ``[h, w, 3]`` -> ``[h, w]`` float32 in [0, 1]."""

    def __init__(self) -> None:
        import mediapipe as mp  # loads TensorFlow Lite: only where this segmenter is chosen

        self._seg: Any = mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0)

    def __call__(self, crop: np.ndarray) -> np.ndarray:
        """The person probability of each pixel of ``crop``."""
        rgb = cv2.cvtColor(crop, cv2.COLOR_BGR2RGB)
        return np.asarray(self._seg.process(rgb).segmentation_mask, np.float32)  # [h, w]

    def close(self) -> None:
        """Release the interpreter."""
        self._seg.close()


def person_crop(box: tuple[int, int, int, int], frame_shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """A square-ish region ``(x0, y0, x1, y1)`` around blob ``box`` (x0, y0, x1, y1) that holds the
    whole person even when the blob is only their legs, clipped to the frame."""
    H, W = frame_shape
    x0, y0, x1, y1 = box
    h = y1 - y0
    top = max(0, int(y0 - REACH_UP * h))
    bottom = min(H, int(y1 + 0.15 * h) + 2)
    half = max((x1 - x0) / 2 + 4, 0.5 * (bottom - top))
    cx = (x0 + x1) / 2
    return max(0, int(cx - half)), top, min(W, int(cx + half) + 1), bottom


def component_over(prob: np.ndarray, rect: tuple[int, int, int, int]) -> np.ndarray | None:
    """The connected person region of ``prob`` that covers most of ``rect`` (x0, y0, x1, y1 in
    ``prob``'s pixels) as a 0/1 uint8 mask of ``prob``'s size, or None where the model sees no
    person over the blob (a car, a shadow, a swaying branch)."""
    m = (prob > THRESHOLD).astype(np.uint8)  # [h, w]
    n, labels, _, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    if n <= 1:
        return None
    x0, y0, x1, y1 = rect
    inside = labels[y0:y1, x0:x1]
    counts = np.bincount(inside.ravel(), minlength=n)
    counts[0] = 0
    best = int(np.argmax(counts))
    if counts[best] < 0.1 * max(inside.size, 1):
        return None
    return (labels == best).astype(np.uint8)


def overlaps(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    """Intersection of boxes ``a`` and ``b`` (x, y, w, h) as a share of the smaller one."""
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return ix * iy / max(1, min(a[2] * a[3], b[2] * b[3]))
