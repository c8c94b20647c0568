"""The gallery: one L2-normalised vector per identity in a FAISS inner-product index.

Inner product on unit vectors is cosine similarity, so a score is in [-1, 1] and the
open-set threshold reads the same whatever the model. Small galleries use the exact flat
index; from ``AnnConfig.min_identities`` on, the gallery is rebuilt as an approximate index
behind the same methods, and rebuilt again each time it doubles:

* ``hnsw`` (default): a navigable small-world graph (``m`` links per node, ``ef_search``
  candidates explored per query). A graph cannot forget a node, so a removed or updated
  identity's old node stays in the graph, masked out of every search by a bitmap of live
  labels, and the graph is rebuilt once masked nodes exceed ``max_dead_share`` of the live ones
  (every sighting updates its identity's vector, so this happens in steady state).
* ``ivf``: an inverted file (k-means cells, ``nprobe`` cells searched per query); cheaper to
  build, lower recall on embeddings whose variance sits in few directions.

``gaitline bench index`` measures latency and recall@1 against exact search.

A rebuild near a million identities takes minutes. By default it runs in a background
thread on a snapshot (FAISS releases the GIL), while the current index keeps answering; the
puts and removes made meanwhile are journaled and replayed onto the new index before it is
swapped in. A stage that blocked for that minute would miss its Kafka heartbeats and be
thrown out of its consumer group.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Literal

import faiss
import numpy as np

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class AnnConfig:
    """When and how the gallery switches from exact to approximate search.

    Args:
        min_identities: build the approximate index at this gallery size (0 = always exact).
        kind: ``hnsw`` (graph) or ``ivf`` (inverted file).
        nprobe: IVF cells searched per query (recall against speed).
        cells_per_sqrt: IVF cells = this x sqrt(identities).
        m: HNSW links per node; ef_construction / ef_search: candidates explored while building /
            per query (recall against speed).
        max_dead_share: rebuild an HNSW graph once its masked nodes exceed this share of live ones.
        background: rebuild in a background thread (False: in the caller, which then blocks).
    """

    min_identities: int = 50_000
    kind: Literal["hnsw", "ivf"] = "hnsw"
    nprobe: int = 48
    cells_per_sqrt: float = 4.0
    m: int = 48
    ef_construction: int = 200
    ef_search: int = 384
    max_dead_share: float = 0.5
    background: bool = True


class Gallery:
    """Identities and their vectors, searchable by cosine similarity."""

    def __init__(self, dim: int, model: str | None = None, model_version: str | None = None,
                 ann: AnnConfig | None = None) -> None:
        self.dim = dim
        # vectors of two models (or two versions of one) are not comparable: a gallery holds one
        self.model = model
        self.model_version = model_version
        self.ann = ann or AnnConfig()
        self._index: faiss.Index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        self._built_at = 0  # gallery size when the IVF index was last built (0 = exact index)
        self._next = 0
        self._by_id: dict[str, int] = {}
        self._by_label: dict[int, str] = {}
        self.vectors: dict[str, np.ndarray] = {}
        self.counts: dict[str, int] = {}
        self.created: dict[str, float] = {}
        # background rebuild: the builder thread, its result, and the changes made since its snapshot
        self._builder: threading.Thread | None = None
        self._built: tuple[faiss.Index, int] | None = None
        self._build_error: BaseException | None = None
        self._journal: list[tuple[int, np.ndarray | None]] = []  # (label, vector) added / (label, None) removed
        # live labels as a bitmap (bit = label): what an HNSW search may return, since the graph keeps
        # the nodes of removed labels
        self._live = np.zeros(1024, np.uint8)
        self._graph = False  # the current index is an HNSW graph (masked removal)
        self._dead = 0  # masked nodes in the current graph
        self._dead_tolerated = 0  # masked nodes when a compaction failed: the next try waits for another share
        self.rebuilds = 0
        self.last_rebuild_s = 0.0

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, identity_id: object) -> bool:
        return identity_id in self._by_id

    def search(self, vec: np.ndarray, k: int = 1) -> list[tuple[str, float]]:
        """Up to ``k`` best identities for ``vec`` ``[dim]`` with cosine scores, best first."""
        self._adopt()
        if not self._by_id:
            return []
        k = min(k, len(self._by_id))
        if self._graph:
            live = self._live  # the selector reads this buffer: keep a reference for the search's length
            sel = faiss.IDSelectorBitmap(len(live) * 8, faiss.swig_ptr(live))
            params = faiss.SearchParametersHNSW(efSearch=max(self.ann.ef_search, k), sel=sel)  # type: ignore[attr-defined]
            scores, labels = self._index.search(_unit(vec)[None, :], k, params=params)  # [1, k] each
        else:
            scores, labels = self._index.search(_unit(vec)[None, :], k)  # [1, k] each
        return [(self._by_label[int(lb)], float(sc)) for sc, lb in zip(scores[0], labels[0], strict=True)
                if int(lb) >= 0]

    def score(self, identity_id: str, vec: np.ndarray) -> float:
        """Cosine similarity between ``vec`` and the identity's vector."""
        return float(np.dot(self.vectors[identity_id], _unit(vec)))

    def put(self, identity_id: str, vec: np.ndarray, count: int = 1, created: float = 0.0) -> None:
        """Insert or replace ``identity_id``'s vector (replay from ``gallery.v1`` uses this)."""
        self._adopt()
        if identity_id in self._by_id:
            self.remove(identity_id)
        label = self._next
        self._next += 1
        unit = _unit(vec)
        self._index.add_with_ids(unit[None, :], np.array([label], dtype=np.int64))
        if label >= len(self._live) * 8:
            self._live = np.concatenate([self._live, np.zeros(len(self._live), np.uint8)])
        self._live[label >> 3] |= np.uint8(1 << (label & 7))
        if self._builder is not None:
            self._journal.append((label, unit))
        self._by_id[identity_id] = label
        self._by_label[label] = identity_id
        self.vectors[identity_id] = unit
        self.counts[identity_id] = count
        self.created[identity_id] = created
        self._maybe_rebuild()

    @property
    def approximate(self) -> bool:
        """True once the gallery searches an IVF index instead of every vector."""
        return self._built_at > 0

    @property
    def rebuilding(self) -> bool:
        """True while a background rebuild runs (or waits to be swapped in)."""
        return self._builder is not None

    def _maybe_rebuild(self) -> None:
        n = len(self._by_id)
        grown = self.ann.min_identities and n >= self.ann.min_identities and n >= 2 * self._built_at
        cluttered = self._graph and self._dead - self._dead_tolerated > self.ann.max_dead_share * max(n, 1)
        if (grown or cluttered) and self._builder is None:
            if self.ann.background:
                self._start_rebuild()
            else:
                self.rebuild()

    def _snapshot(self) -> tuple[np.ndarray, np.ndarray]:
        labels = np.fromiter(self._by_label, dtype=np.int64, count=len(self._by_label))  # [n]
        vecs = np.stack([self.vectors[self._by_label[int(lb)]] for lb in labels])  # [n, dim]
        return labels, vecs

    def rebuild(self) -> None:
        """(Re)build the IVF index from every current vector now, in the caller's thread."""
        self.wait_rebuild()
        labels, vecs = self._snapshot()
        t0 = time.perf_counter()
        self._index = self._build(labels, vecs)
        self._graph, self._dead, self._dead_tolerated = self.ann.kind == "hnsw", 0, 0
        self._built_at = len(labels)
        self.rebuilds += 1
        self.last_rebuild_s = time.perf_counter() - t0

    def _start_rebuild(self) -> None:
        labels, vecs = self._snapshot()  # copies: the builder never touches live state

        def build() -> None:
            t0 = time.perf_counter()
            try:
                self._built = (self._build(labels, vecs), len(labels))
            except BaseException as exc:  # handed to the owner thread at the swap
                self._build_error = exc
            self.last_rebuild_s = time.perf_counter() - t0

        self._journal = []
        self._builder = threading.Thread(target=build, name="gallery-rebuild", daemon=True)
        self._builder.start()

    def wait_rebuild(self, timeout: float | None = None) -> bool:
        """Wait for background rebuilds and swap them in; False if one still runs after ``timeout``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._builder is not None:
            self._builder.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
            if self._builder.is_alive():
                return False
            self._adopt()  # may start the next one (the gallery doubled during this one)
        return True

    def _adopt(self) -> None:
        """Swap in a finished background build, after replaying the changes made during it."""
        if self._builder is None or self._builder.is_alive():
            return
        built, error = self._built, self._build_error
        self._builder, self._built, self._build_error = None, None, None
        journal, self._journal = self._journal, []
        if built is None:
            log.error("gallery rebuild failed, still searching the previous index: %r", error)
            # retry when the gallery doubles, or the clutter grows by another share, not on every put
            self._built_at = max(self._built_at, len(self._by_id))
            self._dead_tolerated = self._dead
            return
        index, size = built
        graph = self.ann.kind == "hnsw"
        dead = 0
        for label, vec in journal:
            if vec is None:
                if graph:
                    dead += 1  # the live bitmap already masks it
                else:
                    index.remove_ids(np.array([label], dtype=np.int64))  # type: ignore[arg-type]
            else:
                index.add_with_ids(vec[None, :], np.array([label], dtype=np.int64))
        self._index, self._graph, self._dead, self._dead_tolerated = index, graph, dead, 0
        self._built_at = size
        self.rebuilds += 1
        self._maybe_rebuild()  # the gallery may have doubled again while this one was built

    def _build(self, labels: np.ndarray, vecs: np.ndarray) -> faiss.Index:
        return self._build_hnsw(labels, vecs) if self.ann.kind == "hnsw" else self._build_ivf(labels, vecs)

    def _build_hnsw(self, labels: np.ndarray, vecs: np.ndarray) -> faiss.Index:
        """An HNSW graph of ``vecs`` [n, dim] under ``labels`` [n]."""
        graph = faiss.IndexHNSWFlat(self.dim, self.ann.m, faiss.METRIC_INNER_PRODUCT)
        graph.hnsw.efConstruction = self.ann.ef_construction
        index = faiss.IndexIDMap2(graph)
        index.add_with_ids(vecs, labels)  # type: ignore[call-arg]
        return index

    def _build_ivf(self, labels: np.ndarray, vecs: np.ndarray) -> faiss.Index:
        """An IVF index of ``vecs`` [n, dim] under ``labels`` [n] (k-means on a sample, then add all)."""
        n = len(labels)
        cells = int(min(max(self.ann.cells_per_sqrt * math.sqrt(n), 16), max(n // 8, 1)))
        ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(self.dim), self.dim, cells, faiss.METRIC_INNER_PRODUCT)
        ivf.cp.niter = 10
        # ~40 points per cell train k-means well (faiss warns below 39); more only costs time
        rng = np.random.default_rng(0)
        sample = vecs[rng.choice(n, size=min(n, 40 * cells), replace=False)]
        ivf.train(sample)  # type: ignore[call-arg]
        ivf.add_with_ids(vecs, labels)  # type: ignore[call-arg]
        ivf.nprobe = min(self.ann.nprobe, cells)
        # a hash map from id to list position: an update (remove + add) must not scan every list
        ivf.set_direct_map_type(faiss.DirectMap.Hashtable)  # type: ignore[attr-defined]
        return ivf

    def enrol(self, vec: np.ndarray, now: float) -> str:
        """Create a new identity for ``vec`` and return its id."""
        identity_id = f"p-{uuid.uuid4().hex[:12]}"
        self.put(identity_id, vec, 1, now)
        return identity_id

    def update(self, identity_id: str, vec: np.ndarray, rate: float) -> np.ndarray:
        """Move the identity's vector towards ``vec`` by ``rate`` (an exponential running mean)."""
        blended = _unit((1 - rate) * self.vectors[identity_id] + rate * _unit(vec))
        self.put(identity_id, blended, self.counts[identity_id] + 1, self.created[identity_id])
        return blended

    def remove(self, identity_id: str) -> bool:
        """Forget ``identity_id``; False if it was not there."""
        self._adopt()
        label = self._by_id.pop(identity_id, None)
        if label is None:
            return False
        self._live[label >> 3] &= np.uint8(~(1 << (label & 7)) & 0xFF)
        if self._graph:
            self._dead += 1  # a graph cannot drop a node: the live bitmap masks it
        else:
            self._index.remove_ids(np.array([label], dtype=np.int64))  # type: ignore[arg-type]
        if self._builder is not None:
            self._journal.append((label, None))
        del self._by_label[label]
        self.vectors.pop(identity_id, None)
        self.counts.pop(identity_id, None)
        self.created.pop(identity_id, None)
        return True


def _unit(vec: np.ndarray) -> np.ndarray:
    v = np.asarray(vec, dtype=np.float32).reshape(-1)
    return v / max(float(np.linalg.norm(v)), 1e-12)
