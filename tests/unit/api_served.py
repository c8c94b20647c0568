"""The API served by real uvicorn on a free port over a temporary SQLite store, for the API's tests."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from prometheus_client import CollectorRegistry

from api.auth import TokenBook, issue_token
from api.metrics import ApiMetrics
from api.server import Api, ApiServer, make_server
from store.db import Store
from streams.schemas import Sighting

T0 = 1_700_000_000.0


def gei_png(seed: int = 0) -> bytes:
    """A 64x44 grayscale PNG standing in for a gait energy image."""
    img = np.random.default_rng(seed).integers(0, 256, (64, 44), dtype=np.uint8)
    ok, buf = cv2.imencode(".png", img)
    assert ok
    return buf.tobytes()


@dataclass
class Served:
    base: str
    tokens: dict[str, str]
    store: Store
    registry: CollectorRegistry
    api: Api
    book: Path
    server: ApiServer

    def metric(self, name: str, **labels: str) -> float | None:
        return self.registry.get_sample_value(name, labels)


@contextmanager
def served(tmp_path: Path, sightings: Iterable[Sighting] = (), **api_kw: Any) -> Iterator[Served]:
    """A running API; tokens for ``operator``, ``auditor`` and ``admin`` (users ``<role>-user``)."""
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    store.add_sightings(list(sightings))
    book = tmp_path / "tokens.json"
    tokens = {role: issue_token(book, f"{role}-user", role) for role in ("operator", "auditor", "admin")}
    registry = CollectorRegistry()
    api = Api(store, TokenBook.load(book), ApiMetrics(registry), **api_kw)
    server = make_server(api, "127.0.0.1", 0).start()
    try:
        yield Served(server.url, tokens, store, registry, api, book, server)
    finally:
        server.shutdown()
        server.server_close()
        store.close()


def call(url: str, token: str | None = None, method: str = "GET", body: bytes | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """One request: (status, headers with lower-case names, body)."""
    h = dict(headers or {})
    if token is not None:
        h["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=body, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def get_json(url: str, token: str | None = None, method: str = "GET", body: Any = None) -> tuple[int, Any]:
    """One JSON request: (status, decoded body or None for an empty one)."""
    data = None if body is None else json.dumps(body).encode()
    code, _, raw = call(url, token, method, data, {"Content-Type": "application/json"} if data else None)
    return code, json.loads(raw) if raw else None
