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
# The model resizes every input to 256x256, so one call costs the same for one crop or for two:
# where a walker fills only the middle half of their square crop, the middle halves of two crops
# share a call side by side, each person at the same 256-pixel height as alone.
_SIDE = 256


class PersonMasks:
    """Per-pixel person probability of a BGR crop ``[h, w, 3]`` -> ``[h, w]`` float32 in [0, 1]."""

    def __init__(self) -> None:
        import mediapipe as mp  # loads TensorFlow Lite: only where this segmenter is chosen

        self._seg: Any = mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0)

    def __call__(self, crop: np.ndarray) -> np.ndarray:
        """The person probability of each pixel of ``crop``."""
        rgb = cv2.cvtColor(crop, cv2.COLOR_BGR2RGB)
        return np.asarray(self._seg.process(rgb).segmentation_mask, np.float32)  # [h, w]

    def many(self, crops: list[np.ndarray], spans: list[tuple[int, int]]) -> list[np.ndarray]:
        """The person probability of each BGR crop ``[h_i, w_i, 3]`` -> ``[h_i, w_i]``.

        ``spans[i]`` is the column range of the moving blob in crop ``i``. Crops whose blob lies in
        their middle half are paired: the middle halves of two go into one model call, side by
        side (outside it the probability is 0); any other crop runs on its own.
        """
        out: list[np.ndarray | None] = [None] * len(crops)
        narrow = []
        for i, (crop, (c0, c1)) in enumerate(zip(crops, spans, strict=True)):
            w = crop.shape[1]
            if len(crops) > 1 and w >= 8 and c0 >= w // 4 and c1 <= w - w // 4:
                narrow.append(i)
            else:
                out[i] = self(crop)
        if len(narrow) % 2:
            last = narrow.pop()
            out[last] = self(crops[last])
        half = _SIDE // 2
        for a, b in zip(narrow[::2], narrow[1::2], strict=True):
            canvas = np.empty((_SIDE, _SIDE, 3), np.uint8)  # [256, 256, 3]
            for k, i in enumerate((a, b)):
                w = crops[i].shape[1]
                canvas[:, k * half:(k + 1) * half] = cv2.resize(
                    crops[i][:, w // 4:w - w // 4], (half, _SIDE), interpolation=cv2.INTER_AREA)
            prob = self(canvas)  # [256, 256]
            for k, i in enumerate((a, b)):
                h, w = crops[i].shape[:2]
                full = np.zeros((h, w), np.float32)  # [h, w]
                full[:, w // 4:w - w // 4] = cv2.resize(prob[:, k * half:(k + 1) * half],
                                                        (w - 2 * (w // 4), h), interpolation=cv2.INTER_LINEAR)
                out[i] = full
        return [o for o in out if o is not None]

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


def merge_regions(regions: list[tuple[int, int, int, int]]) -> tuple[list[tuple[int, int, int, int]], list[int]]:
    """Crop regions ``(x0, y0, x1, y1)`` that mostly overlap (two blobs of one walker, legs and torso
    apart) merged into their union, so each is segmented once: (merged regions, index of the merged
    region that holds each input region)."""
    merged: list[tuple[int, int, int, int]] = []
    owner: list[int] = []
    for r in regions:
        for k, m in enumerate(merged):
            if overlaps(_xywh(r), _xywh(m)) >= 0.5:
                merged[k] = (min(r[0], m[0]), min(r[1], m[1]), max(r[2], m[2]), max(r[3], m[3]))
                owner.append(k)
                break
        else:
            merged.append(r)
            owner.append(len(merged) - 1)
    return merged, owner


def _xywh(r: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    return r[0], r[1], r[2] - r[0], r[3] - r[1]


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
