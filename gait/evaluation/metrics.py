"""Gait-recognition metrics as the field reports them on CASIA-B.

* Rank-1 accuracy per (probe view, gallery view) pair; a probe view's score is the mean over
  the *other* gallery views (identical views excluded), a condition's score the mean over
  probe views.
* mAP over the gallery sequences of the other views.
* Open-set TPIR at a fixed FPIR: half of the test identities are enrolled, the rest only walk
  by; the threshold lets through at most that fraction of non-enrolled probes.

Embeddings are compared by cosine similarity (they are L2-normalised).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Split:
    """Embeddings with their labels and views: ``emb [n, d]``, ``labels [n]``, ``views [n]``."""

    emb: np.ndarray
    labels: np.ndarray
    views: np.ndarray


def similarity(probe: np.ndarray, gallery: np.ndarray) -> np.ndarray:
    """Cosine similarity ``[p, g]`` of L2-normalised ``probe [p, d]`` and ``gallery [g, d]``."""
    return probe.astype(np.float64) @ gallery.astype(np.float64).T


def rank1_by_view(probe: Split, gallery: Split, views: list[str]) -> np.ndarray:
    """Rank-1 accuracy (0..1) ``[len(views), len(views)]``: rows probe view, columns gallery view.

    A cell is NaN where either side has no sequences.
    """
    sim = similarity(probe.emb, gallery.emb)  # [p, g]
    out = np.full((len(views), len(views)), np.nan)
    for j, gv in enumerate(views):
        gmask = gallery.views == gv
        if not gmask.any():
            continue
        gl = gallery.labels[gmask]
        best = gl[np.argmax(sim[:, gmask], axis=1)]  # [p] nearest gallery label in that view
        hit = best == probe.labels
        for i, pv in enumerate(views):
            pmask = probe.views == pv
            if pmask.any():
                out[i, j] = hit[pmask].mean()
    return out


def exclude_identical(table: np.ndarray) -> np.ndarray:
    """Per probe view: mean over gallery views other than its own ``[V]`` (NaN-aware)."""
    t = table.copy()
    np.fill_diagonal(t, np.nan)
    with np.errstate(all="ignore"):
        return np.nanmean(t, axis=1) if np.isfinite(t).any() else np.full(len(t), np.nan)


def mean_average_precision(probe: Split, gallery: Split, cross_view: bool = True) -> float:
    """mAP (0..1) of ranking the gallery for each probe; same-view gallery excluded when ``cross_view``.

    Probes without a true match among their candidates are skipped.
    """
    sim = similarity(probe.emb, gallery.emb)  # [p, g]
    aps = []
    for i in range(len(sim)):
        cand = gallery.views != probe.views[i] if cross_view else np.ones(len(gallery.views), bool)
        s, rel = sim[i, cand], gallery.labels[cand] == probe.labels[i]
        if not rel.any():
            continue
        order = np.argsort(-s, kind="stable")
        r = rel[order]
        hits = np.cumsum(r)
        prec = hits / np.arange(1, len(r) + 1)
        aps.append(float((prec * r).sum() / r.sum()))
    return float(np.mean(aps)) if aps else float("nan")


def tpir_at_fpir(mated_scores: np.ndarray, mated_correct: np.ndarray, nonmated_scores: np.ndarray,
                 fpir: float = 0.01) -> float:
    """Open-set true-positive identification rate at a false-positive identification rate.

    Args:
        mated_scores: best gallery score of each probe whose identity is enrolled ``[m]``.
        mated_correct: whether that best match is the right identity ``[m]``.
        nonmated_scores: best gallery score of each probe whose identity is not enrolled ``[u]``.
        fpir: allowed fraction of non-mated probes accepted.

    Returns:
        TPIR (0..1) at the lowest threshold whose FPIR does not exceed ``fpir``.
    """
    if len(mated_scores) == 0 or len(nonmated_scores) == 0:
        return float("nan")
    s = np.sort(np.asarray(nonmated_scores, np.float64))[::-1]
    k = int(np.floor(fpir * len(s)))  # false accepts we may afford
    thr = np.nextafter(s[k], np.inf) if k < len(s) else -np.inf  # strictly above the (k+1)-th best
    ok = np.asarray(mated_correct, bool) & (np.asarray(mated_scores, np.float64) >= thr)
    return float(ok.mean())


def open_set(probe: Split, gallery: Split, enrolled: set[str], fpir: float = 0.01) -> float:
    """TPIR at ``fpir`` with only ``enrolled`` identities in the gallery; same views excluded."""
    gmask = np.isin(gallery.labels, sorted(enrolled))
    g = Split(gallery.emb[gmask], gallery.labels[gmask], gallery.views[gmask])
    if len(g.labels) == 0:
        return float("nan")
    sim = similarity(probe.emb, g.emb)  # [p, g]
    sim[probe.views[:, None] == g.views[None, :]] = -np.inf
    best = np.argmax(sim, axis=1)
    score = sim[np.arange(len(sim)), best]
    mated = np.isin(probe.labels, sorted(enrolled))
    correct = g.labels[best] == probe.labels
    return tpir_at_fpir(score[mated], correct[mated], score[~mated], fpir)
