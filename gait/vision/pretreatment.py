"""Silhouette pretreatment: the field's 64x44 convention (OpenGait / CASIA-B style).

Per frame: crop the rows to the body, scale to height 64 keeping the aspect ratio (cubic
interpolation of a 0/255 mask, as the field's ``pretreatment.py`` does), find the horizontal
median column (the column where the cumulative foreground mass passes half), pad with zeros
where needed and cut a window centred on it. The field stores 64x64 and cuts 10 columns off
each side at load time; we cut straight to the central 44 columns, which is the same image.

A checkpoint trained elsewhere on that convention therefore sees the same input. The
simulator and the models import :func:`pretreat`, so its signature is part of the contract.
"""

from __future__ import annotations

import cv2
import numpy as np

HEIGHT = 64
WIDTH = 44
# Below this many foreground pixels a mask is a speck, not a person (the field's tool drops
# frames whose 0/255 sum is <= 10000, i.e. ~40 pixels).
MIN_PIXELS = 40
# A walking person's body is taller than wide; a blob this wide for its height is two people,
# a car or a shadow, and would squash into a useless silhouette.
MAX_ASPECT = 1.6
# Fewer body rows than this cannot be upscaled into anything recognisable.
MIN_ROWS = 12


def pretreat(mask: np.ndarray) -> np.ndarray | None:
    """Normalise one binary person mask to the 64x44 gait silhouette.

    Args:
        mask: ``[h, w]`` array (any dtype); non-zero pixels are the person. It may be a crop
            around the person or a whole frame holding only that person.

    Returns:
        ``[64, 44]`` uint8 array of 0/1, or None when the mask is implausible as a single
        walking person (empty, a speck, too few rows, or far wider than tall).
    """
    if mask.ndim != 2 or mask.size == 0:
        return None
    fg = mask != 0  # [h, w] bool
    rows = np.flatnonzero(fg.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(fg.any(axis=0))
    top, bottom = int(rows[0]), int(rows[-1]) + 1
    left, right = int(cols[0]), int(cols[-1]) + 1
    h, w = bottom - top, right - left
    if h < MIN_ROWS or w / h > MAX_ASPECT:
        return None
    body = fg[top:bottom, left:right]  # [h, w]
    if int(body.sum()) < MIN_PIXELS:
        return None
    new_w = max(1, int(HEIGHT * w / h))
    img = cv2.resize(body.astype(np.uint8) * 255, (new_w, HEIGHT), interpolation=cv2.INTER_CUBIC)
    sil = (img > 127).astype(np.uint8)  # [64, new_w] 0/1
    col_mass = sil.sum(axis=0, dtype=np.int64)  # [new_w]
    total = int(col_mass.sum())
    if total == 0:
        return None
    # First column whose cumulative mass exceeds half: the field's "x centre".
    x_center = int(np.searchsorted(np.cumsum(col_mass), total / 2, side="right"))
    half = WIDTH // 2
    padded = np.zeros((HEIGHT, new_w + 2 * half), dtype=np.uint8)  # [64, new_w + 44]
    padded[:, half:half + new_w] = sil
    c = x_center + half
    return np.ascontiguousarray(padded[:, c - half:c + half])  # [64, 44]


def pretreat_many(masks: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Pretreat a sequence of masks.

    Args:
        masks: per-frame ``[h, w]`` person masks.

    Returns:
        ``(silhouettes [n, 64, 44] uint8 0/1, ok [n] bool)``; rejected frames are all zero.
    """
    out = np.zeros((len(masks), HEIGHT, WIDTH), dtype=np.uint8)  # [n, 64, 44]
    ok = np.zeros(len(masks), dtype=bool)  # [n]
    for i, m in enumerate(masks):
        s = pretreat(m)
        if s is not None:
            out[i] = s
            ok[i] = True
    return out, ok
