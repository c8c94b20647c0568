"""A linear projection fitted after training: regularised LDA on the model's strip features.

The network is trained on a few dozen identities; what it has learnt to tell apart is spread
over its 480 strip dimensions together with directions that mostly carry *how one person's
sequences differ* (clothes, a bag, the view). Linear discriminant analysis, fitted on people
the network never saw, keeps the directions in which people differ more than one person's
recordings do: whiten by the within-person scatter, then keep the top eigenvectors of the
between-person scatter in that whitened space. The map is ``(x - mean) @ weight``, stored as
buffers of :class:`gait.model.network.Projection` and applied in fp32.

What it reads (``ModelConfig.projection_input``): the strip FCs' outputs (``strips``, 480-d for
the default profile), or the pooled strips before those FCs (``pyramid``, 1 920-d): the FCs were
trained to separate the training identities and squeeze out what did not serve them, some of
which separates other people. With ``projection_mirror`` it also reads the same features of the
left-right mirrored window, side by side: the mirror image is roughly the same walker seen
from their other side, which the network may encode differently; the fit combines both.
With ``projection_frame_mean`` it reads each of those pooled over the frames by their mean as
well as by the network's max, and with ``projection_frame_std`` by their standard deviation:
how much each part of the body moves through the gait cycle, where max and mean mostly keep
its shape (each reading was kept for what it added to ``gaitline eval gait`` on held-out simulated
people).

Shrinkage (``shrink``) adds ``shrink * trace(Sw) / D`` to the within-person covariance's
diagonal: with a few hundred people the raw covariance's small eigenvalues are noise, and
whitening by them would amplify exactly that noise.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy.linalg import cholesky, solve_triangular

from gait.exceptions import ProjectionError

_ROWS = 2048  # feature rows per chunk of the scatter sums


@dataclass(frozen=True)
class Lda:
    """A fitted projection: ``mean`` [D], ``weight`` [D, k], and the between/within variance
    ratio of each kept direction (``ratios`` [k], descending)."""

    mean: np.ndarray
    weight: np.ndarray
    ratios: np.ndarray


def scatter(x: np.ndarray, inv: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The sums LDA starts from, in float64 by row chunks.

    Args:
        x: [m, D] features (float32 stays float32 here).
        inv: [m] person index of each row (0..c-1).
        counts: [c] rows per person.

    Returns:
        the mean [D], the within-person covariance Sw [D, D], and the between-person rows [c, D],
        weighted so that Sb = between.T @ between.
    """
    d, c = x.shape[1], len(counts)
    # a float64 copy of 27 000 x 11 520 features would be 2.5 GB, and its centred copy as much again
    chunks = [slice(i, i + _ROWS) for i in range(0, len(x), _ROWS)]
    centres = np.zeros((c, d))  # [c, D]
    for sl in chunks:
        centres += np.eye(c)[inv[sl]].T @ x[sl].astype(np.float64)  # one-hot rows sum each person
    mean = centres.sum(axis=0) / len(x)  # [D]
    centres /= counts[:, None]
    sw = np.zeros((d, d))  # [D, D]
    for sl in chunks:
        within = x[sl].astype(np.float64) - centres[inv[sl]]  # [rows, D]
        sw += within.T @ within
    sw /= len(x) - c
    return mean, sw, (centres - mean) * np.sqrt(counts / len(x))[:, None]


def fit_lda(features: np.ndarray, labels: Sequence[str], dims: int, shrink: float = 1.0) -> Lda:
    """Fit regularised LDA.

    Args:
        features: [m, D] one row per sequence.
        labels: identity of each row.
        dims: directions kept (at most the number of identities - 1).
        shrink: diagonal loading of the within-person covariance, as a multiple of its mean
            eigenvalue (0 = none).
    """
    x = np.asarray(features)  # [m, D]; float32 stays float32: the sums below are float64, by chunks
    if x.ndim != 2 or len(x) != len(labels):
        raise ProjectionError(f"features must be [m, D] with one label per row, got {x.shape} and {len(labels)}")
    if not np.isfinite(x).all():
        raise ProjectionError("features contain NaN or infinite values")
    names, inv = np.unique(np.asarray(labels), return_inverse=True)
    if len(names) < 2:
        raise ProjectionError("LDA needs at least two identities")
    if not 1 <= dims <= len(names) - 1:
        raise ProjectionError(f"dims {dims}: must be 1..{len(names) - 1} (identities - 1) for {len(names)} identities")
    if shrink < 0:
        raise ProjectionError(f"shrink {shrink} must be >= 0")
    counts = np.bincount(inv)  # [c]
    if (counts < 2).any():
        raise ProjectionError(f"{int((counts < 2).sum())} identities have one sequence: the within-person "
                              "scatter needs two or more each")
    mean, sw, between = scatter(x, inv, counts)
    d = x.shape[1]
    sw[np.diag_indices(d)] += shrink * np.trace(sw) / d
    largest = float(sw.diagonal().max())
    # whiten by the Cholesky factor (Sw = L L^T, whitening L^-T) rather than by Sw's eigenvectors:
    # LDA's directions, the generalised eigenvectors of (Sb, Sw), do not depend on which whitening,
    # and with the SVD below the solve is much faster at D = 11 520 (`gaitline bench lda`,
    # bench/results/lda.json). sw.T is the
    # Fortran-ordered view of the same symmetric matrix, factored in place (no second 1 GB copy).
    try:
        chol = cholesky(sw.T, lower=True, overwrite_a=True, check_finite=False)  # [D, D]
    except np.linalg.LinAlgError:
        chol = None
    del sw
    if chol is None or float(np.square(chol.diagonal()).min()) <= 1e-12 * largest:
        raise ProjectionError("the within-person covariance is singular: use shrink > 0")
    # the whitened between-person scatter is M^T M with M = between @ L^-T ([c, D], rank < c), so
    # its eigenvectors are M's right singular vectors: no [D, D] eigendecomposition at all
    m = solve_triangular(chol, between.T, lower=True, check_finite=False).T  # [c, D]
    _, sv, vt = np.linalg.svd(m, full_matrices=False)  # sv [c] descending, vt [c, D]
    weight = solve_triangular(chol, vt[:dims].T, lower=True, trans="T", check_finite=False)  # L^-T V: [D, k]
    return Lda(mean=mean.astype(np.float32), weight=weight.astype(np.float32),
               ratios=np.square(sv[:dims]).astype(np.float32))


def _sequence_features(model: Any, sequences: Sequence[np.ndarray], fn: Callable[[Any], Any],
                       frames: int) -> np.ndarray:
    """``fn(batch)`` -> [b, D] of whole sequences, run as inference runs (eval mode, the device's
    native reduced precision), so the projection is fitted on the numbers it will later see.
    ``sequences`` are [t, 64, 44] masks (0/1); each call takes about ``frames`` frames (as many
    sequences as fit, at least one): equal-sized calls let the kept heap serve every length
    (:mod:`gait.model.allocator`)."""
    import torch

    from gait.evaluation.quick import embed_sequences
    from gait.model.checkpoint import autocast_dtype

    dev = next(model.parameters()).device
    dtype = autocast_dtype(dev)
    model.eval()

    def run(batch: np.ndarray) -> np.ndarray:
        out = []
        with torch.inference_mode(), torch.autocast(dev.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            step = max(1, frames // batch.shape[1])  # bounded memory: a length group can hold hundreds
            for i in range(0, len(batch), step):
                x = torch.from_numpy(np.ascontiguousarray(batch[i:i + step])).to(dev)  # [b, t, 64, 44]
                out.append(fn(x).float().flatten(1).cpu().numpy())  # [b, D]
        return np.concatenate(out)

    # uint8 masks stay uint8 until their length group is embedded
    return embed_sequences(run, sequences)


def strip_features(model: Any, sequences: Sequence[np.ndarray], frames: int = 2048) -> np.ndarray:
    """Raw strip features, flattened, of whole sequences: [m, strip_dim * parts] float32."""
    return _sequence_features(model, sequences, lambda x: model(x).strips, frames)


def projection_features(model: Any, sequences: Sequence[np.ndarray], frames: int = 2048) -> np.ndarray:
    """What ``model``'s projection reads (``projection_input``, ``projection_mirror``,
    ``projection_frame_mean``, ``projection_frame_std`` of its config), of whole sequences:
    [m, projection_in_dim] float32."""
    return _sequence_features(model, sequences, model.projection_features, frames)


def reading(model: Any, source: str, mirror: bool, frame_mean: bool = False, frame_std: bool = False,
            power: float = 1.0) -> Any:
    """A copy of ``model`` (without a projection) whose :meth:`projection_features` read
    ``source`` (``strips`` or ``pyramid``), with the mirrored window if ``mirror``, and next to
    the frames' max their mean if ``frame_mean`` and their standard deviation if ``frame_std``,
    all raised to ``power`` (sign kept)."""
    embed_from = "strips" if model.cfg.embed_from == "lda" else model.cfg.embed_from  # lda needs a projection
    cfg = replace(model.cfg, projection_dim=0, embed_from=embed_from, projection_input=source,
                  projection_mirror=mirror, projection_frame_mean=frame_mean, projection_frame_std=frame_std,
                  projection_power=power)
    return _rebuilt(model, cfg, {})


def with_projection(model: Any, lda: Lda) -> Any:
    """A copy of ``model`` that carries ``lda`` and embeds through it (``embed_from='lda'``).

    ``lda`` must have been fitted on ``model``'s :func:`projection_features`."""
    import torch

    cfg = replace(model.cfg, projection_dim=int(lda.weight.shape[1]), embed_from="lda")
    if lda.weight.shape[0] != cfg.projection_in_dim:
        raise ProjectionError(f"projection input {lda.weight.shape[0]} != the model's {cfg.projection_input} "
                              f"features ({cfg.projection_in_dim})")
    return _rebuilt(model, cfg, {"projection.mean": torch.from_numpy(lda.mean),
                                 "projection.weight": torch.from_numpy(lda.weight)})


def _rebuilt(model: Any, cfg: Any, extra: dict[str, Any]) -> Any:
    from gait.model.network import GaitModel

    out = GaitModel(cfg)
    state = {k: v for k, v in model.state_dict().items() if not k.startswith("projection.")}
    out.load_state_dict({**state, **extra})
    return out.eval()
