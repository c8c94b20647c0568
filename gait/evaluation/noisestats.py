"""How a silhouette is broken: statistics that compare real background subtraction with the simulator's.

A model trained on synthetic silhouettes only transfers if the synthetic ones are broken the
way real ones are. These per-frame statistics of aligned ``[64, 44]`` 0/1 silhouettes put a
number on it (``gaitline eval noise``):

- ``fill``: foreground share of the silhouette's bounding box (a blob of shadow raises it,
  missing limbs lower it);
- ``ragged``: pixels that a 3x3 opening+closing changes, per foreground pixel (edge noise);
- ``holes``: background pixels enclosed by the body, per foreground pixel (camouflage holes);
- ``fragments``: connected foreground pieces (limbs broken off);
- ``aspect``: bounding-box width / height (coats, bags, shadows, merged neighbours);
- ``flicker``: 1 - IoU of consecutive frames (temporal instability; rises with motion per frame,
  so compare it between sources of similar frame rate only).
"""

from __future__ import annotations

from collections.abc import Iterable

import cv2
import numpy as np

STATS = ("fill", "ragged", "holes", "fragments", "aspect", "flicker")
_K3 = np.ones((3, 3), np.uint8)


def frame_stats(m: np.ndarray) -> dict[str, float] | None:
    """The per-frame statistics of one ``[h, w]`` 0/1 silhouette, or None when it is empty."""
    m = (m > 0).astype(np.uint8)
    area = int(m.sum())
    if area == 0:
        return None
    ys, xs = np.nonzero(m)
    h, w = int(ys.max() - ys.min() + 1), int(xs.max() - xs.min() + 1)
    smooth = cv2.morphologyEx(cv2.morphologyEx(m, cv2.MORPH_OPEN, _K3), cv2.MORPH_CLOSE, _K3)
    # holes: background not reachable from the border (flood fill from a padded corner)
    pad = np.pad(m, 1)
    outside = pad.copy()
    cv2.floodFill(outside, None, (0, 0), 1)
    enclosed = int((outside == 0).sum())
    n_parts = cv2.connectedComponents(m, connectivity=8)[0] - 1
    return {"fill": area / (h * w), "ragged": int((smooth != m).sum()) / area, "holes": enclosed / area,
            "fragments": float(n_parts), "aspect": w / h}


def sequence_stats(seq: np.ndarray) -> list[dict[str, float]]:
    """Statistics of every non-empty frame of ``seq`` ``[t, h, w]``, each with its ``flicker``."""
    out: list[dict[str, float]] = []
    prev: np.ndarray | None = None
    for f in seq:
        st = frame_stats(f)
        cur = f > 0
        if st is None:
            prev = None
            continue
        if prev is not None:
            union = int((prev | cur).sum())
            st["flicker"] = 1.0 - int((prev & cur).sum()) / union if union else 0.0
        out.append(st)
        prev = cur
    return out


def summarise(seqs: Iterable[np.ndarray]) -> dict[str, dict[str, float]]:
    """Median, 10th and 90th percentile of each statistic over all frames of ``seqs``."""
    rows = [st for s in seqs for st in sequence_stats(s)]
    res: dict[str, dict[str, float]] = {}
    for k in STATS:
        v = np.array([r[k] for r in rows if k in r], dtype=np.float64)
        if len(v):
            res[k] = {"p10": round(float(np.quantile(v, 0.1)), 4), "median": round(float(np.median(v)), 4),
                      "p90": round(float(np.quantile(v, 0.9)), 4)}
    res["frames"] = {"n": float(len(rows))}
    return res
