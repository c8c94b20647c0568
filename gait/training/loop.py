"""Training the gait model: P x K sampling, batch-all triplet + BNNeck cross-entropy.

One step: draw P identities and K sequences of each, cut a random run of ``frames``
consecutive frames from every sequence, add segmentation noise (:mod:`gait.training.augment`), and
minimise ``triplet(strips) + ce_weight * cross_entropy(bnneck logits)``, both averaged over
strips. State (model, optimiser, scheduler, step, RNG) is saved every ``ckpt_every`` steps to
``run_dir/last.pt`` so an interrupted run resumes where it stopped; metrics go to
``run_dir/metrics.jsonl``, one JSON object per line.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812

from gait.exceptions import CheckpointError
from gait.model.checkpoint import autocast_dtype, resolve_device, save_checkpoint
from gait.model.network import GaitModel, ModelConfig
from gait.training.augment import AugmentConfig, augment


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of a run.

    Args:
        p: identities per batch; k: sequences per identity.
        frames: length of the random consecutive subsequence cut from each sequence.
        steps: optimiser steps in total (a resumed run continues up to this).
        lr, weight_decay, warmup: AdamW with linear warm-up then cosine decay to 1 %.
        margin: triplet margin; ce_weight/ce_scale/label_smooth: BNNeck cross-entropy.
        augment: add segmentation noise; amp: autocast in reduced precision, fp16 on CUDA, bf16 on
            CPUs with native bf16 (None = wherever :func:`autocast_dtype` finds one).
        ckpt_every/log_every: steps between resumable checkpoints / metric lines.
        seed: makes sampling, augmentation and initialisation reproducible.
        sampling: ``consecutive`` frames (as the frames worker cuts windows) or ``unordered``
            frames from anywhere in the sequence (see :meth:`SequenceSet.sample`).
    """

    p: int = 8
    k: int = 4
    frames: int = 30
    steps: int = 2000
    lr: float = 2e-3
    weight_decay: float = 5e-4
    warmup: int = 50
    margin: float = 0.2
    ce_weight: float = 1.0
    ce_scale: float = 16.0
    label_smooth: float = 0.1
    augment: bool = True
    amp: bool | None = None
    ckpt_every: int = 100
    log_every: int = 10
    seed: int = 0
    sampling: Literal["consecutive", "unordered"] = "consecutive"
    aug: AugmentConfig = field(default_factory=AugmentConfig)


class SequenceSet:
    """Training sequences in memory (bit-packed) with integer identity labels 0..C-1.

    Args:
        seqs: per sequence [t, 64, 44] (or [t, 64, 64], centre-cropped) silhouettes, 0/1 or 0..1;
            or, with ``packed``, the output of :func:`pack_sequence`.
        labels: identity of each sequence.
        packed: ``seqs`` are already bit-packed (load them packed: a big set never sits unpacked in RAM).
    """

    def __init__(self, seqs: Sequence[np.ndarray], labels: Sequence[int], packed: bool = False) -> None:
        if len(seqs) != len(labels) or not seqs:
            raise ValueError("need one label per sequence and at least one sequence")
        self.seqs = list(seqs) if packed else [pack_sequence(s) for s in seqs]  # [t, 64, 6] uint8
        self.labels = np.asarray(labels, dtype=np.int64)
        self.by_label: dict[int, np.ndarray] = {
            int(lab): np.flatnonzero(self.labels == lab) for lab in np.unique(self.labels)}

    @property
    def num_classes(self) -> int:
        """Largest label + 1 (labels are expected to be 0..C-1)."""
        return int(self.labels.max()) + 1

    def sample(self, p: int, k: int, frames: int, rng: np.random.Generator,
               unordered: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """A P x K batch: windows [p*k, frames, 64, 44] float32 and labels [p*k].

        ``unordered``: frames drawn anywhere in the sequence (GaitSet's set sampling) instead of
        one consecutive run; fewer frames then still cover the whole gait cycle.
        """
        ids = list(self.by_label)
        chosen = rng.choice(ids, size=min(p, len(ids)), replace=False)
        out, labs = [], []
        for lab in chosen:
            pool = self.by_label[int(lab)]
            for idx in rng.choice(pool, size=k, replace=len(pool) < k):
                seq = self.seqs[int(idx)]
                sub = _scattered(seq, frames, rng) if unordered else _subsequence(seq, frames, rng)
                out.append(np.unpackbits(sub, axis=-1, count=44))
                labs.append(int(lab))
        return np.stack(out).astype(np.float32), np.asarray(labs, dtype=np.int64)


def pack_sequence(seq: np.ndarray) -> np.ndarray:
    """Bit-pack a sequence along the width: [t, 64, 44|64] -> [t, 64, 6] uint8 (8x less memory)."""
    return np.packbits(_to_64x44(seq) > 0.5, axis=-1)


def _to_64x44(seq: np.ndarray) -> np.ndarray:
    if seq.ndim != 3 or seq.shape[1] != 64 or seq.shape[2] not in (44, 64) or len(seq) == 0:
        raise ValueError(f"a sequence must be [t>0, 64, 44] or [t, 64, 64], got {seq.shape}")
    return seq if seq.shape[2] == 44 else seq[:, :, 10:54]  # 64x64 -> the centre 44 columns


def _subsequence(seq: np.ndarray, frames: int, rng: np.random.Generator) -> np.ndarray:
    """A random run of ``frames`` consecutive frames (cycled when the sequence is shorter)."""
    t = len(seq)
    start = int(rng.integers(0, max(1, t - frames + 1)))
    idx = (start + np.arange(frames)) % t
    return seq[idx]


def _scattered(seq: np.ndarray, frames: int, rng: np.random.Generator) -> np.ndarray:
    """``frames`` frames drawn from anywhere in the sequence, kept in time order (repeats only when it is shorter)."""
    t = len(seq)
    idx = np.sort(rng.choice(t, size=frames, replace=t < frames))
    return seq[idx]


def triplet_batch_all(feats: torch.Tensor, labels: torch.Tensor, margin: float) -> tuple[torch.Tensor, float]:
    """Batch-all triplet loss per strip, averaged over the triplets that still violate the margin.

    Args:
        feats: [n, d, p] strip features; labels: [n].
    Returns:
        (loss, share of active triplets) -- the share shows how much is left to learn.
    """
    x = feats.permute(2, 0, 1).float()  # [p, n, d]
    dist = torch.cdist(x, x).clamp_min(1e-12)  # [p, n, n]
    same = labels[:, None] == labels[None, :]  # [n, n]
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    pos = same & ~eye  # [n, n]
    neg = ~same
    # [p, n(anchor), n(positive), n(negative)]
    tri = dist[:, :, :, None] - dist[:, :, None, :] + margin
    valid = (pos[:, :, None] & neg[:, None, :])[None]  # [1, n, n, n]
    losses = F.relu(tri) * valid
    active = (losses > 0).sum()
    loss = losses.sum() / active.clamp_min(1)
    return loss, float(active) / max(1.0, float(valid.sum()) * x.shape[0])


def bnneck_ce(logits: torch.Tensor, labels: torch.Tensor, scale: float, smooth: float) -> torch.Tensor:
    """Cross-entropy of scaled cosine logits [n, k, p], averaged over strips."""
    n, k, p = logits.shape
    z = (logits * scale).permute(0, 2, 1).reshape(n * p, k)  # [n*p, k]
    return F.cross_entropy(z.float(), labels.repeat_interleave(p), label_smoothing=smooth)


def _lr_at(step: int, cfg: TrainConfig) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    t = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(1.0, t))))


def train_step(model: GaitModel, opt: torch.optim.Optimizer, scaler: torch.amp.GradScaler, x: torch.Tensor,
               y: torch.Tensor, cfg: TrainConfig, amp: torch.dtype | None = None) -> dict[str, float]:
    """One optimiser step on windows ``x`` [n, s, 64, 44] with labels ``y`` [n]; returns the losses.

    ``amp``: autocast dtype of the forward pass (None = fp32); the losses are computed in fp32.
    """
    with torch.autocast(x.device.type, dtype=amp or torch.float32, enabled=amp is not None):
        res = model(x, with_logits=True)
    assert res.logits is not None  # with_logits=True always fills them
    tri, active = triplet_batch_all(res.strips, y, cfg.margin)
    ce = bnneck_ce(res.logits, y, cfg.ce_scale, cfg.label_smooth)
    loss = tri + cfg.ce_weight * ce
    opt.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.step(opt)
    scaler.update()
    return {"loss": round(loss.detach().item(), 5), "triplet": round(tri.detach().item(), 5),
            "ce": round(ce.detach().item(), 5), "active_triplets": round(active, 4)}


def train_model(data: SequenceSet, model_cfg: ModelConfig, cfg: TrainConfig, out: Path, run_dir: Path,
                device: str | None = None, resume: bool = True, meta: dict[str, Any] | None = None,
                validate: Callable[[GaitModel], dict[str, float]] | None = None, val_every: int = 200,
                progress: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Train (or resume) a model and write the final checkpoint to ``out``.

    Args:
        data: training sequences; ``model_cfg.num_classes`` must cover its labels.
        model_cfg: sizes of the model; cfg: hyper-parameters.
        out: final checkpoint (model + config + meta, no optimiser: small, for shipping).
        run_dir: resumable state ``last.pt`` and ``metrics.jsonl``.
        device: None = CUDA if available else CPU.
        resume: continue from ``run_dir/last.pt`` when it exists.
        meta: stored in the checkpoints (dataset, command line).
        validate: optional scorer called every ``val_every`` steps and at the end; its dict is logged.
        progress: called with every logged metrics dict.
    Returns:
        The last metrics dict.
    """
    if data.num_classes > model_cfg.num_classes:
        raise CheckpointError(f"{data.num_classes} identities but the model has {model_cfg.num_classes} classes")
    dev = resolve_device(device)
    torch.manual_seed(cfg.seed)
    model = GaitModel(model_cfg).to(dev).to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    amp = autocast_dtype(dev) if cfg.amp is not False else None
    if cfg.amp and amp is None:
        raise CheckpointError(f"--amp: {dev} has no native reduced precision (fp16 CUDA or bf16 CPU)")
    # fp16 gradients underflow without loss scaling; bf16 has fp32's exponent range and needs none
    scaler = torch.amp.GradScaler(dev.type, enabled=amp == torch.float16)
    rng = np.random.default_rng(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    run_dir.mkdir(parents=True, exist_ok=True)
    state_path = run_dir / "last.pt"
    step = 0
    if resume and state_path.is_file():
        blob = torch.load(state_path, map_location="cpu", weights_only=True)
        model.load_state_dict(blob["model"])
        opt.load_state_dict(blob["optimizer"])
        step = int(blob["step"])
        rng.bit_generator.state = blob["np_rng"]
        gen.set_state(blob["torch_rng"])
    meta = {**(meta or {}), "train": {**asdict(cfg), "aug": asdict(cfg.aug)}}
    log_path = run_dir / "metrics.jsonl"
    last: dict[str, Any] = {}
    t0, seen = time.perf_counter(), 0
    model.train()
    while step < cfg.steps:
        for g in opt.param_groups:
            g["lr"] = _lr_at(step, cfg)
        x_np, y_np = data.sample(cfg.p, cfg.k, cfg.frames, rng, unordered=cfg.sampling == "unordered")
        # noise is added on the training device: on a GPU the CPU would otherwise be the bottleneck
        # (the random draws stay on the CPU generator, so a seed gives the same run on any device)
        x = torch.from_numpy(x_np).to(dev, non_blocking=True)  # [n, s, 64, 44]
        if cfg.augment:
            x = augment(x, cfg.aug, gen)
        y = torch.from_numpy(y_np).to(dev)
        losses = train_step(model, opt, scaler, x, y, cfg, amp)
        step += 1
        seen += len(y)
        if step % cfg.log_every == 0 or step == cfg.steps:
            dt = time.perf_counter() - t0
            last = {"step": step, **losses, "lr": round(_lr_at(step - 1, cfg), 6),
                    "windows_per_s": round(seen / max(dt, 1e-9), 2), "time": round(time.time(), 1)}
            if validate is not None and (step % val_every == 0 or step == cfg.steps):
                model.eval()
                last.update(validate(model))
                model.train()
            with log_path.open("a") as f:
                f.write(json.dumps(last) + "\n")
            if progress is not None:
                progress(last)
            t0, seen = time.perf_counter(), 0
        if step % cfg.ckpt_every == 0 or step == cfg.steps:
            _save_state(state_path, model, opt, step, rng, gen, meta)
            save_checkpoint(out, model, meta={**meta, "step": step, "metrics": last})
    return last


def _save_state(path: Path, model: GaitModel, opt: torch.optim.Optimizer, step: int,
                rng: np.random.Generator, gen: torch.Generator, meta: dict[str, Any]) -> None:
    save_checkpoint(path, model, meta={**meta, "step": step}, optimizer=opt.state_dict(), step=step,
                    np_rng=rng.bit_generator.state, torch_rng=gen.get_state())
