"""Learned embedders in the registry: ``default`` (the committed CPU checkpoint), ``tiny``,
``medium``, ``large`` (checkpoints of the other profiles, when trained) and ``checkpoint``
(any file: ``get_embedder("checkpoint", path=...)``).

Importing this module must stay cheap: torch is imported inside the factories only.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from gait.embedders import register
from streams.exceptions import GaitlineError

if TYPE_CHECKING:
    from gait.checkpoint import Checkpoint

CHECKPOINT_DIR = Path(__file__).resolve().parent / "checkpoints"


class MissingCheckpointError(GaitlineError):
    """A named model has no checkpoint file on this installation."""


class TorchEmbedder:
    """An :class:`~gait.embedders.Embedder` around a :class:`~gait.model.GaitModel`.

    On CPU the BatchNorms are folded into the convs and tensors are channels-last (about
    2.5x faster). ``precision="auto"`` runs under autocast where the device has a native reduced
    precision (:func:`gait.checkpoint.autocast_dtype`: fp16 on CUDA, bf16 on CPUs with AMX or
    AVX512-BF16); ``"fp32"`` never does (bit-for-bit the training-time numbers).
    """

    def __init__(self, ckpt: Checkpoint, name: str, max_batch: int | None = None,
                 precision: str = "auto") -> None:
        import torch

        from gait.checkpoint import autocast_dtype
        from gait.model import fuse_batchnorm_

        if precision not in ("auto", "fp32"):
            raise MissingCheckpointError(f"precision must be auto or fp32, got {precision!r}")

        self.name = name
        self.version = ckpt.version
        self.dim = ckpt.config.embed_dim
        self.config = ckpt.config
        self.meta = ckpt.meta
        self.device = next(ckpt.model.parameters()).device
        self._cuda = self.device.type == "cuda"
        self.autocast = autocast_dtype(self.device) if precision == "auto" else None
        self.precision = str(self.autocast).removeprefix("torch.") if self.autocast else "float32"
        model = fuse_batchnorm_(ckpt.model.eval())
        self.model = model.to(memory_format=torch.channels_last)
        self.max_batch = max_batch or (512 if self._cuda else 64)
        if self._cuda:
            torch.backends.cudnn.benchmark = True  # fixed window shapes: pick the fastest conv kernels once

    def embed(self, windows: np.ndarray) -> np.ndarray:
        """Embed ``windows`` [b, n, 64, 44] (0/1, 0..1, or uint8 0..255) into unit-norm [b, dim] float32."""
        import torch

        if windows.ndim != 4 or windows.shape[2:] != (64, 44) or windows.shape[1] == 0:
            raise ValueError(f"windows must be [b, n>0, 64, 44], got {windows.shape}")
        if len(windows) == 0:
            return np.zeros((0, self.dim), np.float32)
        # uint8 windows travel as bytes and become floats on the device: a 2048-window GPU batch
        # is 173 MB as uint8 but 692 MB as float32, and the host-side conversion, not the GPU,
        # was what limited throughput
        if windows.dtype == np.uint8:
            scale = 1.0 / 255.0 if windows.max() > 1 else 1.0
            x = windows
        else:
            scale = 1.0
            x = windows.astype(np.float32, copy=False)
            if not np.isfinite(x).all():
                raise ValueError("windows contain NaN or infinite values")
        out = []
        with torch.inference_mode():
            for i in range(0, len(x), self.max_batch):
                t = torch.from_numpy(np.ascontiguousarray(x[i:i + self.max_batch]))  # [b, n, 64, 44]
                if self._cuda:
                    t = t.pin_memory().to(self.device, non_blocking=True)
                t = t.float()
                if scale != 1.0:
                    t.mul_(scale)
                with torch.autocast(self.device.type, dtype=self.autocast or torch.float32,
                                    enabled=self.autocast is not None):
                    emb = self.model(t).embedding  # [b, dim]
                out.append(emb.float().cpu().numpy())
        res = np.concatenate(out)
        return (res / np.maximum(np.linalg.norm(res, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def load_embedder(path: Path, name: str, device: str | None = None, max_batch: int | None = None,
                  embed_from: str | None = None, precision: str = "auto") -> TorchEmbedder:
    """Build a :class:`TorchEmbedder` from a checkpoint file.

    Args:
        path: checkpoint; name: the embedder's name; device: None = CUDA if available.
        max_batch: windows per forward pass; embed_from: override the stored
            ``ModelConfig.embed_from`` (``bnneck`` and ``lda`` give thresholdable cosines, see
            gait.model; ``auto`` = ``lda`` where the checkpoint has a fitted projection, else ``bnneck``).
        precision: ``auto`` (reduced precision where native) or ``fp32``, see :class:`TorchEmbedder`.
    """
    from dataclasses import replace

    from gait.checkpoint import load_checkpoint

    ck = load_checkpoint(Path(path), device=device)
    if embed_from == "auto":
        # the centred features: the fitted projection where the checkpoint has one, else the BNNeck
        embed_from = "lda" if ck.config.projection_dim else "bnneck"
    if embed_from is not None and embed_from != ck.config.embed_from:
        if embed_from not in ("strips", "bnneck", "lda"):
            raise MissingCheckpointError(f"embed_from must be auto, strips, bnneck or lda, got {embed_from!r}")
        if embed_from == "lda" and not ck.config.projection_dim:
            raise MissingCheckpointError(f"{path} has no fitted projection for embed_from=lda "
                                         "(fit one with 'gaitline fit-lda')")
        ck.config = replace(ck.config, embed_from=embed_from)  # type: ignore[arg-type]
        ck.model.cfg = ck.config
        name = f"{name}+{embed_from}"
    return TorchEmbedder(ck, name=name, max_batch=max_batch, precision=precision)


def _named(profile: str) -> None:
    def factory(device: str | None = None, max_batch: int | None = None, embed_from: str | None = None,
                precision: str = "auto", **_: object) -> TorchEmbedder:
        path = CHECKPOINT_DIR / f"{profile}.pt"
        if not path.is_file():
            raise MissingCheckpointError(
                f"model {profile!r} has no checkpoint at {path}; train one with "
                f"'gaitline train --profile {profile} --out {path}' or use --model checkpoint")
        return load_embedder(path, profile, device=device, max_batch=max_batch, embed_from=embed_from,
                             precision=precision)

    register(profile)(factory)


for _profile in ("default", "tiny", "medium", "large"):
    _named(_profile)


@register("checkpoint")
def _checkpoint(path: str | Path | None = None, device: str | None = None, max_batch: int | None = None,
                embed_from: str | None = None, precision: str = "auto", **_: object) -> TorchEmbedder:
    if path is None:
        raise MissingCheckpointError("the 'checkpoint' model needs path=FILE")
    return load_embedder(Path(path), f"checkpoint:{Path(path).stem}", device=device, max_batch=max_batch,
                         embed_from=embed_from, precision=precision)
