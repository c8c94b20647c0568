"""Training-free baselines kept in every evaluation table.

* ``gei-baseline``: the gait energy image (mean silhouette over the window), pooled to
  16x16 = 256 values, centred and L2-normalised. Captures body shape and the average limb
  envelope; the classic starting point of gait recognition.
* ``trivial``: silhouette height/width statistics only. If it scores well, the data has a
  shortcut (size, aspect) that a model could cheat with.
"""

from __future__ import annotations

import cv2
import numpy as np

from gait.model.registry import l2_normalise, register

# A training-free model has no checkpoint to carry a calibration, so it states its open-set
# threshold here. The GEI baseline's cosines are high for everybody (a mean silhouette is mostly
# the same upright blob): 0.93 sits between the median similarity of one track's windows and that
# of different tracks on vtest.avi, the only way to calibrate it without labels.
TRAINING_FREE: dict[str, float] = {"gei-baseline": 0.93}


class GEIBaseline:
    """Gait-energy-image embedder (no training)."""

    name = "gei-baseline"
    version = "1"
    dim = 256

    def embed(self, windows: np.ndarray) -> np.ndarray:
        """Embed ``[b, n, 64, 44]`` windows into ``[b, 256]``."""
        if windows.ndim != 4 or windows.shape[2:] != (64, 44):
            raise ValueError(f"windows must be [b, n, 64, 44], got {windows.shape}")
        gei = windows.astype(np.float32).mean(axis=1)  # [b, 64, 44]
        pooled = np.stack([cv2.resize(g, (16, 16), interpolation=cv2.INTER_AREA) for g in gei])  # [b, 16, 16]
        flat = pooled.reshape(len(pooled), -1)
        return l2_normalise(flat - flat.mean(axis=1, keepdims=True))


class TrivialBaseline:
    """Height/width/area statistics of the raw silhouettes: a shortcut detector."""

    name = "trivial"
    version = "1"
    dim = 8

    def embed(self, windows: np.ndarray) -> np.ndarray:
        """Embed ``[b, n, 64, 44]`` windows into ``[b, 8]`` shape statistics."""
        w = windows.astype(np.float32) > 0.5  # [b, n, 64, 44]
        widths = w.any(axis=2).sum(axis=2).astype(np.float32)  # [b, n] columns occupied
        heights = w.any(axis=3).sum(axis=2).astype(np.float32)  # [b, n] rows occupied
        area = w.sum(axis=(2, 3)).astype(np.float32)  # [b, n]
        feats = np.stack([widths.mean(1), widths.std(1), widths.max(1), heights.mean(1),
                          area.mean(1) / 100, area.std(1) / 100, widths.min(1), heights.std(1)], axis=1)
        return l2_normalise(feats)


@register("baseline")
def _gei(**_: object) -> GEIBaseline:
    return GEIBaseline()


@register("trivial")
def _trivial(**_: object) -> TrivialBaseline:
    return TrivialBaseline()
