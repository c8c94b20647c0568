"""Small models and windows shared by the embedder tests (unit and integration)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from gait.model.checkpoint import save_checkpoint
from gait.model.network import GaitModel, profile_config
from gait.model.projection import Lda, reading, with_projection


def tiny_projected_checkpoint(folder: Path) -> Path:
    """A tiny model with the default's projection reading (window + mirror; frames' max, mean, std)."""
    torch.manual_seed(0)
    m = GaitModel(profile_config("tiny", num_classes=5)).eval()
    base = reading(m, "pyramid", mirror=True, frame_mean=True, frame_std=True)
    d = base.cfg.projection_in_dim
    lda = Lda(mean=np.zeros(d, np.float32), weight=np.random.default_rng(1).normal(0, 1, (d, 8)).astype(np.float32),
              ratios=np.ones(8, np.float32))
    return save_checkpoint(folder / "tiny-lda.pt", with_projection(base, lda))


def random_windows(n: int, frames: int = 9, seed: int = 0) -> np.ndarray:
    """``n`` random 0/255 uint8 silhouette windows ``[n, frames, 64, 44]``."""
    return ((np.random.default_rng(seed).random((n, frames, 64, 44)) > 0.5) * 255).astype(np.uint8)
