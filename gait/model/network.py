"""The silhouette gait model: per-frame CNN, set pooling, horizontal strips, BNNeck.

This is the architecture the field converged on for silhouettes (GaitSet's set pooling,
GaitBase's ResNet-like backbone and separate strip FCs), written from the ideas:

1. a 2-D CNN applied to every frame of the window independently (``backbone``);
2. temporal max pooling over the frames: the window is treated as an unordered *set*, so the
   embedding does not depend on frame order or phase (``temporal_pool``);
3. horizontal pyramid pooling (HPP): the feature map is cut into horizontal strips (head,
   torso, thighs, shins, ...), each pooled with mean + max (``hpp``);
4. one separate linear layer per strip (``fcs``): strips see different body parts and must not
   share weights;
5. a BNNeck (``bnnecks``) for training: batch-normalised features feed a cosine classifier
   (cross-entropy), the pre-BN features feed the triplet loss;
6. after training, a fitted linear projection (``projection``, :mod:`gait.model.projection`) of the
   pooled strips, optionally of the window and its mirror image together and pooled over frames
   by mean as well as max, to the embedding.

Input convention (the same as OpenGait's CASIA-B configs): silhouettes 64 px high, 44 px
wide (a 64x64 crop centred on the body with 10 px cut from each side), values in [0, 1].
Parameter names follow OpenGait's ``Baseline``/``ResNet9`` so that a checkpoint trained
there with the same sizes loads through the key mapping in :mod:`gait.model.checkpoint`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import torch
import torch.nn.functional as F  # noqa: N812 - the universal torch alias
from torch import nn

INPUT_HW = (64, 44)


@dataclass(frozen=True)
class ModelConfig:
    """Sizes of a gait model.

    Args:
        channels: output width of each backbone stage (ResNet ``layer1..layerK``).
        layers: BasicBlocks per stage (0 = the stage is skipped, as in OpenGait).
        strides: stride of the first block of each stage.
        maxpool: 2x2 max pooling after the stem conv (halves compute of every later stage).
        bins: strips per pyramid level; the embedding has ``sum(bins)`` strips.
        strip_dim: output width of each strip's separate FC.
        num_classes: identities of the BNNeck classifier (training only).
        in_channels: silhouette channels (1).
        projection_dim: output width of the fitted linear projection (LDA, :mod:`gait.model.projection`;
            ``gaitline fit-lda``); 0 = the model has none.
        projection_input: what the projection reads: ``strips`` (the strip FCs' outputs,
            ``strip_dim`` per strip) or ``pyramid`` (the pooled strips *before* those FCs, the
            backbone's width per strip: wider, and not squeezed onto the training identities).
        projection_mirror: the projection also reads the same features of the left-right
            mirrored window, concatenated (twice the backbone work per window).
        projection_frame_mean: the projection also reads the same features pooled over frames
            by their *mean*, next to the network's max (twice the numbers, no backbone work):
            the max keeps the extremes a silhouette reaches, the mean how long it stays there.
        projection_frame_std: the projection also reads the features' standard deviation over
            the frames: how much each part moves through the gait cycle, where the max and the
            mean mostly keep its shape. No backbone work, but taken in fp32 over every frame's
            map, so it costs CPU windows/s in bf16 (``gaitline bench embed`` measures the default).
        projection_power: the projection reads those features raised to this power, sign kept
            (power normalisation; 1 = as they are, 0.5 = square roots): a few strong, bursty
            activations no longer dominate the scatter the projection is fitted on. No backbone work.
        embed_from: ``strips`` (default, OpenGait's inference output) embeds the raw strip
            features: best rank-1 and TPIR on the synthetic protocol, but all vectors sit in a
            narrow cone (strangers' cosines close to 1), so a match threshold must be
            calibrated (FPIR) rather than guessed; ``bnneck`` embeds the batch-normalised strips:
            centred, cosine spreads over [-1, 1] (strangers near 0), a few rank-1 points lower;
            ``lda`` embeds the raw strips through the fitted projection: centred too, and the
            directions in which one person's windows vary (clothes, bags, view) are shrunk.
    """

    channels: tuple[int, ...] = (16, 32, 96, 128)
    layers: tuple[int, ...] = (1, 1, 1, 1)
    strides: tuple[int, ...] = (1, 2, 2, 1)
    maxpool: bool = True
    bins: tuple[int, ...] = (8, 4, 2, 1)
    strip_dim: int = 32
    num_classes: int = 74
    in_channels: int = 1
    projection_dim: int = 0
    embed_from: Literal["strips", "bnneck", "lda"] = "strips"
    projection_input: Literal["strips", "pyramid"] = "strips"
    projection_mirror: bool = False
    projection_frame_mean: bool = False
    projection_frame_std: bool = False
    projection_power: float = 1.0

    def __post_init__(self) -> None:
        if not (len(self.channels) == len(self.layers) == len(self.strides)):
            raise ValueError("channels, layers and strides need one entry per stage")
        if not self.channels or min(self.channels) <= 0 or min(self.bins, default=0) <= 0:
            raise ValueError("channels and bins must be positive")
        if self.projection_dim < 0:
            raise ValueError("projection_dim must be >= 0")
        if not 0 < self.projection_power <= 1:
            raise ValueError(f"projection_power {self.projection_power}: must be in (0, 1]")
        if self.projection_input not in ("strips", "pyramid"):
            raise ValueError(f"projection_input {self.projection_input!r}: strips or pyramid")
        if self.embed_from == "lda" and not self.projection_dim:
            raise ValueError("embed_from='lda' needs a fitted projection (projection_dim > 0; gaitline fit-lda)")

    @property
    def parts(self) -> int:
        """Number of strips (all pyramid levels together)."""
        return sum(self.bins)

    @property
    def strips_dim(self) -> int:
        """Length of the concatenated strip features (``strip_dim * parts``)."""
        return self.parts * self.strip_dim

    @property
    def projection_in_dim(self) -> int:
        """Length of the features the projection reads (see ``projection_input``)."""
        width = self.strip_dim if self.projection_input == "strips" else self.channels[-1]
        return width * self.parts * (2 if self.projection_mirror else 1) * self.frame_poolings

    @property
    def frame_poolings(self) -> int:
        """How many poolings over frames the projection reads per image: max, then mean, then std."""
        return 1 + int(self.projection_frame_mean) + int(self.projection_frame_std)

    @property
    def embed_dim(self) -> int:
        """Length of the embedding vector."""
        return self.projection_dim if self.embed_from == "lda" else self.strips_dim

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form, stored inside checkpoints."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error (a typo must not pass)."""
        known = set(cls.__dataclass_fields__)
        extra = set(d) - known
        if extra:
            raise ValueError(f"unknown model config keys: {sorted(extra)}")
        fixed: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
        return cls(**fixed)


# Named sizes. ``default`` is the CPU profile behind the committed checkpoint; ``large`` is
# OpenGait's GaitBase (ResNet-9, widths up to 512, 16 strips x 256) for GPUs.
PROFILES: dict[str, ModelConfig] = {
    "tiny": ModelConfig(channels=(8, 16, 48, 64), bins=(8, 4, 2, 1)),
    # the CPU profile: cheap early stages (most pixels), wider late ones (8x6 maps), and a strip
    # pyramid whose coarse strips see whole-body proportions, where a synthetic identity lives
    "default": ModelConfig(),
    "medium": ModelConfig(channels=(32, 64, 192, 256), bins=(8, 4, 2, 1)),
    "large": ModelConfig(channels=(64, 128, 256, 512), maxpool=False, bins=(16,), strip_dim=256),
}


def profile_config(name: str, num_classes: int | None = None) -> ModelConfig:
    """The :class:`ModelConfig` of a named profile (``cpu`` = ``default``, ``gpu`` = ``large``)."""
    alias = {"cpu": "default", "gpu": "large"}.get(name, name)
    if alias not in PROFILES:
        raise KeyError(f"unknown model profile {name!r} (known: {', '.join(sorted(PROFILES))}, cpu, gpu)")
    cfg = PROFILES[alias]
    if num_classes is not None:
        cfg = ModelConfig(**{**cfg.to_dict(), "num_classes": num_classes})
    return cfg


class BasicConv2d(nn.Module):
    """Bias-free conv; wrapped so the key is ``conv1.conv.weight`` as in OpenGait."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, padding: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride, padding, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class BasicBlock(nn.Module):
    """torchvision-style residual block (same parameter names: conv1, bn1, conv2, bn2, downsample)."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample: nn.Module | None = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        idt = x if self.downsample is None else self.downsample(x)
        out = F.relu(self.bn1(self.conv1(x)), inplace=True)
        out = self.bn2(self.conv2(out))
        return F.relu(out + idt, inplace=True)


class Backbone(nn.Module):
    """ResNet-9-like per-frame CNN (OpenGait ``ResNet9`` names: conv1, bn1, layer1..layerK)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.conv1 = BasicConv2d(cfg.in_channels, cfg.channels[0], 3, 1, 1)
        self.bn1 = nn.BatchNorm2d(cfg.channels[0])
        self.use_maxpool = cfg.maxpool
        cin = cfg.channels[0]
        self.num_stages = len(cfg.channels)
        for i, (cout, n, stride) in enumerate(zip(cfg.channels, cfg.layers, cfg.strides, strict=True)):
            blocks = [BasicBlock(cin if j == 0 else cout, cout, stride if j == 0 else 1) for j in range(n)]
            # layer1..layerK: the OpenGait / torchvision names (an empty stage is the identity)
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
            if n:
                cin = cout
        self.out_channels = cin

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)), inplace=True)  # [m, c0, 64, 44]
        if self.use_maxpool:
            x = F.max_pool2d(x, 2)  # [m, c0, 32, 22]
        for i in range(self.num_stages):
            x = getattr(self, f"layer{i + 1}")(x)  # [m, ck, h, w]
        return x


def fuse_batchnorm_(model: GaitModel) -> GaitModel:
    """Fold every backbone BatchNorm2d into its conv, in place (inference only: faster on CPU).

    The model must be in eval mode; the result is no longer trainable nor checkpoint-compatible.
    """
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    if model.training:
        raise ValueError("fuse_batchnorm_ needs a model in eval mode")
    bb = model.backbone
    bb.conv1.conv = fuse_conv_bn_eval(bb.conv1.conv, bb.bn1)
    bb.bn1 = nn.Identity()  # type: ignore[assignment]
    for i in range(bb.num_stages):
        for blk in getattr(bb, f"layer{i + 1}"):
            blk.conv1 = fuse_conv_bn_eval(blk.conv1, blk.bn1)
            blk.conv2 = fuse_conv_bn_eval(blk.conv2, blk.bn2)
            blk.bn1, blk.bn2 = nn.Identity(), nn.Identity()
            if blk.downsample is not None:
                blk.downsample = fuse_conv_bn_eval(blk.downsample[0], blk.downsample[1])
    return model


def temporal_pool(x: torch.Tensor) -> torch.Tensor:
    """Set pooling: max over frames. ``x`` [n, s, c, h, w] -> [n, c, h, w]; frame order is irrelevant."""
    return x.max(dim=1).values  # [n, c, h, w]


def hpp(x: torch.Tensor, bins: tuple[int, ...]) -> torch.Tensor:
    """Horizontal pyramid pooling, mean + max per strip. ``x`` [n, c, h, w] -> [n, c, sum(bins)]."""
    n, c, h, w = x.shape
    feats = []
    for b in bins:
        if h % b:
            # uneven strips: adaptive pooling keeps every row (the exact OpenGait view() needs h % b == 0)
            z = F.adaptive_avg_pool2d(x, (b, 1)) + F.adaptive_max_pool2d(x, (b, 1))  # [n, c, b, 1]
            feats.append(z.view(n, c, b))
        else:
            z = x.reshape(n, c, b, -1)  # [n, c, b, h/b*w]
            feats.append(z.mean(-1) + z.amax(-1))  # [n, c, b]
    return torch.cat(feats, dim=-1)  # [n, c, p]


class SeparateFCs(nn.Module):
    """One linear map per strip (``fc_bin`` [p, cin, cout], the OpenGait layout)."""

    def __init__(self, parts: int, cin: int, cout: int) -> None:
        super().__init__()
        self.fc_bin = nn.Parameter(nn.init.xavier_uniform_(torch.zeros(parts, cin, cout)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(2, 0, 1)  # [p, n, c]
        out = x.matmul(self.fc_bin)  # [p, n, d]
        return out.permute(1, 2, 0).contiguous()  # [n, d, p]


class SeparateBNNecks(nn.Module):
    """BNNeck: one BatchNorm over all strips, then a per-strip cosine classifier."""

    def __init__(self, parts: int, dim: int, num_classes: int) -> None:
        super().__init__()
        self.bn1d = nn.BatchNorm1d(dim * parts)
        self.fc_bin = nn.Parameter(nn.init.xavier_uniform_(torch.zeros(parts, dim, num_classes)))

    def normalised(self, x: torch.Tensor) -> torch.Tensor:
        """Batch-normalised strip features: [n, d, p] -> [n, d, p]."""
        n, d, p = x.shape
        return self.bn1d(x.reshape(n, -1)).view(n, d, p)  # [n, d, p]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feat = self.normalised(x)  # [n, d, p]
        f = F.normalize(feat.permute(2, 0, 1), dim=-1)  # [p, n, d]
        logits = f.matmul(F.normalize(self.fc_bin, dim=1))  # [p, n, k] cosine similarities
        return feat, logits.permute(1, 2, 0).contiguous()  # [n, d, p], [n, k, p]


class Projection(nn.Module):
    """A fitted linear map of the flattened strips: ``(x - mean) @ weight`` (buffers: never trained)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.mean: torch.Tensor
        self.weight: torch.Tensor
        self.register_buffer("mean", torch.zeros(cin))
        self.register_buffer("weight", torch.zeros(cin, cout))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        # fp32 whatever the autocast: strangers' raw strips are nearly parallel (cosine close to 1), so the mean
        # removed here is most of each vector and bf16 would keep little of what is left
        with torch.autocast(features.device.type, enabled=False):
            x = features.float() - self.mean  # [n, D]
            return x @ self.weight  # [n, k]


@dataclass
class GaitOutput:
    """What the model returns.

    Attributes:
        embedding: [n, embed_dim] unit-norm retrieval vector: per strip L2-normalised BNNeck
            features or raw strips, concatenated, or the projected features (``ModelConfig.embed_from``).
        strips: [n, strip_dim, parts] per-strip features before the BNNeck (triplet loss input).
        logits: [n, num_classes, parts] BNNeck cosine logits, or None in eval mode.
    """

    embedding: torch.Tensor
    strips: torch.Tensor
    logits: torch.Tensor | None = field(default=None)


class GaitModel(nn.Module):
    """Silhouette windows ``[n, s, 64, 44]`` (or ``[n, s, 1, 64, 44]``) -> :class:`GaitOutput`."""

    #: the mirror image through the backbone in one batch with the window, or in a second call
    #: (faster on CPU threads); the numbers are the same either way
    mirror_batched: bool = False

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.backbone = Backbone(cfg)
        self.fcs = SeparateFCs(cfg.parts, self.backbone.out_channels, cfg.strip_dim)
        self.bnnecks = SeparateBNNecks(cfg.parts, cfg.strip_dim, cfg.num_classes)
        self.projection = Projection(cfg.projection_in_dim, cfg.projection_dim) if cfg.projection_dim else None

    def _pool(self, sils: torch.Tensor, frame_mean: bool, frame_std: bool = False) -> torch.Tensor:
        """Backbone, set pooling and strip pyramid: [n, s, 1, h, w] -> [n, c, p], or [kn, c, p]
        with the max over frames, then the mean (``frame_mean``), then the standard deviation
        (``frame_std``) over frames."""
        n, s = sils.shape[:2]
        frames = sils.reshape(n * s, *sils.shape[2:])  # [n*s, 1, h, w]
        fmap = self.backbone(frames)  # [n*s, c, h', w']
        fmap = fmap.view(n, s, *fmap.shape[1:])  # [n, s, c, h', w']
        pooled = temporal_pool(fmap)  # [n, c, h', w']
        if frame_mean:
            pooled = torch.cat([pooled, fmap.mean(dim=1)])  # [2n, c, h', w']
        if frame_std:
            # fp32 (bf16 loses the small spreads); the population's std: 0 for one frame, not NaN.
            # Written as two passes: aten's std over a middle dimension is much slower on CPU
            f = fmap.float()
            spread = (f - f.mean(dim=1, keepdim=True)).square_().mean(dim=1).sqrt_().to(pooled.dtype)  # [n, c, h', w']
            pooled = torch.cat([pooled, spread])  # [kn, c, h', w']
        return hpp(pooled, self.cfg.bins)  # [kn, c, p]

    def _encode(self, sils: torch.Tensor, for_projection: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """Pooled strips before and after the strip FCs: [m, c, p], [m, d, p]. The first n rows
        are the window's own (max over frames); ``for_projection`` appends what the projection
        also reads: the frames' mean (``projection_frame_mean``) and standard deviation
        (``projection_frame_std``), then the same of the left-right mirror image
        (``projection_mirror``)."""
        if sils.dim() == 4:
            sils = sils.unsqueeze(2)  # [n, s, 1, h, w]
        frame_mean = for_projection and self.cfg.projection_frame_mean
        frame_std = for_projection and self.cfg.projection_frame_std
        mirror = for_projection and self.cfg.projection_mirror
        if mirror and self.mirror_batched:
            both = self._pool(torch.cat([sils, sils.flip(-1)]), frame_mean, frame_std)  # [k*2n, c, p]
            k = len(both) // (2 * len(sils))
            # [k, 2, n] -> [2, k, n]: the window's k views, then the mirror image's, as below
            pyramid = both.unflatten(0, (k, 2, len(sils))).transpose(0, 1).flatten(0, 2)  # [m, c, p]
        elif mirror:
            pyramid = self._pool(sils, frame_mean, frame_std)  # [kn, c, p]
            pyramid = torch.cat([pyramid, self._pool(sils.flip(-1), frame_mean, frame_std)])  # [m, c, p]
        else:
            pyramid = self._pool(sils, frame_mean, frame_std)  # [kn, c, p]
        return pyramid, self.fcs(pyramid)  # [m, c, p], [m, d, p]

    def _projection_features(self, pyramid: torch.Tensor, strips: torch.Tensor, n: int) -> torch.Tensor:
        """What the projection reads, from :meth:`_encode`'s outputs: [n, projection_in_dim] fp32."""
        src = (pyramid if self.cfg.projection_input == "pyramid" else strips).float().flatten(1)  # [m, D']
        if self.cfg.projection_power != 1.0:
            src = src.sign() * src.abs().pow(self.cfg.projection_power)  # [m, D']
        return torch.cat(src.split(n), dim=1)  # [n, m/n * D']: per window, its views side by side

    def projection_features(self, sils: torch.Tensor) -> torch.Tensor:
        """The features the projection reads (``projection_input``, ``projection_mirror``,
        ``projection_frame_mean``, ``projection_frame_std``, ``projection_power``) of a batch of
        windows: [n, projection_in_dim] fp32. ``gaitline fit-lda`` fits on these."""
        pyramid, strips = self._encode(sils, True)  # [m, c, p], [m, d, p]
        return self._projection_features(pyramid, strips, len(sils))

    def forward(self, sils: torch.Tensor, with_logits: bool | None = None) -> GaitOutput:
        """Embed a batch of windows.

        Args:
            sils: silhouettes in [0, 1], [n, s, h, w] or [n, s, 1, h, w]; h, w = 64, 44.
            with_logits: compute BNNeck logits (default: only in training mode).
        """
        n = len(sils)
        lda = self.cfg.embed_from == "lda"
        pyramid, both = self._encode(sils, lda)  # [m, c, p], [m, d, p]
        strips = both[:n]  # [n, d, p]: the window itself (max over frames), never its mirror image
        logits = None
        if with_logits or (with_logits is None and self.training):
            feat, logits = self.bnnecks(strips)  # [n, d, p], [n, k, p]
        elif self.cfg.embed_from == "bnneck":
            feat = self.bnnecks.normalised(strips)  # [n, d, p]
        else:
            feat = strips
        if lda:
            assert self.projection is not None  # ModelConfig guarantees it
            emb = F.normalize(self.projection(self._projection_features(pyramid, both, n)), dim=1)  # [n, k]
            return GaitOutput(embedding=emb, strips=strips, logits=logits)
        if self.cfg.embed_from == "strips":
            feat = strips
        # each strip normalised separately, then scaled so the whole vector has unit norm:
        # cosine of two vectors = mean cosine over strips, as in per-part retrieval
        emb = F.normalize(feat, dim=1).flatten(1) / (self.cfg.parts ** 0.5)  # [n, d*p]
        return GaitOutput(embedding=emb, strips=strips, logits=logits)
