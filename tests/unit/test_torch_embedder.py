"""The inference path of the learned models: the fallback when torch.compile fails, CUDA batch padding.

The compiled model itself against the eager one: tests/integration/test_torch_compile.py."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from gait.model.torch_embedder import load_embedder
from tests.models import random_windows, tiny_projected_checkpoint

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_projected_checkpoint(tmp_path_factory.mktemp("ck"))


def _windows(n: int, seed: int) -> np.ndarray:
    return random_windows(n, 9, seed)


def _long(n: int, frames: int, seed: int = 0) -> np.ndarray:
    return random_windows(n, frames, seed)


def test_a_failed_compilation_falls_back_to_the_eager_model(checkpoint: Path, monkeypatch: pytest.MonkeyPatch,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    def broken(fn: object, **_: object) -> object:
        def run(*a: object) -> object:
            raise RuntimeError("no C++ compiler here")
        return run

    monkeypatch.setattr(torch, "compile", broken)
    comp = load_embedder(checkpoint, "tiny", device="cpu", precision="fp32", compile=True)
    eager = load_embedder(checkpoint, "tiny", device="cpu", precision="fp32", compile=False)
    w = _windows(3, 3)
    with caplog.at_level(logging.WARNING, logger="gait.model.torch_embedder"):
        got = comp.embed(w[:1])  # a lone window, padded for the compiler, comes back alone
    assert got.shape == (1, 8) and np.allclose(got, eager.embed(w[:1]), atol=1e-6)
    assert np.allclose(comp.embed(w), eager.embed(w), atol=1e-6)
    assert not comp.compiled and "no C++ compiler here" in caplog.text


def test_cuda_batches_are_padded_to_a_few_shapes(checkpoint: Path) -> None:
    from gait.model.torch_embedder import _padded

    emb = load_embedder(checkpoint, "tiny", device="cpu", precision="fp32", compile=False, max_batch=100)
    assert [emb.bucket(b) for b in (1, 2, 3, 5, 33, 64, 65, 70, 100)] == [2, 2, 4, 8, 64, 64, 100, 100, 100]
    assert len({emb.bucket(b) for b in range(1, 101)}) == 7  # 2, 4, ..., 64 and 100, instead of 100 shapes
    x = torch.from_numpy(_windows(3, 4)).float() / 255
    padded = _padded(x, emb.bucket(3))
    assert padded.shape == (4, 9, 64, 44) and not padded[3].any() and torch.equal(padded[:3], x)
    with torch.inference_mode():  # the empty rows change nothing for the real ones
        assert torch.allclose(emb._forward(padded)[:3], emb._forward(x), atol=1e-5)
