"""``gaitline bench index``: gallery search latency and recall at a city's scale.

Fills an :class:`index.gallery.Gallery` with ``--identities`` unit vectors, lets it build its
approximate index (``--kind``: the HNSW graph the index stage uses, and the IVF baseline side by
side in the same run unless ``--no-compare``), then times single-vector searches the way the
index stage issues them (top ``--candidates``, one embedding at a time, ``--threads`` FAISS
threads; building uses every core, as the stage does) and scores recall@1 against exact search
over the same vectors; exact single-query search is timed too.

The vectors are synthetic: Gaussian with a power-law spectrum (standard deviation of
component k proportional to (k + 1)^-spectrum), which is how learned embeddings spread their
variance over few directions. The default 0.8 is the slope fitted to the principal components
of the default model's BNNeck embeddings of held-out simulator windows; 0 is the isotropic
worst case for cell-based search. A query is
a gallery identity seen again: its vector plus independent noise of the same spectrum
(``--noise`` 0.75 gives a cosine of about 0.8 to the true identity). The JSON object is kept
with the host in ``bench/results/index.json``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import typer

from bench.results import OUT_OPTION, SAVE_OPTION, save_result
from gaitline.errors import GaitlineError


def _draw(rng: np.random.Generator, n: int, scale: np.ndarray) -> np.ndarray:
    return (rng.standard_normal((n, len(scale)), dtype=np.float32) * scale).astype(np.float32)  # [n, dim]


def _unit_rows(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def measure(identities: int, dim: int, queries: int, nprobe: int, candidates: int, spectrum: float,
            noise: float, seed: int = 0, kind: str = "hnsw", ef_search: int = 384,
            threads: int = 1) -> dict[str, Any]:
    """Build a gallery of ``identities`` vectors and measure search; returns the figures."""
    import os

    import faiss

    from index.gallery import AnnConfig, Gallery

    faiss.omp_set_num_threads(os.cpu_count() or 1)
    rng = np.random.default_rng(seed)
    scale = ((np.arange(dim) + 1.0) ** -spectrum).astype(np.float32)  # [dim]
    gal = Gallery(dim, ann=AnnConfig(min_identities=identities, nprobe=nprobe, kind=kind,  # type: ignore[arg-type]
                                     ef_search=ef_search))
    vecs = np.empty((identities, dim), np.float32)  # unit vectors, for exact ground truth
    t0 = time.perf_counter()
    fill_s = 0.0
    for start in range(0, identities, 100_000):
        chunk = _unit_rows(_draw(rng, min(100_000, identities - start), scale))  # [c, dim]
        vecs[start:start + len(chunk)] = chunk
        for i, v in enumerate(chunk):
            if start + i == identities - 1:
                fill_s = time.perf_counter() - t0
            gal.put(f"p{start + i}", v)  # the last put starts building the IVF index
    gal.wait_rebuild()
    build_s = time.perf_counter() - t0 - fill_s
    truth = rng.choice(identities, size=queries, replace=False)  # [q]
    q = _unit_rows(vecs[truth] + noise * _unit_rows(_draw(rng, queries, scale)))  # [q, dim]
    exact = faiss.IndexFlatIP(dim)
    exact.add(vecs)  # type: ignore[call-arg]
    _, exact_top = exact.search(q, 1)  # type: ignore[call-arg]
    faiss.omp_set_num_threads(threads)
    lat, hits, true_hits = [], 0, 0
    for i in range(queries):
        t = time.perf_counter()
        res = gal.search(q[i], k=candidates)
        lat.append((time.perf_counter() - t) * 1000)
        top = int(res[0][0][1:]) if res else -1
        hits += top == int(exact_top[i, 0])
        true_hits += top == int(truth[i])
    exact_lat = []
    for i in range(min(queries, 30)):  # exact search is slow at this size: a sample is enough
        t = time.perf_counter()
        exact.search(q[i:i + 1], candidates)  # type: ignore[call-arg]
        exact_lat.append((time.perf_counter() - t) * 1000)
    lat_a, ex = np.array(lat), np.array(exact_lat)
    return {"identities": identities, "dim": dim, "queries": queries, "approximate": gal.approximate,
            "kind": kind, "nprobe": nprobe, "ef_search": ef_search, "candidates": candidates, "spectrum": spectrum,
            "p50_ms": round(float(np.median(lat_a)), 3), "p99_ms": round(float(np.quantile(lat_a, 0.99)), 3),
            "recall_at_1": round(hits / queries, 4), "true_identity_at_1": round(true_hits / queries, 4),
            "exact_p50_ms": round(float(np.median(ex)), 3), "exact_p99_ms": round(float(np.quantile(ex, 0.99)), 3),
            "fill_s": round(fill_s, 1), "build_s": round(build_s, 1), "threads": threads}


def index(
    json_out: bool = typer.Option(False, "--json", help="last line: one JSON object"),
    identities: int = typer.Option(1_000_000, min=100, help="gallery size"),
    dim: int = typer.Option(48, min=2, max=4096, help="vector length (48: the default model's projected "
                                                      "embedding; 480 its raw strips, 4096 the large profile)"),
    queries: int = typer.Option(2000, min=10, help="timed single-vector searches"),
    kind: str = typer.Option("hnsw", help="approximate index: hnsw (the index stage's default) or ivf"),
    compare: bool = typer.Option(True, help="also measure the other kind in the same run, side by side"),
    nprobe: int = typer.Option(48, min=1, help="IVF cells searched per query"),
    ef_search: int = typer.Option(384, min=1, help="HNSW candidates explored per query"),
    candidates: int = typer.Option(10, min=1, max=1000, help="results per search (the index stage's default)"),
    spectrum: float = typer.Option(0.8, min=0.0, max=3.0, help="power-law exponent of the vectors' spectrum"),
    noise: float = typer.Option(0.75, min=0.0, max=10.0, help="query noise relative to the identity vector"),
    threads: int = typer.Option(1, min=1, help="FAISS threads (the index stage searches one vector at a time)"),
    out: Path | None = OUT_OPTION,
    save: bool = SAVE_OPTION,
) -> None:
    """Benchmark gallery search: latency per query and recall@1 of the approximate index vs exact."""
    if queries > identities:
        raise GaitlineError(f"--queries {queries} exceeds --identities {identities}")
    if kind not in ("hnsw", "ivf"):
        raise GaitlineError(f"--kind must be hnsw or ivf, got {kind!r}")
    kinds = [kind] + ([k for k in ("hnsw", "ivf") if k != kind] if compare else [])
    runs = [measure(identities, dim, queries, nprobe, candidates, spectrum, noise, kind=k, ef_search=ef_search,
                    threads=threads) for k in kinds]
    for r in runs:
        how = (f"HNSW, ef_search {r['ef_search']}" if r["kind"] == "hnsw" else f"IVF, nprobe {r['nprobe']}")
        typer.echo(f"{identities} identities x {dim}-d ({how if r['approximate'] else 'exact'}): "
                   f"p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, recall@1 {r['recall_at_1']:.4f} of exact; "
                   f"exact search p50 {r['exact_p50_ms']} ms; build {r['build_s']} s")
    res = runs[0] | ({"baseline": runs[1]} if len(runs) > 1 else {})
    save_result("index", res, out, save)
    if json_out:
        typer.echo(json.dumps(res))
