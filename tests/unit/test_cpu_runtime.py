"""The CPU inference graphs (gait.model.cpu_runtime): the stem table and the strip pooling give the
network's numbers, ``fused`` embeds as ``eager`` does, ``int8`` stays within cosine 0.99 of fp32 per
window on simulated walkers, and ``auto`` picks what the module says it picks."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F  # noqa: N812 - the universal torch alias

from gait.exceptions import CheckpointError
from gait.model import cpu_runtime as cpu
from gait.model.checkpoint import load_checkpoint
from gait.model.network import fuse_batchnorm_, hpp
from gait.model.torch_embedder import CHECKPOINT_DIR, load_embedder
from tests.models import random_windows, tiny_projected_checkpoint

torch.set_num_threads(1)

needs_int8 = pytest.mark.skipif(cpu.int8_engine() is None, reason="no FBGEMM int8 engine on this CPU")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_projected_checkpoint(tmp_path_factory.mktemp("ck"))


def _binary(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    return torch.from_numpy((np.random.default_rng(seed).random(shape) > 0.5).astype(np.float32))


def test_the_stem_table_is_the_conv_relu_and_pool_of_0_1_frames() -> None:
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(1, 16, 3, 1, 1)
    frames = _binary((5, 64, 44), 1)
    with torch.no_grad():
        want = F.max_pool2d(F.relu(conv(frames.unsqueeze(1))), 2)  # [5, 16, 32, 22]
        got = cpu.StemTable(conv)(frames)
    assert got.shape == want.shape and got.is_contiguous(memory_format=torch.channels_last)
    assert torch.allclose(got, want, atol=1e-5)
    with pytest.raises(ValueError):
        cpu.StemTable(torch.nn.Conv2d(1, 16, 3, 2, 1))


def test_patch_codes_read_each_4x4_neighbourhood() -> None:
    frames = _binary((3, 8, 6), 2)
    got = cpu.StemTable.codes(frames)
    padded = F.pad(frames, (1, 1, 1, 1)).long()  # [3, 10, 8]
    want = torch.zeros(3, 4, 3, dtype=torch.long)
    for i in range(4):
        for j in range(3):
            for a in range(4):
                for b in range(4):
                    want[:, i, j] |= padded[:, 2 * i + a, 2 * j + b] << (4 * a + b)
    assert torch.equal(got, want)
    assert int(cpu.StemTable.codes(torch.ones(1, 8, 6)).max()) == (1 << 16) - 1


def test_the_strip_pyramid_of_a_channels_last_map_is_hpp() -> None:
    x = torch.rand(3, 8, 6, 5)  # [n, h, w, c]
    for bins in ((8, 4, 2, 1), (2,), (3,)):  # (3,) does not divide the 8 rows: hpp itself
        assert torch.allclose(cpu.strip_pyramid(x, bins), hpp(x.permute(0, 3, 1, 2), bins), atol=1e-6)


@pytest.mark.parametrize("embed_from", ["lda", "strips", "bnneck"])
def test_fused_embeds_as_the_eager_model(checkpoint: Path, embed_from: str) -> None:
    eager = load_embedder(checkpoint, "tiny", device="cpu", precision="fp32", embed_from=embed_from,
                          cpu_runtime="eager")
    fused = load_embedder(checkpoint, "tiny", device="cpu", precision="fp32", embed_from=embed_from,
                          cpu_runtime="fused")
    assert (eager.runtime, fused.runtime) == ("eager", "fused")
    w = random_windows(4, 7, 3)  # 0/255: the table
    assert np.allclose(fused.embed(w), eager.embed(w), atol=1e-5)
    grey = (w // 2).astype(np.float32) / 255  # not 0/1: the stem's conv
    assert np.allclose(fused.embed(grey), eager.embed(grey), atol=1e-5)


def _walkers(seed: int = 41, people: int = 3, frames: int = 30) -> np.ndarray:
    """Simulated people the calibration never saw, 0/1 windows [k, frames, 64, 44] as the frames stage cuts."""
    from sim.gaitset import identity_of, record

    out = []
    for person in range(people):
        ident, everyday = identity_of(seed, person)
        for k, (view, cond) in enumerate(((90.0, "nm"), (40.0, "cl"))):
            seq, _ = record(ident, everyday, np.random.default_rng([seed, person, k]), view, cond)
            sil = (seq[:, :, 10:54] > 127).astype(np.uint8)
            out += [sil[i:i + frames] for i in range(0, len(sil) - frames + 1, frames)]
    return np.stack(out)


@needs_int8
def test_int8_keeps_each_windows_embedding_within_cosine_0_99_of_fp32() -> None:
    path = CHECKPOINT_DIR / "default.pt"
    ref = load_embedder(path, "default", device="cpu", precision="fp32", cpu_runtime="eager")
    q = load_embedder(path, "default", device="cpu", cpu_runtime="int8")
    assert (q.runtime, q.precision) == ("int8", "int8")
    w = _walkers()
    assert len(w) >= 6
    cos = (q.embed(w.astype(np.float32)) * ref.embed(w.astype(np.float32))).sum(1)  # unit vectors
    assert cos.min() >= 0.99, cos


def test_the_committed_calibration_belongs_to_the_committed_default() -> None:
    path = CHECKPOINT_DIR / "default.pt"
    backbone = fuse_batchnorm_(load_checkpoint(path, device="cpu").model.eval()).backbone
    cal = cpu.read_calibration(cpu.calibration_path(path), backbone)
    assert cal is not None and cal["engine"] == "fbgemm" and cal["frames"] > 500
    # only a conv's input keeps FBGEMM's 7-bit range on AVX2; the rest use all 8 bits
    assert {q["quant_max"] for q in cal["observers"].values()} == {127, 255}


@needs_int8
def test_a_calibration_is_read_only_for_its_own_weights(checkpoint: Path, tmp_path: Path,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    copy = tmp_path / "tiny.pt"
    copy.write_bytes(checkpoint.read_bytes())
    with caplog.at_level(logging.WARNING, logger="gait.model.cpu_runtime"):
        assert load_embedder(copy, "tiny", device="cpu", cpu_runtime="int8").runtime == "fused"  # none yet
    assert "no int8 calibration" in caplog.text
    backbone = fuse_batchnorm_(load_checkpoint(copy, device="cpu").model.eval()).backbone
    frames = torch.from_numpy(random_windows(8, 5, 4).reshape(-1, 64, 44) // 255).float().unsqueeze(1)
    cal = cpu.calibrate(backbone, frames)
    cpu.calibration_path(copy).write_text(json.dumps(cal))
    emb = load_embedder(copy, "tiny", device="cpu", cpu_runtime="int8")
    assert (emb.runtime, emb.precision) == ("int8", "int8")
    ref = load_embedder(copy, "tiny", device="cpu", precision="fp32", cpu_runtime="eager")
    w = random_windows(3, 5, 5)
    assert (emb.embed(w) * ref.embed(w)).sum(1).min() > 0.9  # a random tiny model, calibrated on noise
    other = torch.nn.Conv2d(1, 8, 3, 1, 1)  # different weights: the file does not apply
    backbone.conv1.conv.weight.data.copy_(other.weight.data)
    assert cpu.read_calibration(cpu.calibration_path(copy), backbone) is None


def test_auto_picks_int8_only_without_native_bf16_with_a_calibration_and_precision_auto() -> None:
    int8 = "int8" if cpu.int8_engine() else "fused"
    assert cpu.resolve("auto", "auto", native_bf16=False, calibrated=True) == int8
    assert cpu.resolve("auto", "fp32", native_bf16=False, calibrated=True) == "fused"
    assert cpu.resolve("auto", "auto", native_bf16=True, calibrated=True) == "fused"
    assert cpu.resolve("auto", "auto", native_bf16=False, calibrated=False) == "fused"
    assert cpu.resolve("eager", "auto", native_bf16=False, calibrated=True) == "eager"
    assert cpu.resolve("int8", "auto", native_bf16=False, calibrated=False) == "fused"
    with pytest.raises(CheckpointError, match="cpu_runtime"):
        cpu.resolve("onnx", "auto", native_bf16=False, calibrated=True)


def test_the_agents_setting_reaches_every_loader(checkpoint: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cpu.ENV, "eager")
    assert load_embedder(checkpoint, "tiny", device="cpu").runtime == "eager"
    assert load_embedder(checkpoint, "tiny", device="cpu", cpu_runtime="fused").runtime == "fused"  # asked for
    monkeypatch.setenv(cpu.ENV, "onnx")
    with pytest.raises(CheckpointError, match="GAITLINE_EMBED_CPU_RUNTIME"):
        load_embedder(checkpoint, "tiny", device="cpu")
