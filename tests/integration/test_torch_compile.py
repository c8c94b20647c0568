"""torch.compile on the inference path: the compiled model against the eager one, at any batch size and length.

Real compilations (inductor, a C++ compiler): slow, so not among the unit tests.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from gait.model.torch_embedder import load_embedder
from tests.models import random_windows, tiny_projected_checkpoint

pytestmark = pytest.mark.integration

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_projected_checkpoint(tmp_path_factory.mktemp("ck"))


def _windows(n: int, seed: int) -> np.ndarray:
    return random_windows(n, 9, seed)


def _long(n: int, frames: int, seed: int = 0) -> np.ndarray:
    return random_windows(n, frames, seed)


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
