"""Training: losses, P x K sampling, augmentation, a short run that learns and resumes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from gait.evaluation.quick import rank1_by_condition
from gait.model.checkpoint import load_checkpoint
from gait.model.network import GaitModel, profile_config
from gait.training.augment import AugmentConfig, augment
from gait.training.loop import SequenceSet, TrainConfig, train_model, train_step, triplet_batch_all

torch.set_num_threads(1)


def _toy_set(n_ids: int = 4, per_id: int = 3, frames: int = 12) -> SequenceSet:
    """Identities differ by body width: a learnable signal."""
    rng = np.random.default_rng(0)
    seqs, labels = [], []
    for i in range(n_ids):
        for _ in range(per_id):
            s = np.zeros((frames, 64, 64), np.uint8)
            half = 3 + 3 * i
            for t in range(frames):
                sway = int(rng.integers(-1, 2))
                s[t, 4:60, 32 - half + sway:32 + half + sway] = 1
            seqs.append(s)
            labels.append(i)
    return SequenceSet(seqs, labels)


def test_triplet_loss_zero_when_separated_positive_otherwise() -> None:
    y = torch.tensor([0, 0, 1, 1])
    sep = torch.tensor([[0.0], [0.0], [10.0], [10.0]]).view(4, 1, 1)  # [n, d, p]
    loss, active = triplet_batch_all(sep, y, margin=0.2)
    assert loss.item() == 0 and active == 0
    mixed = torch.tensor([[0.0], [10.0], [0.0], [10.0]]).view(4, 1, 1)
    loss, active = triplet_batch_all(mixed, y, margin=0.2)
    assert loss.item() > 1 and active > 0


def test_pk_sampling_shapes() -> None:
    ds = _toy_set()
    x, y = ds.sample(3, 2, 30, np.random.default_rng(0))
    assert x.shape == (6, 30, 64, 44) and x.dtype == np.float32  # 64x64 centre-cropped, cycled to 30
    assert len(set(y.tolist())) == 3 and all((y == lab).sum() == 2 for lab in set(y.tolist()))
    assert set(np.unique(x)) <= {0.0, 1.0}
    with pytest.raises(ValueError):
        SequenceSet([np.zeros((0, 64, 44), np.uint8)], [0])


def test_augment_keeps_shape_binary_and_is_seeded() -> None:
    x = torch.from_numpy(_toy_set().sample(2, 2, 8, np.random.default_rng(1))[0])
    every = AugmentConfig(flip=1, morph=1, ragged=1, holes=1, blur=1, occlusion=1, jitter=1, coat=1)
    a = augment(x, every, torch.Generator().manual_seed(3))
    b = augment(x, every, torch.Generator().manual_seed(3))
    assert a.shape == x.shape and torch.equal(a, b) and not torch.equal(a, x)
    assert set(torch.unique(a).tolist()) <= {0.0, 1.0}


def test_jitter_shifts_each_frame_sideways_only() -> None:
    x = torch.from_numpy(_toy_set().sample(2, 2, 8, np.random.default_rng(1))[0])
    only = AugmentConfig(flip=0, morph=0, ragged=0, holes=0, blur=0, occlusion=0, jitter=1, coat=0)
    a = augment(x, only, torch.Generator().manual_seed(5))
    moved = 0
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            rolls = [d for d in range(-2, 3) if torch.equal(a[i, j], torch.roll(x[i, j], d, dims=-1))]
            assert rolls, "every frame is the original rolled by -2..2 columns"
            moved += 0 not in rolls
    assert moved > 0


def test_augment_strength_scales_noise_not_mirroring() -> None:
    half = AugmentConfig().scaled(0.5)
    assert half.flip == AugmentConfig().flip and half.morph == AugmentConfig().morph / 2
    assert AugmentConfig().scaled(0).holes == 0 and AugmentConfig().scaled(10).coat == 1.0
    with pytest.raises(ValueError):
        AugmentConfig().scaled(-1)


def test_two_steps_reduce_the_loss() -> None:
    torch.manual_seed(0)
    ds = _toy_set()
    model = GaitModel(profile_config("tiny", num_classes=4)).train()
    cfg = TrainConfig(margin=0.2)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    x_np, y_np = ds.sample(4, 2, 8, np.random.default_rng(0))
    x, y = torch.from_numpy(x_np), torch.from_numpy(y_np)
    first = train_step(model, opt, scaler, x, y, cfg)["loss"]
    train_step(model, opt, scaler, x, y, cfg)
    third = train_step(model, opt, scaler, x, y, cfg)["loss"]
    assert third < first


def test_train_model_writes_checkpoint_metrics_and_resumes(tmp_path: Path) -> None:
    ds = _toy_set()
    mcfg = profile_config("tiny", num_classes=4)
    out, run = tmp_path / "m.pt", tmp_path / "run"
    cfg = TrainConfig(p=2, k=2, frames=6, steps=2, log_every=1, ckpt_every=1, warmup=1)
    train_model(ds, mcfg, cfg, out, run, device="cpu")
    cfg4 = TrainConfig(p=2, k=2, frames=6, steps=4, log_every=1, ckpt_every=1, warmup=1)
    last = train_model(ds, mcfg, cfg4, out, run, device="cpu", validate=lambda m: {"val": 1.0}, val_every=2)
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4]  # resumed at step 2, not from scratch
    assert last["val"] == 1.0
    ck = load_checkpoint(out, device="cpu")
    assert ck.meta["step"] == 4 and ck.config == mcfg


def test_rank1_protocol_excludes_identical_views() -> None:
    subj = ["a", "a", "b", "b"]
    types = ["nm-01", "nm-05", "nm-01", "nm-05"]
    views = ["000", "018", "000", "018"]
    emb = np.eye(4, dtype=np.float32)[[0, 0, 1, 1]]
    assert rank1_by_condition(emb, subj, types, views) == {"NM": 100.0}


def test_unordered_sampling_spreads_over_the_sequence_in_time_order() -> None:
    from gait.training.loop import _scattered

    seq = np.arange(40)[:, None, None] * np.ones((1, 64, 6), np.uint8)  # frame i holds the value i
    got = _scattered(seq, 10, np.random.default_rng(0))[:, 0, 0]
    assert len(set(got.tolist())) == 10 and (np.diff(got) > 0).all()  # distinct, in time order
    assert got.max() - got.min() > 20  # spread, not one run of 10
    short = _scattered(seq[:4], 10, np.random.default_rng(0))[:, 0, 0]
    assert set(short.tolist()) == {0, 1, 2, 3} and (np.diff(short) >= 0).all()  # repeats only when short
    x, y = _toy_set().sample(2, 2, 6, np.random.default_rng(0), unordered=True)
    assert x.shape == (4, 6, 64, 44) and len(y) == 4


def test_reduced_precision_is_picked_per_device() -> None:
    from gait.model.checkpoint import autocast_dtype

    assert autocast_dtype(torch.device("cuda")) == torch.float16
    cpu = autocast_dtype(torch.device("cpu"))
    assert cpu == (torch.bfloat16 if torch.ops.mkldnn._is_mkldnn_bf16_supported() else None)
