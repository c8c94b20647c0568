"""Which subjects a training run sees, loaded as the trainer wants them, and its validation scorer."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def load_split(dataset: Path, first: int, last: int | None = None, max_frames: int | None = None,
               transform: Callable[[np.ndarray], np.ndarray] | None = None,
               ) -> tuple[list[np.ndarray], list[str], list[Any]]:
    """Load the sequences of subjects ``first_index..last_index`` (sorted folder order).

    Args:
        dataset: root in the CASIA-B layout.
        first: index of the first subject (0-based), last: one past the last (None = all).
        max_frames: keep at most this many frames per sequence.
        transform: applied to each sequence as it is read (e.g. bit-packing, so that a large set
            never sits unpacked in memory).
    Returns:
        (sequences [t, 64, 44] uint8 0/1, subject id of each, the :class:`gait.dataset.Sequence` records).
    """
    from gait.dataset import iter_sequences, scan

    seqs = scan(dataset)
    subjects = sorted({s.subject for s in seqs})[first:last]
    keep = set(subjects)
    chosen = [s for s in seqs if s.subject in keep]
    arrays, subj, recs = [], [], []
    for rec, arr in iter_sequences(chosen, max_frames=max_frames):
        binary = (arr > 0.5).astype(np.uint8)
        arrays.append(transform(binary) if transform else binary)
        subj.append(rec.subject)
        recs.append(rec)
    return arrays, subj, recs


def validator(val_dir: Path, subjects: int, frames: int) -> Any:
    """A scorer on ``subjects`` identities of ``val_dir`` (CASIA-B protocol, rank-1 per condition)."""
    import torch

    from gait.evaluation.quick import embed_sequences, rank1_by_condition

    arrays, subj, recs = load_split(val_dir, 0, subjects, max_frames=frames)

    def validate(model: Any) -> dict[str, float]:
        dev = next(model.parameters()).device

        def emb(x: np.ndarray) -> np.ndarray:
            with torch.inference_mode():
                return model(torch.from_numpy(x).to(dev)).embedding.float().cpu().numpy()

        e = embed_sequences(emb, [a.astype(np.float32) for a in arrays])
        r = rank1_by_condition(e, subj, [r.type for r in recs], [r.view for r in recs])
        return {f"val_{k}": v for k, v in r.items()}

    return validate
