"""Scores of the real-footage protocol, from per-recording window embeddings (:mod:`gait.evaluation.real`).

* **Gallery**: every person's recording(s) of the gallery condition, one vector each (the
  normalised mean of its windows). A gallery recording without windows has no vector: its
  person cannot be found, and it is listed.
* **Rank-1 by recording** per probe condition: the share of that condition's recordings whose
  vector is nearest (cosine) to a gallery vector of the same person. A recording without a
  window is a miss and stays in the denominator.
* **Rank-1 by window**: each probe window's embedding against the gallery vectors.
* **Halves**: each gallery recording's windows split in time; the second half (its windows that
  share no frame with the first) matched against every first half. Near 100 % says the model
  tells recordings apart; a person is another matter.
* **Folds**: people split into seeded folds; :func:`score` takes the probe people to score, the
  gallery stays everybody's, so a fold's rank-1 means what the whole set's means and a caller
  can fit on some people and score the others.

Every score is a percentage, None where there is nothing to score.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import numpy as np

from gait.evaluation.real import Embedded, conditions_of, mean_vector, natural_key


@dataclass(frozen=True)
class Gallery:
    """``vectors [m, dim]`` with the person ``labels [m]`` of each; ``people`` is the protocol's
    gallery (everyone with a gallery recording); ``without_windows`` the gallery recordings that
    gave no vector."""

    people: list[str]
    labels: np.ndarray
    vectors: np.ndarray
    without_windows: list[str]

    def nearest(self, probes: np.ndarray) -> np.ndarray:
        """The label of the most similar gallery vector for each of ``probes [p, dim]`` (``[p]``)."""
        if not len(self.labels):
            return np.full(len(probes), None, dtype=object)
        sims = probes.astype(np.float64) @ self.vectors.astype(np.float64).T  # [p, m]
        return self.labels[np.argmax(sims, axis=1)]


def _pct(hits: int, n: int) -> float | None:
    return round(100.0 * hits / n, 2) if n else None


def build_gallery(embedded: list[Embedded], condition: str) -> Gallery:
    """The gallery of ``condition``: one vector per recording of it that yielded windows."""
    recs = [e for e in embedded if e.recording.condition == condition]
    with_vec = [(e.recording.person, v) for e in recs if (v := e.vector) is not None]
    dim = next((e.windows.shape[1] for e in embedded if e.windows.ndim == 2), 0)
    return Gallery(people=sorted({e.recording.person for e in recs}, key=natural_key),
                   labels=np.array([p for p, _ in with_vec], dtype=object),
                   vectors=np.stack([v for _, v in with_vec]) if with_vec else np.zeros((0, dim), np.float32),
                   without_windows=[e.recording.name for e in recs if not len(e.windows)])


def score_condition(embedded: list[Embedded], gallery: Gallery, condition: str,
                    people: Collection[str] | None = None) -> dict[str, Any]:
    """Rank-1 by recording and by window of the recordings of ``condition`` (of ``people`` only, if given)."""
    probes = [e for e in embedded if e.recording.condition == condition
              and (people is None or e.recording.person in people)]
    hits = win_hits = win_n = 0
    for e in probes:
        v = e.vector
        if v is None:
            continue  # a miss, counted in the denominator
        hits += int(gallery.nearest(v[None])[0] == e.recording.person)
        best = gallery.nearest(e.windows)  # [k]
        win_hits += int(np.sum(best == e.recording.person))
        win_n += len(e.windows)
    with_windows = sum(1 for e in probes if len(e.windows))
    return {"recordings": len(probes), "with_windows": with_windows,
            "windows_share": _pct(with_windows, len(probes)),
            "no_windows": [e.recording.name for e in probes if not len(e.windows)],
            "correct": hits, "rank1_recording": _pct(hits, len(probes)),
            "windows": win_n, "rank1_window": _pct(win_hits, win_n)}


def split_halves(e: Embedded) -> tuple[np.ndarray, np.ndarray] | None:
    """(first half, second half) of a recording's windows in time; the second keeps only windows
    sharing no frame with the first. None when either half is empty."""
    k = len(e.windows)
    if k < 2:
        return None
    order = np.argsort(e.frame_start, kind="stable")
    first, rest = order[: k // 2], order[k // 2:]
    second = rest[e.frame_start[rest] > e.frame_end[first].max()]
    return (e.windows[first], e.windows[second]) if len(second) else None


def halves(embedded: list[Embedded], condition: str, people: Collection[str] | None = None) -> dict[str, Any]:
    """Second halves of the ``condition`` recordings matched against their first halves (rank-1)."""
    recs = [e for e in embedded if e.recording.condition == condition
            and (people is None or e.recording.person in people)]
    split = [(e, h) for e in recs if (h := split_halves(e)) is not None]
    skipped = [e.recording.name for e in recs if split_halves(e) is None]
    if not split:
        return {"recordings": 0, "rank1": None, "skipped": skipped}
    first = np.stack([mean_vector(h[0]) for _, h in split])  # type: ignore[misc]  # [r, dim]
    second = np.stack([mean_vector(h[1]) for _, h in split])  # type: ignore[misc]
    best = np.argmax(second.astype(np.float64) @ first.astype(np.float64).T, axis=1)  # [r]
    hits = int(np.sum(best == np.arange(len(split))))
    return {"recordings": len(split), "rank1": _pct(hits, len(split)), "skipped": skipped}


def score(embedded: list[Embedded], gallery_condition: str, people: Collection[str] | None = None) -> dict[str, Any]:
    """The protocol's scores with ``people`` as the probe people (everyone when None); the gallery
    is always every person's ``gallery_condition`` recording.

    Returns ``chance``, ``gallery`` (size, recordings without windows), per probe condition
    :func:`score_condition`'s fields under ``conditions``, and ``halves`` (of the probe people's
    gallery recordings).
    """
    gal = build_gallery(embedded, gallery_condition)
    probes = [c for c in conditions_of([e.recording for e in embedded]) if c != gallery_condition]
    return {"chance": _pct(1, len(gal.people)),
            "gallery": {"condition": gallery_condition, "people": len(gal.people),
                        "vectors": len(gal.labels), "without_windows": gal.without_windows},
            "conditions": {c: score_condition(embedded, gal, c, people) for c in probes},
            "halves": halves(embedded, gallery_condition, people)}


def people_folds(people: Collection[str], k: int, seed: int = 0) -> list[list[str]]:
    """``people`` split into ``k`` folds of near-equal size, shuffled by ``seed`` (each fold sorted)."""
    if not 1 <= k <= len(people):
        raise ValueError(f"cannot split {len(people)} people into {k} folds")
    ordered = sorted(people, key=natural_key)
    perm = np.random.default_rng(seed).permutation(len(ordered))
    return [sorted((ordered[i] for i in part), key=natural_key) for part in np.array_split(perm, k)]


def score_folds(embedded: list[Embedded], gallery_condition: str, folds: list[list[str]]) -> dict[str, Any]:
    """Rank-1 by recording per probe condition for each fold's people, and its mean and spread
    (population standard deviation) over the folds that have probes of that condition."""
    per: list[dict[str, Any]] = []
    for f in folds:
        s = score(embedded, gallery_condition, people=set(f))
        per.append({"people": f, "rank1_recording": {c: r["rank1_recording"] for c, r in s["conditions"].items()},
                    "rank1_window": {c: r["rank1_window"] for c, r in s["conditions"].items()}})
    conds = list(per[0]["rank1_recording"]) if per else []
    mean: dict[str, float | None] = {}
    spread: dict[str, float | None] = {}
    for c in conds:
        vals = [p["rank1_recording"][c] for p in per if p["rank1_recording"][c] is not None]
        mean[c] = round(float(np.mean(vals)), 2) if vals else None
        spread[c] = round(float(np.std(vals)), 2) if vals else None
    return {"folds": per, "mean": mean, "spread": spread}


def _cell(v: float | None, width: int = 6) -> str:
    return f"{'-':>{width}}" if v is None else f"{v:{width}.1f}"


def table(res: dict[str, Any]) -> str:
    """The printed report of :func:`gait.evaluation.real.evaluate`'s result."""
    fr, gal, probes = res["frames"], res["gallery"], res["probe_conditions"]
    conds = [res["gallery_condition"], *probes]
    lines = [f"{res['people']} people, {res['recordings']} recordings; gallery {gal['condition']} "
             f"({gal['people']} people, {gal['vectors']} with windows); probes {' '.join(probes)}; "
             f"chance {res['chance']:.1f} %",
             f"frames stage: {fr['windows']} windows in {fr['seconds']:.1f} s ({fr['cached']} recordings "
             "from the cache)",
             "recordings with windows: " + "  ".join(
                 f"{c} {fr['with_windows'][c]}/{fr['recordings_per_condition'][c]}" for c in conds)]
    missing = [(c, fr["no_windows"][c]) for c in conds if fr["no_windows"][c]]
    if missing:
        lines.append("recordings without windows (misses, kept in the denominator):")
        lines += [f"  {c}: {', '.join(names)}" for c, names in missing]
    if len(res["probe_people"]) < res["people"]:
        lines.append(f"probe people: {', '.join(res['probe_people'])}")
    w = 7 * len(probes)
    lines += ["", f"{'rank-1 (%)':<26} {'by recording':<{w}}   {'by window':<{w}}   halves",
              f"{'model':<26} " + "".join(f"{c:>7}" for c in probes) + "   "
              + "".join(f"{c:>7}" for c in probes) + f"   {gal['condition']:>6}"]
    for name, m in res["models"].items():
        label = name if m["model"] == name else f"{name} ({m['model']})"
        by_rec = "".join(" " + _cell(m["conditions"][c]["rank1_recording"]) for c in probes)
        by_win = "".join(" " + _cell(m["conditions"][c]["rank1_window"]) for c in probes)
        lines.append(f"{label:<26} {by_rec}   {by_win}   {_cell(m['halves']['rank1'])} of {m['halves']['recordings']}")
    lines.append(f"{'chance':<26} " + "".join(" " + _cell(res["chance"]) for _ in probes))
    if res["folds"]["k"]:
        lines += ["", f"folds: {res['folds']['k']} (seed {res['folds']['seed']}), rank-1 by recording, "
                  "mean ± spread (std over folds)",
                  f"{'model':<26} " + "".join(f"{c:>15}" for c in probes)]
        for name, m in res["models"].items():
            f = m["folds"]
            cells = "".join(f"{'-':>15}" if f["mean"][c] is None else f"{f['mean'][c]:>8.1f} ± {f['spread'][c]:<4.1f}"
                            for c in probes)
            lines.append(f"{name:<26} {cells}")
        for i, fold in enumerate(res["folds"]["people"]):
            lines.append(f"  fold {i + 1}: {', '.join(fold)}")
    models: dict[str, dict[str, Any]] = res["models"]
    first = next((m.get("open_set") for m in models.values()), None)
    if first:
        lines += ["", f"open set: threshold at false-match rate {first['far_target']:g} per window-to-identity "
                  "comparison; held out: fitted on the other folds' people",
                  f"{'model':<26} {'threshold':>9} {'held-out FAR':>13} {'held-out TAR':>13}"]
        for name, m in res["models"].items():
            o, h = m["open_set"], m["open_set"]["held_out"] or {}
            t = "-" if o["threshold"] is None else f"{o['threshold']:.4f}"
            far = "-" if "far" not in h else f"{h['far']:.4f}"
            tar = "-" if "tar" not in h else f"{h['tar']:.3f}"
            lines.append(f"{name:<26} {t:>9} {far:>13} {tar:>13}")
    return "\n".join(lines)


# --- the open-set threshold from real strangers --------------------------------------------------


def window_scores(embedded: list[Embedded], gallery: Gallery, gallery_condition: str,
                  people: Collection[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(mated, strangers): cosine of every probe window of ``people`` to its own person's gallery
    vector, and to every other person's among ``people`` (as the index scores a window against
    the identities it knows). Both ``[n]`` float64."""
    keep = np.array([people is None or p in people for p in gallery.labels], bool)  # [m]
    labels, vectors = gallery.labels[keep], gallery.vectors[keep].astype(np.float64)
    mated, strangers = [], []
    for e in embedded:
        if e.recording.condition == gallery_condition or not len(e.windows) or e.recording.person not in labels:
            continue
        sims = e.windows.astype(np.float64) @ vectors.T  # [k, m]
        own = labels == e.recording.person
        mated.append(sims[:, own].ravel())
        strangers.append(sims[:, ~own].ravel())
    join = lambda xs: np.concatenate(xs) if xs else np.zeros(0)  # noqa: E731
    return join(mated), join(strangers)


def _quantiles(x: np.ndarray) -> dict[str, float]:
    qs = (0.5, 0.9, 0.99, 0.999)
    return {f"q{q:g}": round(float(np.quantile(x, q)), 4) for q in qs} | {"max": round(float(x.max()), 4)} \
        if len(x) else {}


def fit_threshold(strangers: np.ndarray, far: float) -> float | None:
    """The cosine above which only a ``far`` share of stranger scores lie; None without strangers."""
    return float(np.quantile(strangers, 1.0 - far, method="higher")) if len(strangers) else None


def open_set(embedded: list[Embedded], gallery_condition: str, folds: list[list[str]], far: float) -> dict[str, Any]:
    """The open-set threshold fitted on real strangers, and what it does on people it did not see.

    On everyone: the threshold at false-match rate ``far`` per window-to-identity comparison (what
    ``--write-threshold`` stores). Per fold: fitted on the other folds' people only (their windows
    against their identities), then that fold's people's stranger scores give the false-match
    rate actually met and their mated scores the share of true matches above it.
    """
    gal = build_gallery(embedded, gallery_condition)
    mated, strangers = window_scores(embedded, gal, gallery_condition)
    out: dict[str, Any] = {"far_target": far, "comparisons": {"mated": len(mated), "strangers": len(strangers)},
                           "threshold": None if (t := fit_threshold(strangers, far)) is None else round(t, 4),
                           "stranger_quantiles": _quantiles(strangers), "mated_quantiles": _quantiles(mated),
                           "per_fold": []}
    for f in folds:
        train = {p for g in folds if g is not f for p in g}
        t_fit = fit_threshold(window_scores(embedded, gal, gallery_condition, train)[1], far)
        m, s = window_scores(embedded, gal, gallery_condition, set(f))
        if t_fit is None or not len(s):
            continue
        out["per_fold"].append({"threshold": round(t_fit, 4), "far": round(float(np.mean(s >= t_fit)), 5),
                                "tar": round(float(np.mean(m >= t_fit)), 4) if len(m) else None,
                                "strangers": len(s), "mated": len(m)})
    pf = out["per_fold"]
    out["held_out"] = ({"far": round(float(np.mean([p["far"] for p in pf])), 5),
                        "tar": round(float(np.mean([p["tar"] for p in pf if p["tar"] is not None] or [0.0])), 4)}
                       if pf else None)
    return out
