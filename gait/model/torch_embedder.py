"""Learned embedders in the registry: ``default`` (the committed CPU checkpoint), ``tiny``,
``medium``, ``large`` (checkpoints of the other profiles, when trained) and ``checkpoint``
(any file: ``get_embedder("checkpoint", path=...)``).

Importing this module must stay cheap: torch is imported inside the factories only.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gait.exceptions import MissingCheckpointError
from gait.model.calibration import CHECKPOINT_DIR
from gait.model.registry import register

if TYPE_CHECKING:
    from gait.model.checkpoint import Checkpoint

log = logging.getLogger(__name__)



class TorchEmbedder:
    """An :class:`~gait.model.registry.Embedder` around a :class:`~gait.model.network.GaitModel`.

    On CPU the BatchNorms are folded into the convs and tensors are channels-last, and
    ``cpu_runtime`` picks the graph (:mod:`gait.model.cpu_runtime`: ``eager``, ``fused``, ``int8``;
    ``auto`` = int8 on AVX2-class x86 hosts with a calibration, else fused; ``runtime`` says which
    runs, ``precision`` is ``int8`` there; ``gaitline bench embed`` measures it against eager fp32).
    ``precision="auto"`` runs under autocast where
    the device has a native reduced precision (:func:`gait.model.checkpoint.autocast_dtype`: fp16
    on CUDA, bf16 on CPUs with AMX or AVX512-BF16); ``"fp32"`` never does (bit-for-bit the
    training-time numbers). On CUDA, ``"auto"`` casts the weights to fp16 instead (the projection
    stays fp32), the mirror image goes through the backbone in one batch with the window, and
    ``compile`` (default: on CUDA only) runs the model through ``torch.compile``.
    """

    def __init__(self, ckpt: Checkpoint, name: str, max_batch: int | None = None,
                 precision: str = "auto", compile: bool | None = None, cpu_runtime: str = "auto",
                 calibration: Path | None = None) -> None:
        import torch

        from gait.model import cpu_runtime as cpu
        from gait.model.checkpoint import autocast_dtype
        from gait.model.network import fuse_batchnorm_

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
        # which CPU graph runs (gait.model.cpu_runtime): the GPU path never changes
        self.runtime = "eager"
        self._graph: Any = None
        # torch.compile does its own fusion of the plain model; the CPU graphs' data-dependent
        # choices (is this window 0/1?) would break its graph and pin the batch size it traces
        wants_compile = self._cuda if compile is None else compile
        if self.device.type == "cpu" and not wants_compile:
            cal = cpu.read_calibration(calibration, model.backbone) if calibration is not None else None
            self.runtime = cpu.resolve(cpu_runtime, precision, autocast_dtype(self.device) is not None, cal is not None)
            if self.runtime != "eager":
                # the graph shares the model's convs: channels-last below reaches them too
                self._graph = cpu.InferenceModel(model, cpu.cpu_backbone(model.backbone, self.runtime, cal))
            if self.runtime == "int8":
                self.autocast, self.precision = None, "int8"
        self.model = model.to(memory_format=torch.channels_last)
        self.max_batch = max_batch or (512 if self._cuda else 64)
        self._input_dtype = torch.float32
        if self._cuda:
            torch.backends.cudnn.benchmark = True  # fixed window shapes: pick the fastest conv kernels once
            model.mirror_batched = True
            if self.autocast == torch.float16:
                # fp16 weights instead of autocast: what torch.compile was measured on (bench/gpu_embed.py);
                # the projection stays fp32 (gait.model.network.Projection says why)
                model.half()
                if model.projection is not None:
                    model.projection.float()
                self._input_dtype, self.autocast = torch.float16, None
        # torch.compile fuses the backbone's bias, ReLU and residual adds and the strip pooling into
        # few kernels: more windows/s than the eager model, on a GPU (side by side in
        # bench/results/gpu_embed.json) and on CPU threads (gaitline bench embed --compile). It
        # compiles on the first batch (tens of seconds) with the batch size left symbolic, so the
        # agents' varying micro-batches do not recompile (a second frame count, as whole sequences
        # in eval bring, makes that symbolic too, once); on CPU it is off unless asked for, since
        # one-shot commands would pay the compilation for little
        self.compiled = wants_compile
        self._forward = self._compile() if self.compiled else self._eager

    def bucket(self, b: int) -> int:
        """The batch size a CUDA batch of ``b`` windows is padded to: the next power of two (at
        least 2, at most ``max_batch``). cuDNN picks its kernels anew for every input shape it
        has not seen (up to seconds each: bench/results/gpu_embed.json), and an agent's
        micro-batches come in every size up to ``max_batch``: a handful of shapes pays that once,
        at a cost of at most twice the work on a batch that is small anyway."""
        return max(b, min(max(2, 1 << (b - 1).bit_length()), self.max_batch))

    def warm_up(self, frames: int = 30) -> float:
        """Embed two empty windows once, so compilation and the kernel choice happen now rather
        than on the first batch a stream delivers. Returns the seconds it took."""
        import time

        t0 = time.perf_counter()
        self.embed(np.zeros((2, frames, 64, 44), np.uint8))
        return time.perf_counter() - t0

    def _eager(self, t: Any) -> Any:
        if self._graph is not None:
            return self._graph(t)  # [b, dim]
        return self.model(t).embedding

    def _compile(self) -> Any:
        import torch

        # dynamo counts compilations per function, not per embedder: a process holding many
        # embedders (a benchmark, the tests) would pass the default limit of 8 and quietly run eager
        torch._dynamo.config.recompile_limit = max(64, torch._dynamo.config.recompile_limit)
        fn = torch.compile(self._eager, dynamic=None)

        def forward(t: Any) -> Any:
            n = len(t)
            if n == 1:
                # torch.compile specialises a size-1 dimension: a lone window (a quiet camera) would
                # cost a second compilation, so it travels with a copy of itself
                t = torch.cat([t, t])
            torch._dynamo.mark_dynamic(t, 0)
            try:
                return fn(t)[:n]
            except Exception as exc:  # noqa: BLE001 -- no compiler on this host: the eager model is still right
                log.warning("torch.compile failed (%s); embedding without it", repr(exc)[:300])
                self.compiled, self._forward = False, self._eager
                return self._eager(t)[:n]

        return forward

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
        scale: float | None
        if windows.dtype == np.uint8:
            # on a GPU the 0/1-or-0/255 question is answered there (below): a host pass over a
            # 2048-window batch costs more than its copy across
            scale = None if self._cuda else (1.0 / 255.0 if windows.max() > 1 else 1.0)
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
                t = t.to(self._input_dtype)
                if scale is None:
                    t.mul_(torch.where(t.amax() > 1, 1.0 / 255.0, 1.0))  # no sync: stays on the device
                elif scale != 1.0:
                    t.mul_(scale)
                b = len(t)
                if self._cuda:
                    t = _padded(t, self.bucket(b))  # [bucket, n, 64, 44]
                with torch.autocast(self.device.type, dtype=self.autocast or torch.float32,
                                    enabled=self.autocast is not None):
                    emb = self._forward(t)[:b]  # [b, dim]
                out.append(emb.float().cpu().numpy())
        res = np.concatenate(out)
        return (res / np.maximum(np.linalg.norm(res, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def _padded(t: Any, size: int) -> Any:
    """``t`` with empty windows appended up to ``size`` rows."""
    import torch

    return t if len(t) >= size else torch.cat([t, t.new_zeros((size - len(t), *t.shape[1:]))])


def load_embedder(path: Path, name: str, device: str | None = None, max_batch: int | None = None,
                  embed_from: str | None = None, precision: str = "auto",
                  compile: bool | None = None, cpu_runtime: str | None = None) -> TorchEmbedder:
    """Build a :class:`TorchEmbedder` from a checkpoint file.

    Args:
        path: checkpoint; name: the embedder's name; device: None = CUDA if available.
        max_batch: windows per forward pass; embed_from: override the stored
            ``ModelConfig.embed_from`` (``bnneck`` and ``lda`` give thresholdable cosines, see
            gait.model.network; ``auto`` = ``lda`` where the checkpoint has a fitted projection, else ``bnneck``).
        precision: ``auto`` (reduced precision where native) or ``fp32``, see :class:`TorchEmbedder`.
        compile: torch.compile the model; None = on CUDA only, see :class:`TorchEmbedder`.
        cpu_runtime: ``auto``, ``eager``, ``fused`` or ``int8`` on CPU (:mod:`gait.model.cpu_runtime`;
            int8 reads the calibration beside the file, ``<name>.int8.json``); None =
            ``GAITLINE_EMBED_CPU_RUNTIME`` when set (the agents' setting), else ``auto``.
    """
    from dataclasses import replace

    from gait.model.checkpoint import load_checkpoint
    from gait.model.cpu_runtime import calibration_path, default_runtime

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
    return TorchEmbedder(ck, name=name, max_batch=max_batch, precision=precision, compile=compile,
                         cpu_runtime=cpu_runtime or default_runtime(), calibration=calibration_path(Path(path)))


def _named(profile: str) -> None:
    def factory(device: str | None = None, max_batch: int | None = None, embed_from: str | None = None,
                precision: str = "auto", compile: bool | None = None, cpu_runtime: str | None = None,
                **_: object) -> TorchEmbedder:
        path = CHECKPOINT_DIR / f"{profile}.pt"
        if not path.is_file():
            raise MissingCheckpointError(
                f"model {profile!r} has no checkpoint at {path}; train one with "
                f"'gaitline train --profile {profile} --out {path}' or use --model checkpoint")
        return load_embedder(path, profile, device=device, max_batch=max_batch, embed_from=embed_from,
                             precision=precision, compile=compile, cpu_runtime=cpu_runtime)

    register(profile)(factory)


for _profile in ("default", "tiny", "medium", "large"):
    _named(_profile)


@register("checkpoint")
def _checkpoint(path: str | Path | None = None, device: str | None = None, max_batch: int | None = None,
                embed_from: str | None = None, precision: str = "auto", compile: bool | None = None,
                cpu_runtime: str | None = None, **_: object) -> TorchEmbedder:
    if path is None:
        raise MissingCheckpointError("the 'checkpoint' model needs path=FILE")
    return load_embedder(Path(path), f"checkpoint:{Path(path).stem}", device=device, max_batch=max_batch,
                         embed_from=embed_from, precision=precision, compile=compile, cpu_runtime=cpu_runtime)
