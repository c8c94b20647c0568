"""The gallery: one L2-normalised vector per identity in a FAISS inner-product index.

Inner product on unit vectors is cosine similarity, so a score is in [-1, 1] and the
open-set threshold reads the same whatever the model. The exact flat index is the honest
first version; large galleries swap in an approximate index behind the same methods.
"""

from __future__ import annotations

import uuid

import faiss
import numpy as np


class Gallery:
    """Identities and their vectors, searchable by cosine similarity."""

    def __init__(self, dim: int, model: str | None = None, model_version: str | None = None) -> None:
        self.dim = dim
        # vectors of two models (or two versions of one) are not comparable: a gallery holds one
        self.model = model
        self.model_version = model_version
        self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        self._next = 0
        self._by_id: dict[str, int] = {}
        self._by_label: dict[int, str] = {}
        self.vectors: dict[str, np.ndarray] = {}
        self.counts: dict[str, int] = {}
        self.created: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, identity_id: object) -> bool:
        return identity_id in self._by_id

    def search(self, vec: np.ndarray, k: int = 1) -> list[tuple[str, float]]:
        """Up to ``k`` best identities for ``vec`` ``[dim]`` with cosine scores, best first."""
        if not self._by_id:
            return []
        scores, labels = self._index.search(_unit(vec)[None, :], min(k, len(self._by_id)))  # [1, k] each
        return [(self._by_label[int(lb)], float(sc)) for sc, lb in zip(scores[0], labels[0], strict=True)
                if int(lb) >= 0]

    def score(self, identity_id: str, vec: np.ndarray) -> float:
        """Cosine similarity between ``vec`` and the identity's vector."""
        return float(np.dot(self.vectors[identity_id], _unit(vec)))

    def put(self, identity_id: str, vec: np.ndarray, count: int = 1, created: float = 0.0) -> None:
        """Insert or replace ``identity_id``'s vector (replay from ``gallery.v1`` uses this)."""
        if identity_id in self._by_id:
            self.remove(identity_id)
        label = self._next
        self._next += 1
        unit = _unit(vec)
        self._index.add_with_ids(unit[None, :], np.array([label], dtype=np.int64))
        self._by_id[identity_id] = label
        self._by_label[label] = identity_id
        self.vectors[identity_id] = unit
        self.counts[identity_id] = count
        self.created[identity_id] = created

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
        label = self._by_id.pop(identity_id, None)
        if label is None:
            return False
        self._index.remove_ids(np.array([label], dtype=np.int64))  # type: ignore[arg-type]
        del self._by_label[label]
        self.vectors.pop(identity_id, None)
        self.counts.pop(identity_id, None)
        self.created.pop(identity_id, None)
        return True


def _unit(vec: np.ndarray) -> np.ndarray:
    v = np.asarray(vec, dtype=np.float32).reshape(-1)
    return v / max(float(np.linalg.norm(v)), 1e-12)
