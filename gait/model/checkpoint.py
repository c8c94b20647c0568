"""Checkpoints: the model's config travels inside the file, and a mismatch names its tensors.

Format (a ``torch.save`` dict, loaded with ``weights_only=True`` so a file cannot run code)::

    {"format": "gaitline-gait/1",
     "config": ModelConfig.to_dict(),      # sizes: the model is rebuilt from these
     "model": state_dict,                  # parameter and buffer tensors
     "meta": {...},                        # plain JSON-like: step, dataset, scores, command
     "optimizer": ..., "scheduler": ...}   # optional; only in resumable training checkpoints

Loading an OpenGait checkpoint (``{"model": state_dict, "iteration": ...}``) of a
``Baseline`` model with a ``ResNet9`` backbone goes through :func:`opengait_to_gaitline`:

========================================  ======================================
OpenGait key                              gaitline key
========================================  ======================================
``module.`` prefix (DDP)                  dropped
``Backbone.forward_block.conv1.conv.*``   ``backbone.conv1.conv.*``
``Backbone.forward_block.bn1.*``          ``backbone.bn1.*``
``Backbone.forward_block.layerK.*``       ``backbone.layerK.*`` (same torchvision block names)
``FCs.fc_bin`` [p, c, d]                  ``fcs.fc_bin``
``BNNecks.bn1d.*`` (parallel_BN1d)        ``bnnecks.bn1d.*``
``BNNecks.fc_bin`` [p, d, k]              ``bnnecks.fc_bin``
========================================  ======================================

The input convention must match too: 64x44 silhouettes in [0, 1] (OpenGait's
``BaseSilCuttingTransform`` on 64x64 frames), HPP ``bin_num: [16]``, temporal max pooling.
The GaitBase CASIA-B config corresponds to ``profile_config("large")`` with ``num_classes=74``.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from gait.exceptions import CheckpointError, CheckpointMismatchError
from gait.model.network import GaitModel, ModelConfig

FORMAT = "gaitline-gait/1"
_OPENGAIT_PREFIXES = (
    ("Backbone.forward_block.", "backbone."),
    ("Backbone.", "backbone."),  # a backbone saved without the SetBlockWrapper
    ("FCs.", "fcs."),
    ("BNNecks.", "bnnecks."),
)


@dataclass
class Checkpoint:
    """A loaded checkpoint: the model (eval mode, on ``device``), its config and metadata."""

    model: GaitModel
    config: ModelConfig
    meta: dict[str, Any] = field(default_factory=dict)
    version: str = ""
    raw: dict[str, Any] = field(default_factory=dict)


def file_version(path: Path) -> str:
    """Short content hash of a file: the model version that embeddings carry."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:12]


def save_checkpoint(path: Path, model: GaitModel, meta: dict[str, Any] | None = None,
                    **extra: Any) -> Path:
    """Write ``model`` with its config atomically (a crash never leaves half a file).

    Args:
        path: destination file (parents are created).
        model: the model; its ``cfg`` is stored with the weights.
        meta: plain JSON-like metadata (training step, dataset, scores, command).
        extra: more top-level entries, e.g. ``optimizer=opt.state_dict()`` for resuming.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    blob = {"format": FORMAT, "config": model.cfg.to_dict(), "model": state, "meta": meta or {}, **extra}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(blob, tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; a shipped checkpoint must be readable by all
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def check_state_dict(model: torch.nn.Module, state: dict[str, torch.Tensor], source: str = "checkpoint") -> None:
    """Raise :class:`CheckpointMismatchError` naming every missing, unexpected or mis-shaped tensor."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = sorted(f"{k} {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
                    for k in set(own) & set(state) if tuple(own[k].shape) != tuple(state[k].shape))
    if not (missing or unexpected or shapes):
        return

    def few(items: list[str]) -> str:
        return ", ".join(items[:6]) + (f" (+{len(items) - 6} more)" if len(items) > 6 else "")

    parts = []
    if shapes:
        parts.append(f"shape mismatch: {few(shapes)}")
    if missing:
        parts.append(f"missing: {few(missing)}")
    if unexpected:
        parts.append(f"unexpected: {few(unexpected)}")
    raise CheckpointMismatchError(f"{source} does not match the model config; " + "; ".join(parts))


def read_blob(path: Path) -> dict[str, Any]:
    """The raw dict of a checkpoint file (weights only: loading cannot run code)."""
    if not Path(path).is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a corrupt / foreign file
        raise CheckpointError(f"cannot read checkpoint {path}: {type(exc).__name__}: {exc}") from exc
    if not isinstance(blob, dict) or "model" not in blob:
        raise CheckpointError(f"{path} is not a gait checkpoint (no 'model' entry)")
    return blob


def resolve_device(device: str | torch.device | None) -> torch.device:
    """The device to run on: the given one, else CUDA when available, else CPU."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """The reduced precision worth using on ``device``, or None (stay in fp32).

    CUDA: fp16 (tensor cores). CPU: bf16, but only where oneDNN runs it natively (AMX or
    AVX512-BF16, where training steps get faster); emulated bf16 on older CPUs is slower than
    fp32.
    """
    if device.type == "cuda":
        return torch.float16
    if device.type == "cpu" and torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported():
        return torch.bfloat16
    return None


def load_checkpoint(path: Path, device: str | torch.device | None = None,
                    config: ModelConfig | None = None) -> Checkpoint:
    """Load a gaitline checkpoint into a fresh model in eval mode.

    Args:
        path: the ``.pt`` file.
        device: where the model goes; None = CUDA if available else CPU.
        config: expected sizes; when given and different from the stored config, the
            tensors are checked against it and every mismatch is named.
    """
    blob = read_blob(Path(path))
    if blob.get("format") != FORMAT:
        raise CheckpointError(f"{path}: unknown checkpoint format {blob.get('format')!r} "
                              f"(expected {FORMAT!r}; OpenGait files load with load_opengait)")
    try:
        stored = ModelConfig.from_dict(dict(blob["config"]))
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: invalid model config inside: {exc}") from exc
    cfg = config or stored
    model = GaitModel(cfg)
    check_state_dict(model, blob["model"], source=f"checkpoint {path}")
    model.load_state_dict(blob["model"])
    model.to(resolve_device(device)).eval()
    return Checkpoint(model=model, config=cfg, meta=dict(blob.get("meta") or {}),
                      version=file_version(Path(path)), raw=blob)


def opengait_to_gaitline(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename an OpenGait ``Baseline`` state dict to gaitline keys (see the module table)."""
    out: dict[str, torch.Tensor] = {}
    for key, val in state.items():
        k = key.removeprefix("module.")
        for old, new in _OPENGAIT_PREFIXES:
            if k.startswith(old):
                k = new + k[len(old):]
                break
        out[k] = val
    return out


def load_opengait(path: Path, config: ModelConfig, device: str | torch.device | None = None) -> Checkpoint:
    """Load an OpenGait checkpoint of the same architecture (sizes from ``config``, e.g. ``large``)."""
    blob = read_blob(Path(path))
    state = opengait_to_gaitline(dict(blob["model"]))
    model = GaitModel(config)
    check_state_dict(model, state, source=f"OpenGait checkpoint {path}")
    model.load_state_dict(state)
    model.to(resolve_device(device)).eval()
    return Checkpoint(model=model, config=config, meta={"source": "opengait", "iteration": blob.get("iteration")},
                      version=file_version(Path(path)), raw=blob)
