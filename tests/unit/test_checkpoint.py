"""Checkpoints: round trip, mismatch errors naming tensors, OpenGait mapping, registry contract."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import gait.model.torch_embedder as reg
from gait.exceptions import CheckpointError, CheckpointMismatchError
from gait.model.checkpoint import autocast_dtype, load_checkpoint, load_opengait, save_checkpoint
from gait.model.network import GaitModel, profile_config
from gait.model.registry import available, get_embedder
from gaitline.errors import GaitlineError

torch.set_num_threads(1)


def _saved(tmp_path: Path, name: str = "tiny") -> tuple[GaitModel, Path]:
    torch.manual_seed(0)
    m = GaitModel(profile_config(name, num_classes=5)).eval()
    return m, save_checkpoint(tmp_path / f"{name}.pt", m, meta={"step": 3})


def _x() -> torch.Tensor:
    return (torch.rand((2, 5, 64, 44), generator=torch.Generator().manual_seed(0)) > 0.5).float()


def test_roundtrip_keeps_config_meta_and_outputs(tmp_path: Path) -> None:
    m, path = _saved(tmp_path)
    ck = load_checkpoint(path, device="cpu")
    assert ck.config == m.cfg and ck.meta["step"] == 3 and len(ck.version) == 12
    assert torch.allclose(ck.model(_x()).embedding, m(_x()).embedding)


def test_mismatch_names_the_tensors(tmp_path: Path) -> None:
    _, path = _saved(tmp_path, "tiny")
    with pytest.raises(CheckpointMismatchError, match=r"backbone\.conv1\.conv\.weight") as err:
        load_checkpoint(path, config=profile_config("default", num_classes=5))
    assert isinstance(err.value, GaitlineError)
    assert "shape mismatch" in str(err.value)


def test_unreadable_and_foreign_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot read"):
        load_checkpoint(bad)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "none.pt")
    foreign = tmp_path / "foreign.pt"
    torch.save({"model": {}}, foreign)
    with pytest.raises(CheckpointError, match="format"):
        load_checkpoint(foreign)


def test_opengait_checkpoint_loads_through_mapping(tmp_path: Path) -> None:
    m, _ = _saved(tmp_path)
    og = {}
    for k, v in m.state_dict().items():
        k = k.replace("backbone.", "Backbone.forward_block.").replace("fcs.", "FCs.").replace("bnnecks.", "BNNecks.")
        og["module." + k] = v
    path = tmp_path / "GaitBase-60000.pt"
    torch.save({"model": og, "iteration": 60000}, path)
    ck = load_opengait(path, m.cfg, device="cpu")
    assert torch.allclose(ck.model(_x()).embedding, m(_x()).embedding)
    del og["module.FCs.fc_bin"]
    torch.save({"model": og}, path)
    with pytest.raises(CheckpointMismatchError, match=r"missing: fcs\.fc_bin"):
        load_opengait(path, m.cfg)


def test_registry_contract(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert {"default", "checkpoint", "large", "baseline"} <= set(available())
    m, path = _saved(tmp_path)
    emb = get_embedder("checkpoint", path=path, device="cpu", precision="fp32")
    assert emb.precision == "float32" and emb.dim == m.cfg.embed_dim and emb.version and emb.name
    w = (np.random.default_rng(0).random((3, 7, 64, 44)) > 0.5).astype(np.uint8)
    v = emb.embed(w)
    assert v.shape == (3, emb.dim) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert np.allclose(v, emb.embed(w * 255), atol=1e-5)  # 0..255 masks are the same windows
    assert np.allclose(v, emb.embed(w.astype(np.float32)), atol=1e-5)  # uint8 is converted on the device
    with torch.inference_mode():  # the fused CPU path agrees with the plain model
        ref = m(torch.from_numpy(w.astype(np.float32))).embedding.numpy()
    assert np.allclose(v, ref, atol=1e-4)
    auto = get_embedder("checkpoint", path=path, device="cpu")  # bf16 where this CPU runs it natively
    assert auto.precision == ("bfloat16" if autocast_dtype(torch.device("cpu")) else "float32")
    assert (auto.embed(w) * v).sum(1).min() > 0.99  # same vectors up to rounding
    with pytest.raises(GaitlineError, match="precision"):
        get_embedder("checkpoint", path=path, device="cpu", precision="int4")
    with pytest.raises(ValueError):
        emb.embed(np.zeros((2, 5, 64, 64), np.float32))
    with pytest.raises(ValueError):
        emb.embed(np.full((1, 5, 64, 44), np.nan, np.float32))
    bn = get_embedder("checkpoint", path=path, device="cpu", embed_from="bnneck")
    assert bn.name.endswith("+bnneck") and bn.embed(w).shape == (3, emb.dim)
    monkeypatch.setattr(reg, "CHECKPOINT_DIR", tmp_path / "nothing")
    with pytest.raises(GaitlineError, match="no checkpoint"):
        get_embedder("large")
    with pytest.raises(GaitlineError, match="path="):
        get_embedder("checkpoint")


def test_half_copy_loads_with_the_same_embeddings(tmp_path: Path) -> None:
    from bench.gpu import half_copy

    m, path = _saved(tmp_path, "medium")
    half = tmp_path / "half.pt"
    half_copy(path, half)
    assert half.stat().st_size < 0.6 * path.stat().st_size  # weights at 2 bytes instead of 4
    full = get_embedder("checkpoint", path=path, device="cpu", precision="fp32")
    small = get_embedder("checkpoint", path=half, device="cpu", precision="fp32")
    assert small.meta["stored_as"] == "float16" and small.version != full.version
    w = (np.random.default_rng(1).random((4, 6, 64, 44)) > 0.5).astype(np.uint8)
    assert (full.embed(w) * small.embed(w)).sum(1).min() > 0.999  # fp16 rounding only
