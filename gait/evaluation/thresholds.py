"""Calibrating the open-set threshold on held-out people, and writing it where the index reads it.

One window per sequence of the dataset's test split; every pair of windows of different
subjects is a stranger pair, every pair of the same subject from different sequences a mated
pair. The threshold is the strangers' similarity quantile at ``1 - far``: the share of
stranger pairs a single window comparison lets through.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from gait.dataset import iter_sequences, scan
from gait.evaluation.recognition import split_subjects
from gait.exceptions import DatasetError, MissingCheckpointError
from gait.model.calibration import checkpoint_for, kind_of, write_calibration
from gait.model.registry import Embedder


def calibrate(model: Embedder, dataset: Path, window: int = 30, far: float = 0.005) -> dict[str, Any]:
    """The threshold at ``far`` for ``model`` on the test split of ``dataset``, with the quantiles behind it."""
    seqs = scan(dataset)
    test, note = split_subjects(sorted({s.subject for s in seqs}))
    tset = set(test)
    embs, subj = [], []
    for s, arr in iter_sequences([s for s in seqs if s.subject in tset], window):
        if len(arr):
            embs.append(model.embed(arr[None])[0])  # [dim]
            subj.append(s.subject)
    if len(set(subj)) < 2:
        raise DatasetError(f"--dataset {dataset}: need windows of at least two test subjects")
    e = np.stack(embs)  # [m, dim]
    lab = np.asarray(subj)
    sim = e @ e.T  # [m, m]
    upper = np.triu(np.ones_like(sim, dtype=bool), 1)
    same = lab[:, None] == lab[None, :]
    strangers, mated = sim[upper & ~same], sim[upper & same]
    thr = float(np.quantile(strangers, 1 - far))
    sq = {q: round(float(np.quantile(strangers, float(q))), 4) for q in ("0.5", "0.99", "0.995", "0.999", "0.9999")}
    mq = {q: round(float(np.quantile(mated, float(q))), 4) for q in ("0.1", "0.5", "0.9")}
    return {"model": getattr(model, "name", "?"), "windows": len(e), "subjects": len(set(subj)), "window": window,
            "far": far, "threshold": round(thr, 4), "mated_accepted": round(float((mated >= thr).mean()), 4),
            "stranger_quantiles": sq, "mated_quantiles": mq, "split": note, "dataset": str(Path(dataset).resolve())}


def _checkpoint_and_kind(model: Embedder, requested: str) -> tuple[Path, str]:
    """The checkpoint file behind ``model`` and the kind of vectors it sends."""
    path = Path(requested) if Path(requested).is_file() else checkpoint_for(getattr(model, "name", requested))
    if path is None:
        raise MissingCheckpointError(f"model {requested!r} has no checkpoint to write a threshold into "
                                     "(a training-free model states its own)")
    import torch

    config = torch.load(path, map_location="cpu", weights_only=True)["config"]
    return path, kind_of(getattr(model, "name", requested), {"config": config})


def write_threshold(model: Embedder, requested: str, result: dict[str, Any], command: str) -> tuple[Path, str]:
    """Store ``result`` (from :func:`calibrate`) in the checkpoint behind ``model``; returns (file, kind).

    ``requested`` is what ``--model`` named: a shipped model's name or a checkpoint file.
    """
    path, kind = _checkpoint_and_kind(model, requested)
    record = {k: result[k] for k in ("threshold", "far", "window", "windows", "subjects", "dataset",
                                     "stranger_quantiles", "mated_quantiles", "mated_accepted")}
    record["rule"] = f"strangers' window-pair cosine quantile at 1 - far ({result['far']:g})"
    record["command"] = command
    write_calibration(path, kind, record)
    return path, kind


def write_real_threshold(model: Embedder, requested: str, open_set: dict[str, Any], dataset: str,
                         people: int, command: str) -> tuple[Path, str]:
    """Store the threshold ``gaitline eval real`` fitted on real strangers (its ``open_set`` result)
    in the checkpoint behind ``model``; the calibration it replaces is kept inside the record
    (``replaced``). Returns (file, kind)."""
    path, kind = _checkpoint_and_kind(model, requested)
    if open_set.get("threshold") is None:
        raise MissingCheckpointError(f"{dataset}: no stranger scores to fit a threshold on")
    from gait.model.calibration import calibration

    before = calibration(getattr(model, "name", requested)) if not Path(requested).is_file() else None
    record = {"threshold": open_set["threshold"], "far": open_set["far_target"], "source": "real",
              "rule": f"real strangers' window-to-identity cosine quantile at 1 - far ({open_set['far_target']:g})",
              "dataset": dataset, "people": people, "comparisons": open_set["comparisons"],
              "stranger_quantiles": open_set["stranger_quantiles"], "mated_quantiles": open_set["mated_quantiles"],
              "held_out": open_set["held_out"], "per_fold": open_set["per_fold"], "command": command}
    if before:
        record["replaced"] = {k: v for k, v in before.items() if k != "replaced"}
    write_calibration(path, kind, record)
    return path, kind
