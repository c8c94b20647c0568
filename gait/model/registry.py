"""A small registry of silhouette-window embedders, picked by name.

An embedder maps a batch of silhouette windows ``[b, n, 64, 44]`` (0/1 or 0..1 floats)
to L2-normalised vectors ``[b, dim]``. The training-free baseline registers here; learned
models register their own names (``default``, ...) from :mod:`gait.model.torch_embedder`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from gait.exceptions import UnknownEmbedderError


class Embedder(Protocol):
    """What the embedding agents and the evaluation harness need from a model."""

    name: str
    version: str
    dim: int

    def embed(self, windows: np.ndarray) -> np.ndarray:
        """Embed ``windows`` ``[b, n, 64, 44]`` into L2-normalised ``[b, dim]`` float32."""
        ...


def embed_windows(embedder: Embedder, windows: Sequence[np.ndarray]) -> np.ndarray:
    """Embed windows ``[n_i, 64, 44]`` whose lengths may differ (a short crossing's window is
    shorter) into ``[k, dim]`` float32, in their order: one batch per length."""
    out = np.zeros((len(windows), embedder.dim), np.float32)
    by_len: dict[int, list[int]] = {}
    for i, w in enumerate(windows):
        by_len.setdefault(int(w.shape[0]), []).append(i)
    for idx in by_len.values():
        out[idx] = embedder.embed(np.stack([windows[i] for i in idx]).astype(np.float32))  # [b, dim]
    return out


_FACTORIES: dict[str, Callable[..., Embedder]] = {}


def register(name: str) -> Callable[[Callable[..., Embedder]], Callable[..., Embedder]]:
    """Decorator registering an embedder factory under ``name``; duplicate names are an error."""

    def deco(factory: Callable[..., Embedder]) -> Callable[..., Embedder]:
        if name in _FACTORIES:
            raise ValueError(f"embedder {name!r} registered twice")
        _FACTORIES[name] = factory
        return factory

    return deco


def _load_plugins() -> None:
    # the embedders register their names when imported; both are cheap (torch loads in the factories)
    import gait.model.baseline
    import gait.model.torch_embedder  # noqa: F401


def available() -> list[str]:
    """Names of every registered embedder."""
    _load_plugins()
    return sorted(_FACTORIES)


def get_embedder(name: str, **kwargs: object) -> Embedder:
    """Build the embedder registered as ``name`` (``kwargs`` go to its factory, e.g. ``device``)."""
    _load_plugins()
    if name not in _FACTORIES:
        raise UnknownEmbedderError(f"unknown model {name!r} (available: {', '.join(sorted(_FACTORIES))})")
    return _FACTORIES[name](**kwargs)


def l2_normalise(x: np.ndarray) -> np.ndarray:
    """Row-wise L2 normalisation, safe for all-zero rows."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(norms, 1e-12)).astype(np.float32)
