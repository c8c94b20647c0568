"""CPU inference graphs of the gait model: what :class:`~gait.model.torch_embedder.TorchEmbedder`
runs on CPU threads (``GAITLINE_EMBED_CPU_RUNTIME``, resolved by :func:`resolve`).

- ``eager``: the trained network as it is (folded BatchNorm, channels-last; bf16 autocast where
  the CPU has it natively). The reference the others are measured against.
- ``fused``: the same numbers, fewer passes over memory. For 0/1 silhouettes (what the frames
  stage sends) the stem (3x3 conv, ReLU, 2x2 max pool) is a table lookup: every pooled output
  sees one 4x4 patch of the input, so its channels are one row of a table of the 2**16 patches,
  computed once from the stem's weights (:class:`StemTable`). The full-resolution map the conv
  writes and the pool reads back is never made: on a 2-thread AVX2 host that map cost a quarter
  of the model's time for 2 % of its arithmetic. Other input (grey levels) takes the conv.
- ``int8``: the stem as in ``fused``, then the convs in int8 (FBGEMM: activations per tensor,
  weights per channel, :mod:`torch.ao.quantization`) except the stages the calibration keeps
  fp32 (``keep_float``: the default keeps the first block); the pooling over frames and strips
  and the projection stay fp32. The activation ranges come from a calibration file beside the
  checkpoint (``default.int8.json`` for ``default.pt``, written by :func:`calibrate`, keyed by a
  digest of the weights), so every process quantises alike; a model without one runs ``fused``.

``auto`` is ``int8`` on x86 CPUs without native bf16 (AVX2 hosts, where int8 convs do about
twice the arithmetic per cycle of fp32) when the model has a calibration and ``precision`` is
``auto``; ``fused`` everywhere else (with the bf16 autocast on CPUs that have it).
``gaitline bench embed`` measures the runtime picked against ``eager`` in one run.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import platform
import warnings
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F  # noqa: N812 - the universal torch alias
from torch import nn

from gait.exceptions import CheckpointError
from gait.model.network import Backbone, BasicBlock, GaitModel

log = logging.getLogger(__name__)

Runtime = Literal["auto", "eager", "fused", "int8"]
RUNTIMES: tuple[str, ...] = ("auto", "eager", "fused", "int8")
CALIBRATION_FORMAT = "gaitline-int8-calibration/1"


ENV = "GAITLINE_EMBED_CPU_RUNTIME"


def default_runtime() -> str:
    """``GAITLINE_EMBED_CPU_RUNTIME`` where set (the embed agents' setting, workers/embed/settings.py:
    ``gaitline eval`` and ``analyze`` run what the agents run), else ``auto``."""
    value = os.environ.get(ENV, "auto")
    if value not in RUNTIMES:
        raise CheckpointError(f"{ENV}={value!r}: must be one of {', '.join(RUNTIMES)}")
    return value


def calibration_path(checkpoint: Path) -> Path:
    """Where the int8 calibration of ``checkpoint`` lives: ``default.pt`` -> ``default.int8.json``."""
    return checkpoint.with_suffix(".int8.json")


def weights_digest(model: nn.Module) -> str:
    """Short hash of the backbone's weights (not of the file: rewriting a checkpoint's metadata,
    as a threshold calibration does, must not orphan its int8 calibration)."""
    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().float().contiguous().cpu().numpy().tobytes())
    return h.hexdigest()[:16]


def int8_engine() -> str | None:
    """The quantised-kernel engine for int8 convs on this CPU, or None where there is none (FBGEMM
    is x86-only; a torch without :mod:`torch.ao.quantization`'s FX mode has none either)."""
    try:
        import torch.ao.quantization.quantize_fx  # noqa: F401 -- only whether it is there
    except ImportError:
        return None
    engines = torch.backends.quantized.supported_engines
    if platform.machine().lower() in ("x86_64", "amd64") and "fbgemm" in engines:
        return "fbgemm"
    return None


def resolve(requested: str, precision: str, native_bf16: bool, calibrated: bool) -> str:
    """The runtime ``requested`` means on this host.

    Args:
        requested: ``auto``, ``eager``, ``fused`` or ``int8``.
        precision: the embedder's ``precision`` setting: ``fp32`` keeps ``auto`` off int8.
        native_bf16: the CPU runs bf16 natively (the eager model autocasts to it).
        calibrated: an int8 calibration exists for the model.
    """
    if requested not in RUNTIMES:
        raise CheckpointError(f"cpu_runtime must be one of {', '.join(RUNTIMES)}, got {requested!r}")
    if requested == "int8" and (not calibrated or int8_engine() is None):
        why = "no int8 engine on this CPU" if calibrated else "no int8 calibration for this model"
        log.warning("cpu_runtime int8 asked for, but %s: running fused", why)
        return "fused"
    if requested != "auto":
        return requested
    if precision == "auto" and not native_bf16 and calibrated and int8_engine() is not None:
        return "int8"
    return "fused"


class StemTable(nn.Module):
    """The stem (3x3 conv with bias, ReLU, 2x2 max pool) of 0/1 frames as a table lookup.

    A pooled output ``(i, j)`` reads input rows ``2i-1 .. 2i+2`` and columns ``2j-1 .. 2j+2``
    (zeros outside): 16 pixels, so 2**16 possible patches. The table holds each patch's 16 output
    channels, computed in float64 from the conv's weights, so the lookup gives the conv's numbers
    to fp32 rounding.
    """

    def __init__(self, conv: nn.Conv2d) -> None:
        super().__init__()
        if (conv.in_channels, conv.kernel_size, conv.stride, conv.padding) != (1, (3, 3), (1, 1), (1, 1)):
            raise ValueError("StemTable needs a 1-channel 3x3 conv with stride 1 and padding 1")
        codes = torch.arange(1 << 16)
        # bit 4a + b of a code is the patch's pixel at row a, column b
        patches = ((codes[:, None] >> torch.arange(16)) & 1).to(torch.float64).view(-1, 1, 4, 4)  # [65536, 1, 4, 4]
        weight = conv.weight.detach().to(torch.float64).cpu()
        bias = conv.bias.detach().to(torch.float64).cpu() if conv.bias is not None else 0.0
        with torch.no_grad():
            pooled = F.conv2d(patches, weight).amax((2, 3)) + bias  # [65536, c]: the 2x2 pool of the 3x3 conv
        self.table: torch.Tensor
        self.register_buffer("table", F.relu(pooled).float().contiguous())  # [65536, c]

    @staticmethod
    def codes(frames: torch.Tensor) -> torch.Tensor:
        """Each pooled position's 16-bit patch code: ``frames`` [m, h, w] 0/1 floats -> [m, h/2, w/2] int64.

        Two small matrix products, exact in fp32 (integers below 2**16): the columns ``2j-1 .. 2j+2``
        of every row into 4 bits, then the rows ``2i-1 .. 2i+2`` of those into 16 (zero padding is
        the missing rows and columns of the two matrices)."""
        m, h, w = frames.shape
        cols = _patch_weights(w, 2.0, torch.float32)  # [w, w/2]
        rows = _patch_weights(h, 16.0, torch.float32).t()  # [h/2, h]
        with torch.autocast(frames.device.type, enabled=False):  # bf16 would round the codes
            code = torch.matmul(rows, frames.float().reshape(m * h, w).mm(cols).view(m, h, w // 2))  # [m, h/2, w/2]
        return code.long()

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """``frames`` [m, h, w] 0/1 floats -> [m, c, h/2, w/2] fp32, channels-last in memory."""
        return F.embedding(self.codes(frames), self.table).permute(0, 3, 1, 2)  # [m, c, h/2, w/2]


def _patch_weights(n: int, base: float, dtype: torch.dtype) -> torch.Tensor:
    """[n, n/2]: input line ``r`` adds ``base ** (r - 2k + 1)`` to output ``k`` when ``2k-1 <= r <= 2k+2``."""
    w = torch.zeros(n, n // 2, dtype=dtype)
    for k in range(n // 2):
        for a in range(4):
            if 0 <= 2 * k - 1 + a < n:
                w[2 * k - 1 + a, k] = base ** a
    return w


class InferenceBlock(nn.Module):
    """A residual block with its BatchNorms folded away: conv, ReLU, conv, + shortcut, ReLU. Written
    without the Identity modules folding leaves, so int8 conversion fuses conv+ReLU and add+ReLU."""

    def __init__(self, block: BasicBlock) -> None:
        super().__init__()
        if not isinstance(block.bn1, nn.Identity):
            raise ValueError("InferenceBlock needs a block whose BatchNorms are folded (fuse_batchnorm_)")
        self.conv1, self.conv2, self.downsample = block.conv1, block.conv2, block.downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        idt = x if self.downsample is None else self.downsample(x)
        out = F.relu(self.conv1(x))
        return F.relu(self.conv2(out) + idt)


def stages_of(backbone: Backbone) -> nn.Sequential:
    """The backbone after its stem (layer1 .. layerK) as one Sequential of :class:`InferenceBlock`."""
    return nn.Sequential(*[InferenceBlock(blk) for i in range(backbone.num_stages)
                           for blk in getattr(backbone, f"layer{i + 1}")])


class CpuBackbone(nn.Module):
    """Drop-in for a folded :class:`~gait.model.network.Backbone` on CPU: the stem by table for 0/1
    frames (the conv otherwise), then ``stages`` (fp32 blocks or their int8 conversion). Int8
    stages read the table's rows already quantised (``int8_input``: the stages' graph without
    its first quantise step), a quarter of the bytes to gather and no float map to quantise."""

    def __init__(self, backbone: Backbone, stages: nn.Module,
                 int8_input: tuple[nn.Module, float, int] | None = None) -> None:
        super().__init__()
        self.stem = backbone.conv1.conv
        self.use_maxpool = backbone.use_maxpool
        self.table = StemTable(self.stem) if self.use_maxpool and _table_fits(self.stem) else None
        self.stages = stages
        self.stages_q: nn.Module | None = None
        if int8_input is not None and self.table is not None:
            self.stages_q, self.q_scale, self.q_zero_point = int8_input
            self.table_q: torch.Tensor
            self.register_buffer("table_q", torch.quantize_per_tensor(
                self.table.table, self.q_scale, self.q_zero_point, torch.quint8).int_repr())  # [65536, c] uint8

    def forward(self, x: torch.Tensor, binary: bool | None = None) -> torch.Tensor:
        """``x`` [m, 1, h, w] in [0, 1] -> [m, c, h', w'] fp32; ``binary``: whether ``x`` is 0/1
        (None = look)."""
        frames = x[:, 0].float()  # [m, h, w]
        if (self.table is not None and x.shape[2] % 2 == 0 and x.shape[3] % 2 == 0
                and (_binary(frames) if binary is None else binary)):  # 0/1 frames, as the frames stage sends
            if self.stages_q is not None:
                rows = F.embedding(StemTable.codes(frames), self.table_q).permute(0, 3, 1, 2)  # [m, c0, h/2, w/2] u8
                q = torch._make_per_tensor_quantized_tensor(rows, self.q_scale, self.q_zero_point)
                return self.stages_q(q)  # [m, c, h', w']
            return self.stages(self.table(frames))  # [m, c, h', w']
        s = F.relu(self.stem(x.float()))  # [m, c0, h, w]
        if self.use_maxpool:
            s = F.max_pool2d(s, 2)  # [m, c0, h/2, w/2]
        return self.stages(s.contiguous(memory_format=torch.channels_last))


def _binary(x: torch.Tensor) -> bool:
    return bool(torch.logical_or(x == 0, x == 1).all())


def _table_fits(conv: nn.Conv2d) -> bool:
    return (conv.in_channels, conv.kernel_size, conv.stride, conv.padding) == (1, (3, 3), (1, 1), (1, 1))


def stem_output(backbone: Backbone, frames: torch.Tensor) -> torch.Tensor:
    """What the stages read for ``frames`` [m, 1, h, w]: the stem's pooled map [m, c0, h/2, w/2]."""
    s = F.relu(backbone.conv1.conv(frames.float()))
    return F.max_pool2d(s, 2) if backbone.use_maxpool else s


# --- int8 ----------------------------------------------------------------------------------------


def _prepared(stages: nn.Module, example: torch.Tensor, engine: str, keep_float: tuple[str, ...] = (),
              scheme: str = "u7s8") -> Any:
    from torch.ao.quantization import QConfig, QConfigMapping, get_default_qconfig_mapping
    from torch.ao.quantization.observer import HistogramObserver, PerChannelMinMaxObserver
    from torch.ao.quantization.quantize_fx import prepare_fx

    torch.backends.quantized.engine = engine
    if scheme == "u8s7":
        # all 8 bits to the activations (ranges per tensor: the coarse ones), 7 to the weights
        # (ranges per channel): u8 x s7 pairs cannot overflow AVX2's int16 sums either
        mapping = QConfigMapping().set_global(QConfig(
            activation=HistogramObserver.with_args(reduce_range=False),
            weight=PerChannelMinMaxObserver.with_args(dtype=torch.qint8, qscheme=torch.per_channel_symmetric,
                                                      quant_min=-64, quant_max=63)))
    else:
        mapping = get_default_qconfig_mapping(engine)
    for name in keep_float:
        mapping.set_module_name(name, None)
    with warnings.catch_warnings():
        # torch.ao's FX mode is marked deprecated in favour of torchao; it is what ships with torch
        warnings.simplefilter("ignore")
        return prepare_fx(copy.deepcopy(stages).eval(), mapping, example_inputs=(example,))


def _observers(prepared: nn.Module) -> dict[str, nn.Module]:
    from torch.ao.quantization.observer import ObserverBase

    return {name: mod for name, mod in prepared.named_modules() if isinstance(mod, ObserverBase)
            and "activation_post_process" in name}


def _feeding_convs(prepared: Any) -> set[str]:
    """Names of the activation observers whose tensor is the input of a conv."""
    mods = dict(prepared.named_modules())
    out = set()
    for node in prepared.graph.nodes:
        if node.op == "call_module" and "activation_post_process" in str(node.target) and any(
                u.op == "call_module" and isinstance(mods[u.target], nn.Conv2d) for u in node.users):
            out.add(str(node.target))
    return out


def calibrate(backbone: Backbone, frames: torch.Tensor, engine: str = "fbgemm",
              keep_float: tuple[str, ...] = (), scheme: str = "u7s8") -> dict[str, Any]:
    """Fit the int8 activation ranges of ``backbone``'s stages (folded BatchNorms) on ``frames``
    [m, 1, h, w] (0/1 silhouettes, a few hundred, from people the evaluation does not score).

    Args:
        keep_float: modules of :func:`stages_of` that stay fp32 (``"3.conv2"``: the last block's
            second conv; ``"3"``: the whole last block).

    Returns the calibration as plain JSON: ``format``, ``weights`` (:func:`weights_digest`),
    ``engine``, ``frames``, ``keep_float`` and per activation observer its ``scale`` and ``zero_point``.
    """
    stages = stages_of(backbone)
    with torch.inference_mode():
        pooled = stem_output(backbone, frames).contiguous(memory_format=torch.channels_last)
    prepared = _prepared(stages, pooled[:2], engine, keep_float, scheme)
    with torch.no_grad():
        for chunk in pooled.split(256):
            prepared(chunk)
    obs = {}
    into_conv = _feeding_convs(prepared)
    for name, mod in _observers(prepared).items():
        if name not in into_conv:
            # only a conv's input needs the 7-bit range (FBGEMM's AVX2 kernels add pairs of u8 x s8
            # products in int16, which 8-bit inputs can overflow); the tensors that meet in a residual
            # add, and the map the pooling reads, get all 8 bits: half the rounding error there
            mod.quant_min, mod.quant_max = 0, 255  # type: ignore[assignment]
        scale, zp = mod.calculate_qparams()  # type: ignore[operator]
        obs[name] = {"scale": float(scale), "zero_point": int(zp),
                     "quant_min": int(mod.quant_min), "quant_max": int(mod.quant_max)}  # type: ignore[arg-type]
    return {"format": CALIBRATION_FORMAT, "weights": weights_digest(backbone), "engine": engine,
            "frames": int(len(frames)), "keep_float": list(keep_float), "scheme": scheme, "observers": obs}


def read_calibration(path: Path, backbone: nn.Module) -> dict[str, Any] | None:
    """The calibration at ``path`` when it belongs to ``backbone``'s weights, else None (logged)."""
    if not path.is_file():
        return None
    try:
        cal = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        log.warning("int8 calibration %s unreadable (%s): not used", path, exc)
        return None
    if cal.get("format") != CALIBRATION_FORMAT or cal.get("weights") != weights_digest(backbone):
        log.warning("int8 calibration %s was made for other weights: not used", path)
        return None
    return dict(cal)


def quantized_stages(backbone: Backbone, calibration: dict[str, Any]) -> nn.Module:
    """``backbone``'s stages converted to int8 with the activation ranges of ``calibration``."""
    from torch.ao.quantization.observer import FixedQParamsObserver
    from torch.ao.quantization.quantize_fx import convert_fx

    engine = calibration.get("engine", "fbgemm")
    stages = stages_of(backbone)
    c0 = backbone.conv1.conv.out_channels
    example = torch.zeros(2, c0, 8, 8).contiguous(memory_format=torch.channels_last)
    prepared = _prepared(stages, example, engine, tuple(calibration.get("keep_float", ())),
                         calibration.get("scheme", "u7s8"))
    stored = calibration["observers"]
    found = _observers(prepared)
    if set(found) != set(stored):
        raise CheckpointError("int8 calibration does not fit this torch's graph of the model "
                              f"({len(stored)} observers stored, {len(found)} here): calibrate again")
    for name, q in stored.items():
        fixed = FixedQParamsObserver(q["scale"], q["zero_point"], dtype=torch.quint8,
                                     quant_min=q["quant_min"], quant_max=q["quant_max"])
        setattr(prepared, name, fixed)  # the observers are the graph module's own attributes
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return convert_fx(prepared)


def _quantized_input(stages: Any) -> tuple[nn.Module, float, int] | None:
    """``stages`` (an int8 graph module) reading an already quantised input, with that input's
    scale and zero point (None where the first module stays float). The modules (the packed int8
    weights) are shared, not copied."""
    module = torch.fx.GraphModule(stages, copy.deepcopy(stages.graph))
    graph = module.graph
    placeholder = next(n for n in graph.nodes if n.op == "placeholder")
    quantize = next((n for n in placeholder.users if n.target is torch.quantize_per_tensor), None)
    if quantize is None or len(placeholder.users) != 1:
        return None
    scale, zero_point = (getattr(stages, a.target) for a in quantize.args[1:3])
    quantize.replace_all_uses_with(placeholder)
    graph.erase_node(quantize)
    graph.eliminate_dead_code()
    module.recompile()
    return module, float(scale), int(zero_point)


def cpu_backbone(backbone: Backbone, runtime: str, calibration: dict[str, Any] | None = None) -> CpuBackbone:
    """The backbone ``runtime`` (``fused`` or ``int8``) runs: a :class:`CpuBackbone` around the
    float or the int8 stages. ``backbone`` must have its BatchNorms folded."""
    if runtime == "int8":
        if calibration is None:
            raise CheckpointError("cpu_runtime int8 needs a calibration (gait.model.cpu_runtime.calibrate)")
        torch.backends.quantized.engine = calibration.get("engine", "fbgemm")
        stages = quantized_stages(backbone, calibration)
        return CpuBackbone(backbone, stages, _quantized_input(stages))
    return CpuBackbone(backbone, stages_of(backbone))


# --- pooling over frames and strips -------------------------------------------------------------


class InferenceModel(nn.Module):
    """The embedding of a folded :class:`~gait.model.network.GaitModel` in eval mode, with the
    pooling over frames and strips done on the feature maps' channels-last memory: each window's
    frames are one contiguous [frames, h*w*c] block, so the max, mean and spread over frames are
    three straight passes, and the strips' mean + max come from each row's, instead of reductions
    over a middle dimension of a 5-d tensor (several times slower on CPU threads). The same numbers
    as ``model(x).embedding`` to fp32 rounding."""

    def __init__(self, model: GaitModel, backbone: CpuBackbone) -> None:
        super().__init__()
        self.model = model
        self.backbone = backbone

    def pooled(self, sils: torch.Tensor, frame_mean: bool, frame_std: bool, binary: bool | None = None) -> torch.Tensor:
        """:meth:`GaitModel._pool`: [n, s, h, w] -> [kn, c, p] (max over frames, then the mean and
        the spread when asked for); ``binary``: whether ``sils`` is 0/1 (None = the backbone looks)."""
        n, s = sils.shape[:2]
        frames = sils.reshape(n * s, 1, *sils.shape[-2:])  # [n*s, 1, h, w]
        fmap = self.backbone(frames, binary).contiguous(memory_format=torch.channels_last)  # [n*s, c, h', w']
        c, h, w = fmap.shape[1:]
        flat = fmap.permute(0, 2, 3, 1).reshape(n, s, h * w * c)  # [n, s, D]: a view of the channels-last map
        stats = [flat.amax(dim=1)]  # [n, D]
        if frame_mean or frame_std:
            mean = flat.mean(dim=1, keepdim=True)  # [n, 1, D]
            if frame_mean:
                stats.append(mean[:, 0])
            if frame_std:
                stats.append((flat - mean).square_().mean(dim=1).sqrt_())  # [n, D]: the population's spread
        pooled = torch.stack(stats).view(len(stats) * n, h, w, c)  # [kn, h', w', c]
        return strip_pyramid(pooled, self.model.cfg.bins)  # [kn, c, p]

    def forward(self, sils: torch.Tensor) -> torch.Tensor:
        """Embed ``sils`` [n, s, h, w] (or [n, s, 1, h, w]) in [0, 1] -> unit-norm [n, dim]."""
        m, cfg = self.model, self.model.cfg
        if sils.dim() == 5:
            sils = sils[:, :, 0]  # [n, s, h, w]
        n = len(sils)
        binary = _binary(sils)  # once for the window and its mirror image
        if cfg.embed_from == "lda":
            views = [self.pooled(sils, cfg.projection_frame_mean, cfg.projection_frame_std, binary)]  # [kn, c, p]
            if cfg.projection_mirror:
                views.append(self.pooled(sils.flip(-1), cfg.projection_frame_mean, cfg.projection_frame_std, binary))
            pyramid = torch.cat(views) if len(views) > 1 else views[0]  # [m, c, p]
            strips = m.fcs(pyramid) if cfg.projection_input == "strips" else pyramid  # [m, d, p]
            if m.projection is None:
                raise CheckpointError("embed_from=lda but the model has no projection")
            return F.normalize(m.projection(m._projection_features(pyramid, strips, n)), dim=1)  # [n, k]
        strips = m.fcs(self.pooled(sils, False, False, binary))  # [n, d, p]
        feat = m.bnnecks.normalised(strips) if cfg.embed_from == "bnneck" else strips  # [n, d, p]
        return F.normalize(feat, dim=1).flatten(1) / (cfg.parts ** 0.5)  # [n, d*p]


def strip_pyramid(x: torch.Tensor, bins: tuple[int, ...]) -> torch.Tensor:
    """:func:`gait.model.network.hpp` of a channels-last map: ``x`` [n, h, w, c] -> [n, c, sum(bins)]
    (mean + max per strip). Strips of whole rows come from each row's sum and max; a bin that does
    not divide the height takes :func:`~gait.model.network.hpp` itself."""
    from gait.model.network import hpp

    n, h, w, c = x.shape
    if any(h % b for b in bins):
        return hpp(x.permute(0, 3, 1, 2), bins)
    row_sum, row_max = x.sum(dim=2), x.amax(dim=2)  # [n, h, c]
    feats = []
    for b in bins:
        k = h // b  # rows per strip
        mean = row_sum.view(n, b, k, c).sum(dim=2) / (k * w)  # [n, b, c]
        feats.append(mean + row_max.view(n, b, k, c).amax(dim=2))  # [n, b, c]
    return torch.cat(feats, dim=1).transpose(1, 2)  # [n, c, p]
