"""Training augmentation that looks like real segmentation noise, on batches of silhouettes.

A model trained on clean synthetic silhouettes learns the renderer. Real background
subtraction eats holes into a coat that matches the background, frays edges, merges a
shadow, loses a limb behind a pole, and morphological clean-up grows or shrinks the blob.
Every transform here reproduces one of those failures; each is drawn per sequence (a
camera's segmentation behaves consistently over a window) with per-frame variation where
real noise flickers. Everything is vectorised torch on ``[n, s, h, w]`` 0/1 float tensors.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F  # noqa: N812


@dataclass(frozen=True)
class AugmentConfig:
    """Probabilities (per sequence) of each kind of noise."""

    flip: float = 0.5  # mirror: the same walker seen walking the other way
    morph: float = 0.4  # dilation / erosion of the whole window (threshold choice)
    ragged: float = 0.5  # flickering boundary pixels (per frame)
    holes: float = 0.4  # blobs of missed foreground inside the body
    blur: float = 0.3  # blur + threshold: soft, shifted edges at low resolution
    occlusion: float = 0.25  # a bar (pole, another person, a bag) hides part of the body
    jitter: float = 0.3  # per-frame shift of a pixel or two (unstable crop centring)
    coat: float = 0.3  # widened upper body: other clothes must not change the identity

    def scaled(self, strength: float) -> AugmentConfig:
        """The same mix with every noise probability times ``strength`` (mirroring is not noise: kept)."""
        if strength < 0:
            raise ValueError(f"augmentation strength must be >= 0, got {strength}")
        return AugmentConfig(**{k: v if k == "flip" else min(1.0, v * strength) for k, v in asdict(self).items()})


def _pick(n: int, p: float, gen: torch.Generator, device: torch.device) -> torch.Tensor:
    return (torch.rand(n, generator=gen) < p).to(device).view(n, 1, 1, 1)  # [n, 1, 1, 1]


def _dilate(x: torch.Tensor) -> torch.Tensor:
    return F.max_pool2d(x, 3, 1, 1)


def _erode(x: torch.Tensor) -> torch.Tensor:
    return -F.max_pool2d(-x, 3, 1, 1)


def augment(sils: torch.Tensor, cfg: AugmentConfig, gen: torch.Generator) -> torch.Tensor:
    """Return a noisy copy of ``sils`` [n, s, h, w] (0/1 floats).

    Args:
        sils: a batch of windows.
        cfg: per-sequence probability of each noise kind.
        gen: CPU random generator (training is reproducible from the seed).
    """
    n, s, h, w = sils.shape
    dev = sils.device
    x = sils.clone()  # [n, s, h, w]

    # coat: dilate rows above a random hem line sideways, as a coat or a jacket would. Identity
    # sits in the body's proportions and motion, not in the width of today's clothes.
    coat = _pick(n, cfg.coat, gen, dev)
    if bool(coat.any()):
        hem = (h * (0.5 + 0.35 * torch.rand((n, 1, 1, 1), generator=gen))).to(dev)  # [n, 1, 1, 1]
        rows_c = torch.arange(h, device=dev).view(1, 1, h, 1)
        wide = F.max_pool2d(x.reshape(n * s, 1, h, w), (1, 5), 1, (0, 2)).view(n, s, h, w)
        x = torch.where(coat & (rows_c < hem), wide, x)

    flip = _pick(n, cfg.flip, gen, dev)
    x = torch.where(flip, x.flip(-1), x)

    morph = _pick(n, cfg.morph, gen, dev)
    grow = _pick(n, 0.5, gen, dev)
    x = torch.where(morph & grow, _dilate(x), torch.where(morph & ~grow, _erode(x), x))

    # ragged edges: boundary pixels flip on/off independently in every frame
    ragged = _pick(n, cfg.ragged, gen, dev)
    edge = (_dilate(x) - _erode(x)) > 0  # [n, s, h, w]
    flick = torch.rand(x.shape, generator=gen).to(dev) < 0.3
    x = torch.where(ragged & edge & flick, 1.0 - x, x)

    # holes: low-frequency noise thresholded into blobs (coat == background colour)
    holes = _pick(n, cfg.holes, gen, dev)
    coarse = torch.rand((n, 1, h // 8, w // 8 + 1), generator=gen).to(dev)
    blob = F.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=False)  # [n, 1, h, w]
    drift = torch.rand((n, s, 1, 1), generator=gen).to(dev) * 0.1  # holes breathe frame to frame
    x = torch.where(holes & (blob + drift > 0.92), torch.zeros_like(x), x)

    blur = _pick(n, cfg.blur, gen, dev)
    k = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0], device=dev)
    k2 = (k[:, None] * k[None, :] / 256.0).view(1, 1, 5, 5)
    soft = F.conv2d(x.reshape(n * s, 1, h, w), k2, padding=2).view(n, s, h, w)
    thr = 0.3 + 0.4 * torch.rand((n, 1, 1, 1), generator=gen).to(dev)
    x = torch.where(blur, (soft > thr).float(), x)

    # occlusion: a vertical bar (pole) or a horizontal band (low wall, bag) fixed per window
    occ = _pick(n, cfg.occlusion, gen, dev)
    vertical = _pick(n, 0.5, gen, dev)
    cols = torch.arange(w, device=dev).view(1, 1, 1, w)
    rows = torch.arange(h, device=dev).view(1, 1, h, 1)
    c0 = (torch.rand((n, 1, 1, 1), generator=gen) * w).to(dev)
    r0 = (torch.rand((n, 1, 1, 1), generator=gen) * h * 0.5 + h * 0.4).to(dev)
    bar = (cols >= c0) & (cols < c0 + w * 0.18)  # [n, 1, 1, w]
    band = (rows >= r0) & (rows < r0 + h * 0.2)  # [n, 1, h, 1]
    x = torch.where(occ & ((vertical & bar) | (~vertical & band)), torch.zeros_like(x), x)

    # jitter: the crop centre wobbles by up to 2 px between frames (a circular shift per frame,
    # done as one gather so a batch costs a single op instead of n*s rolls)
    jit = _pick(n, cfg.jitter, gen, dev)
    shifts = torch.randint(-2, 3, (n, s, 1, 1), generator=gen).to(dev) * jit  # [n, s, 1, 1]
    cols_j = (torch.arange(w, device=dev).view(1, 1, 1, w) - shifts) % w  # [n, s, 1, w]
    x = torch.gather(x, -1, cols_j.expand(n, s, h, w))
    return x.clamp_(0.0, 1.0)
