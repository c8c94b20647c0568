"""A compact CASIA-B-protocol scorer for validation during training and quick comparisons.

Gallery: ``nm-01..04`` of every test subject; probes: ``nm-05..06`` (NM), ``bg-01..02``
(BG), ``cl-01..02`` (CL). For each (probe view, gallery view) pair with different views,
rank-1 accuracy by cosine similarity; the reported figure is the mean over view pairs
(identical views excluded, as in the literature). The full harness with mAP and TPIR lives
in ``gaitline eval gait``; this one only needs embeddings and sequence metadata.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

GALLERY_TYPES = ("nm-01", "nm-02", "nm-03", "nm-04")
PROBES = {"NM": ("nm-05", "nm-06"), "BG": ("bg-01", "bg-02"), "CL": ("cl-01", "cl-02")}


def embed_sequences(embed: Callable[[np.ndarray], np.ndarray], seqs: Sequence[np.ndarray],
                    max_frames: int | None = None) -> np.ndarray:
    """Embed each sequence whole (set pooling over all its frames, up to ``max_frames``).

    Args:
        embed: the embedder's ``embed`` (``[b, n, 64, 44]`` -> ``[b, dim]``).
        seqs: ``[t, 64, 44]`` arrays of different lengths.
        max_frames: cap per sequence (a window-like view of long sequences); None = all.
    """
    # group equal lengths so one call embeds many sequences
    out: dict[int, np.ndarray] = {}
    by_len: dict[int, list[int]] = {}
    for i, s in enumerate(seqs):
        by_len.setdefault(len(s[:max_frames]), []).append(i)
    for _, idx in sorted(by_len.items()):
        batch = np.stack([seqs[i][:max_frames] for i in idx]).astype(np.float32)  # [b, t, 64, 44]
        for i, e in zip(idx, embed(batch), strict=True):
            out[i] = e
    return np.stack([out[i] for i in range(len(seqs))])


def rank1_by_condition(emb: np.ndarray, subjects: Sequence[str], types: Sequence[str],
                       views: Sequence[str]) -> dict[str, float]:
    """Rank-1 (%) per condition NM/BG/CL, mean over cross-view pairs.

    Args:
        emb: [m, dim] L2-normalised embeddings, one per sequence.
        subjects, types, views: metadata of each sequence (``"001"``, ``"nm-01"``, ``"090"``).
    """
    subj, typ, view = np.asarray(subjects), np.asarray(types), np.asarray(views)
    gal_mask = np.isin(typ, GALLERY_TYPES)
    scores: dict[str, float] = {}
    for cond, ptypes in PROBES.items():
        pmask = np.isin(typ, ptypes)
        accs = []
        for pv in np.unique(view[pmask]):
            probes = np.flatnonzero(pmask & (view == pv))
            for gv in np.unique(view[gal_mask]):
                if gv == pv:
                    continue
                gal = np.flatnonzero(gal_mask & (view == gv))
                if len(gal) == 0 or len(probes) == 0:
                    continue
                sim = emb[probes] @ emb[gal].T  # [probes, gallery]
                best = gal[np.argmax(sim, axis=1)]
                accs.append(float(np.mean(subj[best] == subj[probes])))
        if accs:
            scores[cond] = round(100.0 * float(np.mean(accs)), 2)
    return scores


def score_dataset(dataset: str, model: str, first: int = 0, last: int | None = None,
                  max_frames: int | None = None, **embedder_kwargs: object) -> dict[str, float]:
    """Rank-1 per condition of embedder ``model`` on subjects ``first..last`` of ``dataset``.

    Args:
        dataset: root in the CASIA-B layout.
        model: registered embedder name (``default``, ``baseline``, ``checkpoint`` + ``path=``).
        first, last: subject index range in sorted folder order (CASIA-B test split: 74, None).
        max_frames: frames per sequence (30 = one pipeline window; None = the whole sequence).
    """
    from gait.dataset import iter_sequences, scan
    from gait.model.registry import get_embedder

    seqs = scan(dataset)
    keep = set(sorted({s.subject for s in seqs})[first:last])
    recs, arrays = [], []
    for rec, arr in iter_sequences([s for s in seqs if s.subject in keep], max_frames=max_frames):
        recs.append(rec)
        arrays.append(arr)
    emb = embed_sequences(get_embedder(model, **embedder_kwargs).embed, arrays)
    return rank1_by_condition(emb, [r.subject for r in recs], [r.type for r in recs], [r.view for r in recs])


if __name__ == "__main__":
    import argparse
    import json

    ap = argparse.ArgumentParser(description="quick CASIA-B rank-1 of an embedder")
    ap.add_argument("dataset")
    ap.add_argument("--model", default="default")
    ap.add_argument("--path", default=None, help="checkpoint file for --model checkpoint")
    ap.add_argument("--first", type=int, default=74)
    ap.add_argument("--last", type=int, default=None)
    ap.add_argument("--frames", type=int, default=None)
    a = ap.parse_args()
    kw = {"path": a.path} if a.path else {}
    print(json.dumps({"model": a.model, **score_dataset(a.dataset, a.model, a.first, a.last, a.frames, **kw)}))
