"""The open-set threshold a model was calibrated at, and where that calibration came from.

A learned model's threshold travels inside its checkpoint, in ``meta["open_set"]``, one entry
per vector kind (``lda``: the fitted projection, ``bnneck``, ``strips``), written by
``gaitline eval threshold --write``::

    {"lda": {"threshold": 0.68, "far": 0.0001, "rule": "...", "dataset": "...",
             "command": "...", "stranger_quantiles": {...}, "mated_quantiles": {...}, "written": "..."}}

A training-free model has no checkpoint: it states its own threshold (``threshold`` on the
embedder class). Nothing here imports torch until a checkpoint is read.
"""

from __future__ import annotations

import functools
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gait.exceptions import CheckpointError

CHECKPOINT_DIR = Path(__file__).resolve().parent.parent / "checkpoints"
KINDS = ("lda", "bnneck", "strips")
# registry names whose embedders call themselves something else
_REGISTERED_AS = {"baseline": "gei-baseline"}


def checkpoint_for(model: str) -> Path | None:
    """The shipped checkpoint behind embedder name ``model`` (``default``, ``medium+bnneck``, ...), or None."""
    profile = model.partition("+")[0]
    if not profile.isidentifier():
        return None  # "checkpoint:<file>" and the like: a file we cannot locate from the name
    path = CHECKPOINT_DIR / f"{profile}.pt"
    return path if path.is_file() else None


def _blob(path: Path) -> dict[str, Any]:
    from gait.model.checkpoint import read_blob

    return read_blob(path)


def kind_of(model: str, blob: dict[str, Any]) -> str:
    """Which vectors embedder name ``model`` sends: its ``+kind`` suffix, else the checkpoint's own."""
    suffix = model.partition("+")[2]
    return suffix or str(blob["config"].get("embed_from", "strips"))


@functools.lru_cache(maxsize=32)
def _calibration(path: Path, mtime: float, kind: str) -> dict[str, Any] | None:
    blob = _blob(path)
    entry = (blob.get("meta") or {}).get("open_set", {}).get(kind)
    return dict(entry) if entry else None


def calibration(model: str) -> dict[str, Any] | None:
    """The calibration record for embedder name ``model``, or None when it has none."""
    from gait.model.baseline import TRAINING_FREE

    model = _REGISTERED_AS.get(model, model)
    if model in TRAINING_FREE:
        return {"threshold": TRAINING_FREE[model], "rule": "stated by the training-free model"}
    path = checkpoint_for(model)
    if path is None:
        return None
    kind = model.partition("+")[2] or kind_of(model, _blob(path))
    return _calibration(path, path.stat().st_mtime, kind)


def calibrated_threshold(model: str) -> float | None:
    """The open-set cosine threshold calibrated for embedder name ``model``, or None."""
    record = calibration(model)
    return None if record is None else float(record["threshold"])


def write_calibration(path: Path, kind: str, record: dict[str, Any]) -> None:
    """Store ``record`` (it must hold ``threshold``) as the ``kind`` calibration of checkpoint ``path``.

    Everything else in the file (weights, config, other metadata) is kept as it is; the file is
    replaced atomically. The checkpoint's content hash, the model version embeddings carry, changes.
    """
    import torch

    if kind not in KINDS:
        raise CheckpointError(f"calibration kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if not -1.0 <= float(record.get("threshold", 2.0)) <= 1.0:
        raise CheckpointError(f"a calibration needs a cosine threshold in [-1, 1], got {record.get('threshold')!r}")
    path = Path(path)
    blob = _blob(path)
    meta = dict(blob.get("meta") or {})
    open_set = dict(meta.get("open_set") or {})
    open_set[kind] = {**record, "written": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    meta["open_set"] = open_set
    blob["meta"] = meta
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(blob, tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    _calibration.cache_clear()
