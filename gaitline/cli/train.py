"""``gaitline train``: train a gait model on a dataset in the CASIA-B layout.

The first ``--train-subjects`` subjects (sorted by folder name; 74 = the CASIA-B protocol)
are the training identities, the rest stay unseen for ``gaitline eval gait``. Works the same
on a synthetic set from ``gaitline sim gaitset`` and on a licensed real CASIA-B copy
(``.pkl`` from OpenGait's pretreatment or folders of PNG masks).
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any

import numpy as np
import typer

from gait.exceptions import TrainError
from gait.training.splits import load_split, validator

FIT_PEOPLE_PER_PASS = 8  # fit-lda loads and embeds this many people's sequences at a time


def train(
    dataset: Path = typer.Option(..., help="dataset root in the CASIA-B layout (<id>/<type>/<view>/)"),
    profile: str = typer.Option("cpu", help="model size: cpu (= default), gpu (= large), tiny, medium"),
    out: Path = typer.Option(Path("runs/gait.pt"), help="final checkpoint (model + config + metadata)"),
    run_dir: Path | None = typer.Option(None, help="resumable state + metrics.jsonl (default: OUT.run/)"),
    train_subjects: int = typer.Option(74, help="the first N subjects train; the rest are the test split"),
    steps: int = typer.Option(2000, help="optimiser steps"),
    p: int = typer.Option(8, help="identities per batch"),
    k: int = typer.Option(4, help="sequences per identity"),
    frames: int = typer.Option(30, help="frames per training subsequence"),
    sampling: str = typer.Option("consecutive", help="consecutive: one run of FRAMES frames; unordered: "
                                 "FRAMES frames from anywhere in the sequence (covers the whole gait cycle)"),
    amp: bool | None = typer.Option(None, "--amp/--no-amp", help="reduced precision: fp16 on CUDA, bf16 on CPUs "
                                    "with native bf16 (default: wherever available)"),
    lr: float = typer.Option(2e-3, help="peak learning rate (AdamW, cosine decay)"),
    seed: int = typer.Option(0, help="seed of sampling, augmentation and initialisation"),
    device: str | None = typer.Option(None, help="cpu / cuda (default: CUDA if available)"),
    threads: int | None = typer.Option(None, help="CPU threads for torch (default: torch's choice)"),
    augment: bool = typer.Option(True, help="add segmentation-like noise to training windows"),
    aug_strength: float = typer.Option(
        1.0, min=0.0, max=3.0, help="scale of every noise probability of gait/training/augment.py "
                                               "(mirroring excluded)"),
    resume: bool = typer.Option(True, help="continue from RUN_DIR/last.pt when present"),
    val_dataset: Path | None = typer.Option(None, help="a separate dataset (other seed) for validation"),
    val_subjects: int = typer.Option(10, help="identities of --val-dataset used for validation"),
    val_every: int = typer.Option(200, help="steps between validations"),
    extra_dataset: list[Path] = typer.Option(
        [], help="more training identities: every subject of this dataset trains (repeatable; use seeds "
                 "that no test set uses)"),
) -> None:
    """Train a gait model (triplet + BNNeck cross-entropy, P x K sampling) and write a checkpoint."""
    import torch

    from gait.model.network import profile_config
    from gait.training.augment import AugmentConfig
    from gait.training.loop import SequenceSet, TrainConfig, pack_sequence, train_model

    if threads:
        torch.set_num_threads(threads)
    if steps < 1 or p < 2 or k < 2 or frames < 1:
        raise TrainError("--steps must be >= 1, --p and --k >= 2 (triplets need positives), --frames >= 1")
    if sampling not in ("consecutive", "unordered"):
        raise TrainError(f"--sampling {sampling!r}: use consecutive or unordered")
    arrays, subj, _ = load_split(dataset, 0, train_subjects, transform=pack_sequence)
    for i, extra in enumerate(extra_dataset):
        if not extra.is_dir():
            raise TrainError(f"{extra}: no such dataset folder")
        more, more_subj, _ = load_split(extra, 0, transform=pack_sequence)
        arrays += more
        subj += [f"x{i + 1}-{s}" for s in more_subj]  # subject 001 of another seed is someone else
    ids = sorted(set(subj))
    if len(ids) < p:
        raise TrainError(f"{dataset}: {len(ids)} training subjects, fewer than --p {p}")
    label = {s: i for i, s in enumerate(ids)}
    data = SequenceSet(arrays, [label[s] for s in subj], packed=True)
    n_seq = len(arrays)
    try:
        mcfg = profile_config(profile, num_classes=len(ids))
    except KeyError as exc:
        raise TrainError(str(exc.args[0])) from exc
    cfg = TrainConfig(p=p, k=k, frames=frames, steps=steps, lr=lr, seed=seed, augment=augment,
                      sampling=sampling, amp=amp,  # type: ignore[arg-type]
                      aug=AugmentConfig().scaled(aug_strength))
    # validation always embeds 30-frame windows (the deployed window), whatever --frames trains on
    validate = validator(val_dataset, val_subjects, 30) if val_dataset else None
    meta = {"dataset": str(dataset.resolve()), "extra_datasets": [str(e.resolve()) for e in extra_dataset],
            "train_subjects": f"{ids[0]}..{ids[-1]}",
            "num_subjects": len(ids), "sequences": n_seq, "profile": profile,
            "command": "gaitline train " + shlex.join(sys.argv[2:] if len(sys.argv) > 2 else []),
            "trained_on": "synthetic" if (dataset / "manifest.json").is_file() else "unknown"}
    rd = run_dir or out.with_suffix(".run")
    typer.echo(f"training {profile} on {n_seq} sequences of {len(ids)} subjects; "
               f"state and metrics in {rd}", err=True)

    def show(m: dict[str, Any]) -> None:
        typer.echo(" ".join(f"{k}={v}" for k, v in m.items() if k != "time"), err=True)

    last = train_model(data, mcfg, cfg, out, rd, device=device, resume=resume, meta=meta,
                       validate=validate, val_every=val_every, progress=show)
    typer.echo(f"wrote {out} (step {last.get('step')})")


def fit_lda(
    model: Path = typer.Option(Path("gait/checkpoints/default.pt"), help="trained checkpoint to project"),
    dataset: list[Path] = typer.Option(..., help="people the model never trained on, CASIA-B layout; every "
                                       "subject fits the projection (repeatable: more people, more dims)"),
    out: Path = typer.Option(..., help="checkpoint to write: the model plus the projection"),
    dims: int = typer.Option(48, help="directions kept (the embedding's length; 48 was chosen for the default)"),
    shrink: float = typer.Option(1.0, min=0.0, help="diagonal loading of the within-person covariance"),
    features: str = typer.Option("pyramid", "--input", help="what the projection reads: 'pyramid' (pooled strips "
                                 "before the strip FCs) or 'strips' (the FCs' outputs)"),
    mirror: bool = typer.Option(True, help="also read the left-right mirrored window (twice the backbone work)"),
    frame_mean: bool = typer.Option(True, help="also read the features pooled by the frames' mean next to "
                                    "their max (twice the numbers, no backbone work)"),
    frame_std: bool = typer.Option(True, help="also read the features' standard deviation over the frames: "
                                   "how much each part moves (no backbone work, but fewer windows/s on "
                                   "CPU in bf16: it is taken in fp32; see gaitline bench embed)"),
    power: float = typer.Option(0.5, min=0.0, max=1.0, help="read the features raised to this power, sign kept "
                                "(0.5 = square roots; 1 = as they are): bursty activations weigh less"),
    frames: int | None = typer.Option(None, min=1, help="embed the first N frames of each sequence, not all of "
                                      "it (30 = the pipeline's window; quicker than whole sequences)"),
    val_dataset: Path | None = typer.Option(None, help="score rank-1 on this set before and after"),
    val_subjects: int = typer.Option(50, help="identities of --val-dataset scored"),
    threads: int | None = typer.Option(None, help="CPU threads for torch (default: torch's choice)"),
) -> None:
    """Fit a linear projection (regularised LDA) after a trained model, on people it never saw."""
    import torch

    from gait.dataset import scan
    from gait.evaluation.quick import rank1_by_condition
    from gait.exceptions import CheckpointError, ProjectionError
    from gait.model.allocator import release_memory
    from gait.model.checkpoint import load_checkpoint, save_checkpoint
    from gait.model.projection import fit_lda, projection_features, reading, strip_features, with_projection

    if features not in ("pyramid", "strips"):
        raise TrainError(f"--input {features!r}: pyramid or strips")
    if threads:
        torch.set_num_threads(threads)
    try:
        ck = load_checkpoint(model, device="cpu")
    except CheckpointError as exc:
        raise TrainError(str(exc)) from exc
    trained_on = {Path(p).resolve() for p in [ck.meta.get("dataset"), *ck.meta.get("extra_datasets", [])] if p}
    people = 0
    for ds in dataset:
        if not ds.is_dir():
            raise TrainError(f"{ds}: no such dataset folder")
        if ds.resolve() in trained_on:
            raise TrainError(f"{ds} trained {model}: fit the projection on people the model never saw "
                             "(another seed)")
        people += len({s.subject for s in scan(ds)})
    if not 1 <= dims <= people - 1:  # checked before the slow part: embedding every sequence
        raise TrainError(f"--dims {dims}: must be 1..{people - 1} (identities - 1) for {people} identities")
    if power <= 0:
        raise TrainError(f"--power {power}: must be in (0, 1]")
    base = reading(ck.model, features, mirror, frame_mean, frame_std, power)
    feats: list[np.ndarray] = []
    labels: list[str] = []
    for i, ds in enumerate(dataset):
        count, before = len({s.subject for s in scan(ds)}), len(labels)
        # a few people at a time: the masks of a 124-person set are ~3 GB, the features kept
        # a few KB per sequence
        for first in range(0, count, FIT_PEOPLE_PER_PASS):
            arrays, subj, _ = load_split(ds, first, first + FIT_PEOPLE_PER_PASS, max_frames=frames)
            feats.append(projection_features(base, arrays))
            labels += [f"{i}-{s}" for s in subj]  # subject 001 of two seeds is two people
        typer.echo(f"{ds}: {len(labels) - before} sequences of {count} people", err=True)
    release_memory()  # the network's freed activations, kept for reuse (gait/model/allocator.py), go back first
    try:
        lda = fit_lda(np.concatenate(feats), labels, dims=dims, shrink=shrink)
    except ProjectionError as exc:
        raise TrainError(str(exc)) from exc
    projected = with_projection(base, lda)
    meta = {**ck.meta, "projection": {
        "kind": "lda", "dims": dims, "shrink": shrink, "input": features, "mirror": mirror,
        "frame_mean": frame_mean, "frame_std": frame_std, "power": power, "frames": frames,
        "people": len(set(labels)), "sequences": len(labels),
        "datasets": [str(d.resolve()) for d in dataset], "base_version": ck.version,
        "command": "gaitline fit-lda " + shlex.join(sys.argv[2:] if len(sys.argv) > 2 else [])}}
    if val_dataset is not None:
        arrays, subj, recs = load_split(val_dataset, 0, val_subjects)
        raw = strip_features(ck.model, arrays).reshape(len(arrays), ck.config.strip_dim, -1)  # [m, d, p]
        views = {"before": raw / np.linalg.norm(raw, axis=1, keepdims=True),  # the raw strips' embedding
                 "after": (projection_features(base, arrays) - lda.mean) @ lda.weight}
        scores = {k: rank1_by_condition(v.reshape(len(v), -1) / np.linalg.norm(v.reshape(len(v), -1), axis=1,
                                                                               keepdims=True),
                                        subj, [r.type for r in recs], [r.view for r in recs])
                  for k, v in views.items()}
        meta["projection"]["val"] = {"dataset": str(val_dataset.resolve()), "subjects": val_subjects, **scores}
        typer.echo(f"validation rank-1 before {scores['before']} after {scores['after']}", err=True)
    save_checkpoint(out, projected, meta=meta)
    typer.echo(f"wrote {out} ({dims}-d embedding from {len(set(labels))} people)")
