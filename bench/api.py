"""``gaitline bench api``: how fast the control room gets its answers from a full store.

Fills a store (a fresh SQLite file, or ``--store URL``, e.g. the PostgreSQL of a cluster; it
must be empty) with ``--sightings`` sightings of ``--identities`` people over ``--cameras``
cameras and a day of time, starts the API server on a free port and times real HTTP requests
with a token, one at a time: where a random person was seen, who a camera saw in a random
10-minute window, and the list of the most recently seen identities (the page's first
request). The design asks for answers under a second. The JSON object is kept with the host in
``bench/results/api.json``.
"""

from __future__ import annotations

import json
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import typer

from bench.results import OUT_OPTION, SAVE_OPTION, save_result
from gaitline.errors import GaitlineError

T0 = 1_700_000_000.0
DAY = 86_400.0


def fill(store: Any, sightings: int, identities: int, cameras: int, seed: int = 0) -> float:
    """Insert synthetic sightings; returns the seconds it took.

    Rows go in through SQLAlchemy's bulk insert, not the track worker's validated path: the
    bench times the queries, and a million validated messages would take minutes to fill.
    """
    from sqlalchemy import insert
    from sqlalchemy.orm import Session

    from store.db import SightingRow

    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    for start in range(0, sightings, 50_000):
        n = min(50_000, sightings - start)
        who, cam = rng.integers(0, identities, n), rng.integers(0, cameras, n)
        at, xy = T0 + rng.random(n) * DAY, rng.random((n, 2)) * 500
        rows = [{"sighting_id": f"w{start + i}", "identity_id": f"p-{who[i]:08d}", "camera_id": f"cam{cam[i]}",
                 "track_id": i, "region": "r", "t_start": float(at[i]), "t_end": float(at[i]) + 3.0,
                 "x": float(xy[i, 0]), "y": float(xy[i, 1]), "ground_plane": True, "score": 0.9, "enrolled": False,
                 "model": "default", "cadence_spm": 110.0, "speed_mps": 1.3} for i in range(n)]
        with Session(store.engine) as session, session.begin():
            session.execute(insert(SightingRow), rows)  # executemany
    return time.perf_counter() - t0


def _timed(url: str, token: str) -> float:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    t = time.perf_counter()
    with urllib.request.urlopen(req, timeout=60) as r:
        r.read()
    return (time.perf_counter() - t) * 1000


def _stats(ms: list[float]) -> dict[str, float]:
    a = np.array(ms)
    return {"p50_ms": round(float(np.median(a)), 2), "p99_ms": round(float(np.quantile(a, 0.99)), 2),
            "max_ms": round(float(a.max()), 2), "n": len(ms)}


def measure(store_url: str, sightings: int, identities: int, cameras: int, queries: int) -> dict[str, Any]:
    from prometheus_client import CollectorRegistry

    from api.auth import TokenBook, issue_token
    from api.metrics import ApiMetrics
    from api.server import Api, make_server
    from store.db import Store

    store = Store(store_url)
    if store.count():
        raise GaitlineError(f"--store {store_url} already holds sightings: the bench needs an empty store")
    fill_s = fill(store, sightings, identities, cameras)
    with tempfile.TemporaryDirectory() as tmp:
        book = Path(tmp) / "tokens.json"
        token = issue_token(book, "bench", "operator")
        server = make_server(Api(store, TokenBook.load(book), ApiMetrics(CollectorRegistry())), "127.0.0.1", 0)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_address[1]}/api/v1"
        rng = np.random.default_rng(1)
        try:
            _timed(f"{base}/identities/p-00000000/sightings?reason=bench", token)  # warm-up
            where = [_timed(f"{base}/identities/p-{rng.integers(identities):08d}/sightings?reason=bench", token)
                     for _ in range(queries)]
            camera = []
            for _ in range(queries):
                t = T0 + float(rng.random()) * (DAY - 600)
                camera.append(_timed(f"{base}/sightings?camera=cam{rng.integers(cameras)}&since={t}"
                                     f"&until={t + 600}&reason=bench", token))
            listing = [_timed(f"{base}/identities?limit=500&reason=bench", token) for _ in range(max(3, queries // 20))]
        finally:
            server.shutdown()
            server.server_close()
            store.close()
    return {"store": store_url.split(":")[0], "sightings": sightings, "identities": identities, "cameras": cameras,
            "fill_s": round(fill_s, 1), "where": _stats(where), "camera_10min": _stats(camera),
            "identities_list": _stats(listing)}


def api(
    json_out: bool = typer.Option(False, "--json", help="last line: one JSON object"),
    sightings: int = typer.Option(1_000_000, min=100, help="sightings in the store"),
    identities: int = typer.Option(50_000, min=1, help="people they belong to"),
    cameras: int = typer.Option(100, min=1, help="cameras they were seen on"),
    queries: int = typer.Option(300, min=10, help="timed requests per kind"),
    store: str | None = typer.Option(None, help="an empty store URL (default: a temporary SQLite file)"),
    out: Path | None = OUT_OPTION,
    save: bool = SAVE_OPTION,
) -> None:
    """Benchmark the control-room API: p50/p99 answer time from a store of a city's size."""
    with tempfile.TemporaryDirectory() as tmp:
        res = measure(store or f"sqlite:///{Path(tmp) / 'bench.db'}", sightings, identities, cameras, queries)
    for k in ("where", "camera_10min", "identities_list"):
        r = res[k]
        typer.echo(f"{k:>16}: p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms (n={r['n']})")
    save_result("api", res, out, save)
    typer.echo(json.dumps(res) if json_out else f"{sightings} sightings, filled in {res['fill_s']} s")
