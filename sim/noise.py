"""Segmentation noise that looks like background subtraction, and partial occlusion.

Real foreground masks are not rendered silhouettes: edges are ragged and flicker, parts whose
colour matches the background vanish (a grey coat on grey pavement leaves the legs), shadows
stick to the feet, thin limbs break up at low resolution, and things in front cut people. Each
recording draws its own mix, so a model cannot learn one noise signature.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class SegNoise:
    """Per-recording noise settings (pixel quantities are relative to the person's height).

    Args:
        blur: edge softness before thresholding, as a fraction of body height.
        edge: amplitude of the ragged-edge noise field (0 = clean).
        cell: size of a noise-field cell, fraction of body height (bigger = blobbier).
        camo: strength of a camouflage hole (0 = none): a body region partly vanishes.
        camo_y: vertical centre of that region in the body box (0 = head, 1 = feet).
        shadow: fraction of the cast shadow the subtraction keeps (0 = perfect suppression).
        threshold: foreground threshold on the blurred, noisy mask (0.5 = unbiased).
        occluder: (x0, x1) of a vertical occluder as fractions of the walk's image width, or None.
        bottom_cut: fraction of the body height hidden from the bottom (a car, a bench), 0 = none.
    """

    blur: float = 0.01
    edge: float = 0.15
    cell: float = 0.06
    camo: float = 0.0
    camo_y: float = 0.4
    shadow: float = 0.0
    threshold: float = 0.5
    occluder: tuple[float, float] | None = None
    bottom_cut: float = 0.0


def draw_noise(rng: np.random.Generator, level: float = 1.0) -> SegNoise:
    """Draw a recording's noise.

    Args:
        rng: the recording's generator.
        level: 0 = clean silhouettes, 1 = typical street background subtraction, up to 2.
    """
    occ = None
    if rng.random() < 0.06 * level:
        x = float(rng.uniform(0.2, 0.7))
        occ = (x, x + float(rng.uniform(0.05, 0.15)))
    return SegNoise(
        blur=float(rng.uniform(0.004, 0.02)), edge=float(rng.uniform(0.0, 0.35) * level),
        cell=float(rng.uniform(0.03, 0.1)),
        camo=float(rng.uniform(0.3, 0.8) if rng.random() < 0.12 * level else 0.0),
        camo_y=float(rng.uniform(0.25, 0.75)),
        shadow=float(rng.uniform(0.2, 0.9) if rng.random() < 0.25 * level else 0.0),
        threshold=float(np.clip(rng.normal(0.5, 0.06 * level), 0.3, 0.7)),
        occluder=occ, bottom_cut=float(rng.uniform(0.1, 0.3) if rng.random() < 0.03 * level else 0.0),
    )


def corrupt(mask: np.ndarray, noise: SegNoise, rng: np.random.Generator, body_h: float,
            shadow: np.ndarray | None = None, cleanup: bool = True) -> np.ndarray:
    """Turn a clean rendered mask into what background subtraction would give.

    Args:
        mask: ``[h, w]`` uint8 clean silhouette (0/255).
        noise: the recording's settings.
        rng: the recording's generator (advanced per frame: the noise flickers).
        body_h: body height in pixels (scales blur and noise cells).
        shadow: ``[h, w]`` uint8 cast-shadow mask on the same canvas, or None.
        cleanup: finish with the frames worker's own clean-up (:func:`gait.vision.segment.clean_silhouette`):
            it brings the simulator's ragged edges and fragments close to the frames worker's masks
            of real video (``gaitline eval noise`` measures both). False gives the masks of
            generator version 1.

    Returns:
        ``[h, w]`` uint8 0/255 mask.
    """
    h, w = mask.shape
    sigma = max(noise.blur * body_h, 0.3)
    m: np.ndarray = cv2.GaussianBlur(mask.astype(np.float32) * (1.0 / 255), (0, 0), sigma)  # [h, w]
    cell = max(noise.cell * body_h, 2.0)
    gh, gw = int(h / cell) + 2, int(w / cell) + 2
    if noise.edge > 0:
        field = rng.standard_normal((gh, gw)).astype(np.float32)  # [gh, gw]
        m += noise.edge * cv2.resize(field, (w, h), interpolation=cv2.INTER_LINEAR)
    rows = np.nonzero(mask.any(axis=1))[0]
    if noise.camo > 0 and len(rows):
        top, bot = rows[0], rows[-1]
        cy = top + noise.camo_y * (bot - top)
        yy = (np.arange(h, dtype=np.float32) - cy) / max(0.12 * (bot - top), 1.0)  # [h]
        band = np.exp(-yy ** 2)[:, None]  # [h, 1] smooth band across the body
        blot = cv2.resize(rng.random((gh, gw), dtype=np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
        m -= noise.camo * band * (0.6 + blot)
    if shadow is not None and noise.shadow > 0:
        keep = cv2.resize(rng.random((gh, gw), dtype=np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
        m = np.maximum(m, ((shadow > 0) & (keep < noise.shadow)).astype(np.float32))
    out = (m > noise.threshold).astype(np.uint8) * 255  # [h, w]
    if noise.bottom_cut > 0 and len(rows):
        cut = int(rows[-1] - noise.bottom_cut * (rows[-1] - rows[0]))
        out[cut:] = 0
    if cleanup:
        from gait.vision.segment import clean_silhouette

        out = clean_silhouette((out > 0).astype(np.uint8)) * 255
    return out
