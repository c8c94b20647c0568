"""The CASIA-B-style recognition protocol: the subject split, the model to score, and the scores.

First 74 subjects train, the rest test (all subjects are test when there are too few for the
split). Gallery nm-01..04; probes nm-05/06 (NM), bg-01/02 (BG), cl-01/02 (CL); identical views
excluded; rank-1 per condition and view, mAP and TPIR at FPIR = 1 %, in percent.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from gait.dataset import Sequence
from gait.evaluation.metrics import Split, exclude_identical, mean_average_precision, open_set, rank1_by_view
from gait.exceptions import UnknownEmbedderError
from gait.model.registry import Embedder, get_embedder
from gaitline.errors import GaitlineError

TRAIN_SUBJECTS = 74
GALLERY = ("nm-01", "nm-02", "nm-03", "nm-04")
PROBES = {"NM": ("nm-05", "nm-06"), "BG": ("bg-01", "bg-02"), "CL": ("cl-01", "cl-02")}
BASELINES = ("baseline", "trivial")


def resolve_model(name: str, **kwargs: Any) -> Embedder:
    """The embedder for ``--model``: a registered name, or a checkpoint file path.

    A path goes to the ``checkpoint`` factory (registered by the learned-model module);
    ``kwargs`` go to the factory (e.g. ``embed_from``; training-free models ignore them).
    """
    if Path(name).is_file():
        try:
            return get_embedder("checkpoint", path=name, **kwargs)
        except UnknownEmbedderError as exc:
            raise GaitlineError(f"--model {name}: a checkpoint file, but no 'checkpoint' loader is "
                                "registered (the learned model module provides it)") from exc
    return get_embedder(name, **kwargs)


def split_subjects(subjects: list[str]) -> tuple[list[str], str]:
    """Test subjects under the protocol and a note saying which split was used."""
    if len(subjects) <= TRAIN_SUBJECTS:
        return subjects, (f"{len(subjects)} subjects: fewer than the protocol's {TRAIN_SUBJECTS} training + "
                          "test split needs, so all are scored as the test set")
    return subjects[TRAIN_SUBJECTS:], (f"{len(subjects)} subjects: first {TRAIN_SUBJECTS} are training, "
                                       f"{len(subjects) - TRAIN_SUBJECTS} test")


def as_split(items: list[tuple[Sequence, np.ndarray]]) -> Split:
    emb = np.stack([e for _, e in items]) if items else np.zeros((0, 1), np.float32)
    return Split(emb, np.array([s.subject for s, _ in items]), np.array([s.view for s, _ in items]))


def score(embedded: list[tuple[Sequence, np.ndarray]], views: list[str]) -> dict[str, Any]:
    """Rank-1 per condition and view, mAP and TPIR@FPIR=1 % from per-sequence embeddings (percent)."""
    gallery = as_split([(s, e) for s, e in embedded if s.type in GALLERY])
    rank1: dict[str, float | None] = {}
    per_view: dict[str, list[float | None]] = {}
    probes_all = []
    for cond, types in PROBES.items():
        items = [(s, e) for s, e in embedded if s.type in types]
        probes_all += items
        if not items or not len(gallery.labels):
            rank1[cond], per_view[cond] = None, [None] * len(views)
            continue
        pv = exclude_identical(rank1_by_view(as_split(items), gallery, views)) * 100  # [V]
        per_view[cond] = [None if math.isnan(v) else round(float(v), 2) for v in pv]
        ok = pv[np.isfinite(pv)]
        rank1[cond] = round(float(ok.mean()), 2) if len(ok) else None
    probe = as_split(probes_all)
    m = mean_average_precision(probe, gallery) * 100 if len(probe.labels) and len(gallery.labels) else math.nan
    subjects = sorted(set(gallery.labels.tolist()))
    enrolled = set(subjects[::2])
    tp = open_set(probe, gallery, enrolled) * 100 if len(subjects) >= 2 else math.nan
    return {"rank1": rank1, "mAP": None if math.isnan(m) else round(m, 2),
            "tpir_at_fpir1": None if math.isnan(tp) else round(tp, 2), "per_view": per_view}


def table(name: str, res: dict[str, Any], views: list[str]) -> str:
    lines = [f"rank-1 (%) of {name} per probe view, identical views excluded:",
             "cond " + " ".join(f"{v:>6}" for v in views) + "   mean"]
    for cond, vals in res["per_view"].items():
        cells = " ".join(f"{'-':>6}" if v is None else f"{v:6.1f}" for v in vals)
        mean = res["rank1"][cond]
        lines.append(f"{cond:<4} {cells} {'   -' if mean is None else f'{mean:6.1f}'}")
    return "\n".join(lines)
