"""``gaitline bench lda``: the projection fit's solve, against the eigendecomposition it replaced.

``gaitline fit-lda`` embeds every sequence, sums the scatter matrices, then solves regularised
LDA. Up to this release the solve whitened by the eigenvectors of the [D, D] within-person
covariance and eigendecomposed the whitened [D, D] between-person scatter: two dense
eigendecompositions at D = 11 520 (the committed default's features). ``fit_lda`` now factors
the covariance (Cholesky) and takes the SVD of the [people, D] whitened class means.
Both run here side by side, alternating, on the same synthetic features with the product's
shape (people, sequences each, D), from the same scatter sums; the JSON gives each one's
median seconds and how closely their directions agree. Last line: one JSON object, kept with
the host in ``bench/results/lda.json``.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import typer

from bench.results import OUT_OPTION, SAVE_OPTION, save_result


def lda_by_eigh(x: np.ndarray, labels: list[str], dims: int, shrink: float) -> tuple[np.ndarray, np.ndarray]:
    """The previous release's solve: ``weight`` [D, k] and ``ratios`` [k], from the same sums."""
    from gait.model.projection import scatter

    _, inv = np.unique(np.asarray(labels), return_inverse=True)
    counts = np.bincount(inv)
    _, sw, between = scatter(x, inv, counts)
    d = x.shape[1]
    sw[np.diag_indices(d)] += shrink * np.trace(sw) / d
    ew, ev = np.linalg.eigh(sw)  # [D], [D, D]
    del sw
    whiten = ev / np.sqrt(ew)  # [D, D]
    sb = between.T @ between  # [D, D]
    eb, u = np.linalg.eigh((whiten.T @ sb) @ whiten)
    order = np.argsort(eb)[::-1][:dims]
    return whiten @ u[:, order], eb[order]


def _features(people: int, per: int, d: int, seed: int) -> tuple[np.ndarray, list[str]]:
    """[people * per, d] float32: a person's mean, plus recording-to-recording scatter of its own
    (correlated across dimensions, as clothes and views make real features)."""
    rng = np.random.default_rng(seed)
    mix = rng.normal(0, 1 / np.sqrt(d), (64, d)).astype(np.float32)  # a low-rank nuisance
    centres = rng.normal(0, 1, (people, d)).astype(np.float32)
    x = np.repeat(centres, per, axis=0)
    x += rng.normal(0, 3, (len(x), 64)).astype(np.float32) @ mix * np.sqrt(d / 64)
    x += rng.normal(0, 1, x.shape).astype(np.float32)
    return x, [f"p{i}" for i in range(people) for _ in range(per)]


def lda(json_out: bool = typer.Option(False, "--json", help="last line: one JSON object"),
        dim: int = typer.Option(4096, "--dim", help="feature length D (the committed default reads 11 520)"),
        people: int = typer.Option(248, "--people", help="identities (the default's fit: 248)"),
        per: int = typer.Option(20, "--per", help="sequences per identity (the default's fit: 110)"),
        dims: int = typer.Option(48, "--dims", help="directions kept"),
        repeats: int = typer.Option(3, "--repeats", min=1, help="runs of each solve, alternating"),
        out: Path | None = OUT_OPTION,
        save: bool = SAVE_OPTION) -> None:
    """Time regularised LDA's solve: Cholesky + SVD (ours) against two eigendecompositions (before)."""
    from gait.model.projection import fit_lda

    if dim < 2 or people < 2 or per < 2 or not 1 <= dims <= people - 1:
        raise typer.BadParameter("--dim, --people and --per must be >= 2, and --dims within 1..people-1")
    x, labels = _features(people, per, dim, seed=0)
    times: dict[str, list[float]] = {"cholesky_svd": [], "eigh": []}
    for _ in range(repeats):
        t0 = time.perf_counter()
        ours = fit_lda(x, labels, dims=dims, shrink=1.0)
        times["cholesky_svd"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        weight, ratios = lda_by_eigh(x, labels, dims=dims, shrink=1.0)
        times["eigh"].append(time.perf_counter() - t0)
    cos = (ours.weight * weight).sum(0) / np.linalg.norm(ours.weight, axis=0) / np.linalg.norm(weight, axis=0)
    med = {k: statistics.median(v) for k, v in times.items()}
    result: dict[str, Any] = {
        "dim": dim, "people": people, "sequences": len(x), "dims": dims, "repeats": repeats,
        "cholesky_svd_s": round(med["cholesky_svd"], 3), "eigh_s": round(med["eigh"], 3),
        "speedup": round(med["eigh"] / med["cholesky_svd"], 1),
        "runs_s": {k: [round(t, 3) for t in v] for k, v in times.items()},
        "min_abs_cos": round(float(np.abs(cos).min()), 6),
        "max_ratio_rel_diff": float(np.max(np.abs(ours.ratios - ratios) / ratios)),
    }
    if not json_out:
        typer.echo(f"D={dim}, {people} people x {per}: Cholesky+SVD {result['cholesky_svd_s']} s, "
                   f"eigh {result['eigh_s']} s ({result['speedup']}x); directions agree to |cos| >= "
                   f"{result['min_abs_cos']}")
    save_result("lda", result, out, save)
    typer.echo(json.dumps(result))
