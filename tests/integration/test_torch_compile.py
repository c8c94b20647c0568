"""torch.compile on the inference path: the compiled model against the eager one, at any batch size and length.

Real compilations (inductor, a C++ compiler): slow, so not among the unit tests.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from gait.model.checkpoint import save_checkpoint
from gait.model.network import GaitModel, profile_config
from gait.model.projection import Lda, reading, with_projection
from gait.model.torch_embedder import load_embedder

pytestmark = pytest.mark.integration

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny model with the default's projection reading (window + mirror; frames' max, mean, std)."""
    torch.manual_seed(0)
    m = GaitModel(profile_config("tiny", num_classes=5)).eval()
    base = reading(m, "pyramid", mirror=True, frame_mean=True, frame_std=True)
    d = base.cfg.projection_in_dim
    lda = Lda(mean=np.zeros(d, np.float32), weight=np.random.default_rng(1).normal(0, 1, (d, 8)).astype(np.float32),
              ratios=np.ones(8, np.float32))
    return save_checkpoint(tmp_path_factory.mktemp("ck") / "tiny-lda.pt", with_projection(base, lda))


def _windows(n: int, seed: int) -> np.ndarray:
    return _long(n, 9, seed)


def _long(n: int, frames: int, seed: int = 0) -> np.ndarray:
    return ((np.random.default_rng(seed).random((n, frames, 64, 44)) > 0.5) * 255).astype(np.uint8)


def test_compiled_embedder_matches_eager_at_any_batch_size(checkpoint: Path) -> None:
    eager = load_embedder(checkpoint, "tiny", device="cpu", precision="fp32", compile=False)
    comp = load_embedder(checkpoint, "tiny", device="cpu", precision="fp32", compile=True)
    assert comp.compiled and not eager.compiled
    w = _windows(6, 2)
    graphs = torch._dynamo.utils.counters["stats"]["unique_graphs"]
    # the agents' micro-batches vary in size, down to a lone window
    for batch in (w[:4], w[:1], w, w[2:5]):
        got, want = comp.embed(batch), eager.embed(batch)
        assert got.shape == (len(batch), 8)
        assert np.allclose(got, want, atol=1e-4), np.abs(got - want).max()
    assert comp.compiled  # it did not fall back to the eager model
    # one compilation served every size: the batch stays symbolic and a lone window is padded
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] - graphs == 1
    # whole sequences (eval, analyze) come in many lengths: a second length makes the frame count
    # symbolic too, and no third compilation follows
    for frames in (12, 15, 23):
        seqs = _long(3, frames, seed=frames)
        assert np.allclose(comp.embed(seqs), eager.embed(seqs), atol=1e-4)
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] - graphs == 2
