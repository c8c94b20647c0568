"""The evidence a sighting keeps of what was matched: the window's gait energy image.

A gait energy image (GEI) is the mean of a window's aligned silhouettes: a grey figure whose
steady parts (head, torso) are white and whose swinging limbs fade. It shows an operator the
walk that was matched, without a face, clothing or surroundings, in about 1 KB of PNG.
"""

from __future__ import annotations

import cv2
import numpy as np

_PNG_OPTIONS = [cv2.IMWRITE_PNG_COMPRESSION, 3]  # higher levels save a few bytes for twice the time


def gait_energy_images(silhouettes: np.ndarray) -> np.ndarray:
    """The GEI of each window, ``[b, 64, 44]`` uint8 0..255, from a batch ``[b, n, 64, 44]`` of 0/1
    silhouettes (``[n, 64, 44]`` gives ``[64, 44]``). Frames without any foreground (those the frames
    stage found implausible) are left out of the mean, so they do not dim the figure."""
    sils = silhouettes[None] if silhouettes.ndim == 3 else silhouettes  # [b, n, 64, 44]
    fg = sils > 0  # [b, n, 64, 44]; 0/1 whatever the input scale or dtype
    # integer sums: a window holds at most 512 frames, so uint16 holds any pixel's count
    hits = fg.sum(axis=1, dtype=np.uint16)  # [b, 64, 44]
    used = fg.reshape(fg.shape[0], fg.shape[1], -1).any(axis=2).sum(axis=1)  # [b] frames with foreground
    gei = (hits.astype(np.uint32) * 255 + np.maximum(used, 1)[:, None, None] // 2) // np.maximum(used, 1)[:, None, None]
    gei = gei.astype(np.uint8)  # [b, 64, 44] rounded mean x 255
    return gei[0] if silhouettes.ndim == 3 else gei


def png(image: np.ndarray) -> bytes:
    """A grayscale uint8 image ``[h, w]`` as PNG bytes."""
    ok, buf = cv2.imencode(".png", image, _PNG_OPTIONS)
    if not ok:  # only for an image OpenCV cannot hold: a programming error, not bad input
        raise ValueError(f"cannot encode a {image.shape} {image.dtype} image as PNG")
    return buf.tobytes()


def evidence_pngs(silhouettes: np.ndarray) -> list[bytes | None]:
    """The evidence PNG of each window of a batch ``[b, n, 64, 44]``; None for a window with no
    foreground at all (nothing to show)."""
    geis = gait_energy_images(silhouettes)  # [b, 64, 44]
    return [png(g) if g.any() else None for g in geis]
