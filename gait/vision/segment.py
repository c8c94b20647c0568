"""Person silhouettes from a fixed camera: background subtraction, refinement, person filter.

The background model (MOG2 or KNN, shadows detected and removed) runs at reduced resolution
because its cost grows with the pixel count and people stay many pixels tall at half size.
Blobs found there are scaled back to full resolution and refined inside their boxes against a
full-resolution background image (kept cheaply by a masked running average), so silhouette
edges keep the detail the 64x44 pretreatment needs. A shape filter (height, aspect, fill)
rejects cars, trees and lighting changes; OpenCV's built-in HOG people detector can confirm
boxes when enabled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from gait.vision.learned import PersonMasks, component_over, merge_regions, overlaps, person_crop


@dataclass(frozen=True)
class SegmentConfig:
    """Knobs of the segmenter (the frames worker fills them from its settings).

    Attributes:
        method: background model, ``mog2`` or ``knn``.
        scale: resolution factor for the background model (0.5 = half width and height).
        history: frames the background model remembers.
        var_threshold: MOG2 variance threshold (KNN: squared distance threshold).
        min_height_px: smallest person height at full resolution.
        max_height_frac: tallest person as a share of the frame height.
        min_aspect: smallest height/width ratio of a single upright person.
        max_aspect: largest height/width ratio (thin poles, reflections are taller).
        min_fill: smallest share of the box covered by foreground.
        max_fg_frac: above this foreground share of the frame, the frame is a lighting change.
        refine: refine silhouettes at full resolution inside each box.
        hog: confirm boxes with OpenCV's HOG people detector (slower).
        silhouettes: ``mog2``: cut by the background model; ``learned``: cut by a person
            segmentation trained on real people in a crop around each moving blob
            (:mod:`gait.vision.learned`); motion finds the people either way.
    """

    method: Literal["mog2", "knn"] = "mog2"
    scale: float = 0.4
    history: int = 300
    var_threshold: float = 16.0
    min_height_px: int = 36
    max_height_frac: float = 0.98  # a close camera's walker may fill the frame's height
    min_aspect: float = 1.1
    max_aspect: float = 5.5
    min_fill: float = 0.25
    max_fg_frac: float = 0.4
    refine: bool = True
    hog: bool = False
    silhouettes: Literal["mog2", "learned"] = "learned"


@dataclass
class Detection:
    """One person candidate in one frame.

    Attributes:
        box: ``(x, y, w, h)`` in full-resolution image pixels.
        score: confidence in [0, 1] that this is one whole person (shape plausibility).
        mask: ``[h, w]`` uint8 0/1 silhouette inside ``box`` at full resolution.
        foot: ``(x, y)`` image pixels of the bottom centre (where the person touches ground).
        colour: ``[2, 32]`` hue-saturation histograms of the upper and lower body under the mask
            (see :func:`colour_signature`), or None when too few pixels show.
    """

    box: tuple[int, int, int, int]
    score: float
    mask: np.ndarray
    foot: tuple[float, float]
    colour: np.ndarray | None = None


_HUE_BINS, _SAT_BINS = 8, 4
_MIN_PART_PIXELS = 20


def colour_signature(frame: np.ndarray, box: tuple[int, int, int, int], mask: np.ndarray) -> np.ndarray | None:
    """What a walker wears, for telling two walkers apart when their paths cross.

    Hue x saturation histograms (brightness left out: a shadow or a lighting change must not
    make someone else of a person) of the upper body (15-50 % of the height) and the lower body
    (50-90 %), each summing to 1: ``[2, HUE_BINS * SAT_BINS]``. None when either part has fewer
    than a few pixels under the mask. Used only to keep tracks apart, never stored or published.
    """
    x, y, w, h = box
    patch = frame[y:y + h, x:x + w]  # [h, w, 3] BGR
    if patch.shape[:2] != mask.shape or h < 8:
        return None
    hsv = cv2.cvtColor(patch, cv2.COLOR_BGR2HSV)
    out = np.zeros((2, _HUE_BINS * _SAT_BINS), np.float32)
    for i, (a, b) in enumerate(((0.15, 0.5), (0.5, 0.9))):
        r0, r1 = int(a * h), max(int(a * h) + 1, int(b * h))
        m = mask[r0:r1]
        if int(m.sum()) < _MIN_PART_PIXELS:
            return None
        hist = cv2.calcHist([hsv[r0:r1]], [0, 1], m, [_HUE_BINS, _SAT_BINS], [0, 180, 0, 256])  # [8, 4]
        out[i] = hist.ravel() / max(float(hist.sum()), 1.0)
    return out


def colour_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Bhattacharyya distance in [0, 1] between two signatures, the mean of the two body parts."""
    bc = np.sqrt(a * b).sum(axis=1)  # [2] Bhattacharyya coefficients
    return float(np.mean(np.sqrt(np.clip(1.0 - bc, 0.0, 1.0))))


class Segmenter:
    """Stateful per-camera segmenter: feed frames in order, get person detections back."""

    def __init__(self, config: SegmentConfig, frame_shape: tuple[int, int]) -> None:
        """Create the background model.

        Args:
            config: segmentation knobs.
            frame_shape: ``(height, width)`` of the full-resolution frames.
        """
        self.config = config
        self.h, self.w = frame_shape
        self.sw = max(8, int(round(self.w * config.scale)))
        self.sh = max(8, int(round(self.h * config.scale)))
        self.fx = self.w / self.sw
        # INTER_AREA is fast only for integer factors (0.5, 0.25); elsewhere it costs several times linear.
        inv = 1.0 / config.scale
        self._interp = cv2.INTER_AREA if abs(inv - round(inv)) < 1e-6 else cv2.INTER_LINEAR
        self.fy = self.h / self.sh
        if config.method == "knn":
            self.bg: cv2.BackgroundSubtractor = cv2.createBackgroundSubtractorKNN(
                history=config.history, dist2Threshold=max(config.var_threshold * 25, 100.0),
                detectShadows=True)
        else:
            mog = cv2.createBackgroundSubtractorMOG2(
                history=config.history, varThreshold=config.var_threshold, detectShadows=True)
            mog.setNMixtures(3)  # a fixed street scene needs few modes; OpenCV's default 5 cost time
            self.bg = mog
        k = max(1, int(round(3 * config.scale / 0.5)))
        self._open = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
        # Tall closing kernel joins torso and legs split by a belt or a bag strap.
        self._close = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k + 2, 2 * k + 3))
        self.full_bg = FullResBackground(frame_shape) if config.refine else None
        self.hog: cv2.HOGDescriptor | None = None
        if config.hog:
            self.hog = cv2.HOGDescriptor()
            self.hog.setSVMDetector(np.asarray(cv2.HOGDescriptor.getDefaultPeopleDetector(), np.float32))
        self.learned: PersonMasks | None = PersonMasks() if config.silhouettes == "learned" else None
        self.frames = 0
        self.grey = False  # set on the first frame: a video without colour (see :func:`is_grey`)
        self.lighting_changes = 0
        self.last_fg: np.ndarray | None = None  # [sh, sw] low-res cleaned mask, for inspection

    def foreground(self, frame: np.ndarray) -> np.ndarray:
        """Low-resolution cleaned foreground ``[sh, sw]`` uint8 0/255 (shadows removed)."""
        small = cv2.resize(frame, (self.sw, self.sh), interpolation=self._interp)  # [sh, sw, 3]
        if self.frames == 1:
            self.grey = is_grey(small)
        raw = self.bg.apply(small)  # [sh, sw] 0 bg, 127 shadow, 255 fg
        # A shadow is told from a darker walker by its unchanged colour; a grey video has no colour,
        # so there every darker pixel would be a "shadow", a dark-clad walker included.
        _, fg = cv2.threshold(raw, 100 if self.grey else 200, 255, cv2.THRESH_BINARY)
        fg = cv2.morphologyEx(fg, cv2.MORPH_OPEN, self._open)
        fg = cv2.morphologyEx(fg, cv2.MORPH_CLOSE, self._close)
        return fg

    def __call__(self, frame: np.ndarray) -> list[Detection]:
        """Segment one BGR frame ``[h, w, 3]`` and return the person candidates in it."""
        cfg = self.config
        self.frames += 1
        fg = self.foreground(frame)
        self.last_fg = fg
        if self.full_bg is not None:
            self.full_bg.update(frame, fg, self.frames)
        if cv2.countNonZero(fg) > cfg.max_fg_frac * fg.size or self.frames < 3:
            # A global lighting change or the model's first frames: nothing here is a person.
            self.lighting_changes += self.frames >= 3
            return []
        n, labels, stats, _ = cv2.connectedComponentsWithStats(fg, connectivity=8)
        min_h_small = cfg.min_height_px / self.fy
        blobs: list[tuple[int, tuple[int, int, int, int], int]] = []
        for i in range(1, n):
            x, y, w, h, area = (int(v) for v in stats[i])
            if h < 0.6 * min_h_small or area < 0.15 * min_h_small * min_h_small / 3:
                continue  # specks: not even a fragment of a person
            blobs.append((i, (x, y, w, h), area))
        learned = self._learned_detections(frame, [b[1] for b in blobs]) if self.learned is not None else None
        dets: list[Detection] = []
        for k, (i, sbox, area) in enumerate(blobs):
            found = learned[k] if learned is not None else None
            dets.extend(found if found is not None else self._detection(frame, labels, i, sbox, area))
        return dets if self.learned is None else _without_duplicates(dets)

    def _learned_detections(self, frame: np.ndarray,
                            sboxes: list[tuple[int, int, int, int]]) -> list[list[Detection] | None]:
        """For each low-resolution blob, the person the learned model cuts around it; None where it
        sees nobody over the blob (the background model's own cut is used then). Blobs of one walker
        share a crop, and crops share model calls (:meth:`PersonMasks.many`)."""
        assert self.learned is not None
        blobs = [(int(x * self.fx), int(y * self.fy), int((x + w) * self.fx), int((y + h) * self.fy))
                 for x, y, w, h in sboxes]
        regions = [person_crop(b, (self.h, self.w)) for b in blobs]
        usable = [i for i, r in enumerate(regions) if r[2] - r[0] >= 8 and r[3] - r[1] >= 16]
        merged, owners = merge_regions([regions[i] for i in usable])
        owner: dict[int, int] = dict(zip(usable, owners, strict=True))  # blob -> its merged crop
        spans = [(self.w, 0) for _ in merged]  # the blobs' column range in each merged crop
        for i, k in owner.items():
            x0, lo, hi = merged[k][0], *spans[k]
            spans[k] = (min(lo, blobs[i][0] - x0), max(hi, blobs[i][2] - x0))
        probs = self.learned.many([np.ascontiguousarray(frame[y0:y1, x0:x1]) for x0, y0, x1, y1 in merged], spans)
        out: list[list[Detection] | None] = []
        for i, blob in enumerate(blobs):
            if i not in owner:
                out.append(None)
                continue
            x0, y0, _, _ = merged[owner[i]]
            mask = component_over(probs[owner[i]], (blob[0] - x0, blob[1] - y0, blob[2] - x0, blob[3] - y0))
            out.append(None if mask is None else self._detections_in(frame, mask, x0, y0))
        return out

    def _detection(self, frame: np.ndarray, labels: np.ndarray, label: int,
                   sbox: tuple[int, int, int, int], area: int) -> list[Detection]:
        x, y, w, h = sbox
        # Full-resolution box with a small margin for the refinement to find the true edge.
        mx, my = max(2, int(0.1 * w * self.fx)), max(2, int(0.05 * h * self.fy))
        X0 = max(0, int(x * self.fx) - mx)
        Y0 = max(0, int(y * self.fy) - my)
        X1 = min(self.w, int((x + w) * self.fx) + mx)
        Y1 = min(self.h, int((y + h) * self.fy) + my)
        if X1 - X0 < 4 or Y1 - Y0 < 8:
            return []
        blob = (labels[y:y + h, x:x + w] == label).astype(np.uint8) * 255  # [h, w] low-res
        # Upsample the blob into the margin box: bilinear then threshold smooths the staircase.
        coarse = np.zeros((Y1 - Y0, X1 - X0), dtype=np.uint8)  # [H, W] full-res
        bx0, by0 = int(x * self.fx) - X0, int(y * self.fy) - Y0
        bw, bh = int((x + w) * self.fx) - int(x * self.fx), int((y + h) * self.fy) - int(y * self.fy)
        up = cv2.resize(blob, (bw, bh), interpolation=cv2.INTER_LINEAR)  # [bh, bw]
        coarse[by0:by0 + bh, bx0:bx0 + bw] = up[: coarse.shape[0] - by0, : coarse.shape[1] - bx0]
        if self.full_bg is not None:
            mask = refine_box(frame, self.full_bg, (X0, Y0, X1, Y1), coarse, shadows=not self.grey)
        else:
            mask = (coarse > 127).astype(np.uint8)  # [H, W] 0/1
        return self._detections_in(frame, mask, X0, Y0)

    def _detections_in(self, frame: np.ndarray, mask: np.ndarray, X0: int, Y0: int) -> list[Detection]:
        """Person candidates in 0/1 ``mask`` whose top-left corner is frame pixel (X0, Y0)."""
        out: list[Detection] = []
        for a, b in split_columns(mask):
            part = mask[:, a:b]  # [H, w_part]
            rows = np.flatnonzero(part.any(axis=1))
            cols = np.flatnonzero(part.any(axis=0))
            if rows.size == 0:
                continue
            r0, r1, c0, c1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
            sub = np.ascontiguousarray(part[r0:r1, c0:c1])
            box = (X0 + a + c0, Y0 + r0, c1 - c0, r1 - r0)
            score = self._score(box, cv2.countNonZero(sub) / max(sub.size, 1))
            if score <= 0.0:
                continue
            if self.hog is not None and score >= 0.5 and not self._hog_ok(frame, box):
                score *= 0.3  # HOG sees no person: keep only as a weak detection
            foot = (box[0] + box[2] / 2.0, float(box[1] + box[3]))
            out.append(Detection(box=box, score=score, mask=sub, foot=foot,
                                 colour=colour_signature(frame, box, sub)))
        return out

    def _score(self, box: tuple[int, int, int, int], fill: float) -> float:
        """Shape plausibility of a single upright walker in [0, 1]; 0 rejects the blob."""
        cfg = self.config
        _, _, w, h = box
        if h > cfg.max_height_frac * self.h or w > 0.5 * self.w:
            return 0.0
        aspect = h / max(w, 1)
        if aspect > cfg.max_aspect * 1.5 or fill < 0.5 * cfg.min_fill:
            return 0.0
        s = 1.0
        # Fragments (legs only, a head above a parked car) are kept as weak detections, which the
        # tracker may use to bridge an existing track but never to start one.
        s *= min(1.0, h / cfg.min_height_px) ** 2
        if aspect < cfg.min_aspect:
            s *= max(0.0, aspect / cfg.min_aspect) ** 3
        if aspect > cfg.max_aspect:
            s *= cfg.max_aspect / aspect
        if fill < cfg.min_fill:
            s *= fill / cfg.min_fill
        return float(s)

    def _hog_ok(self, frame: np.ndarray, box: tuple[int, int, int, int]) -> bool:
        """True when HOG finds a person in a 64x128-normalised crop around ``box``."""
        assert self.hog is not None
        x, y, w, h = box
        pad_y, pad_x = int(0.15 * h), int(0.5 * w)
        crop = frame[max(0, y - pad_y):min(self.h, y + h + pad_y), max(0, x - pad_x):min(self.w, x + w + pad_x)]
        if crop.size == 0:
            return False
        scale = 128.0 / max(crop.shape[0], 1)
        crop = cv2.resize(crop, (max(64, int(crop.shape[1] * scale)), 128))  # [128, >=64, 3]
        found, _ = self.hog.detect(crop, hitThreshold=0.0)
        return len(found) > 0


def _without_duplicates(dets: list[Detection]) -> list[Detection]:
    """One detection per person: crops around two blobs of one walker (legs and torso apart) cut
    the same person twice; the larger cut stays."""
    kept: list[Detection] = []
    for d in sorted(dets, key=lambda d: -d.box[2] * d.box[3]):
        if all(overlaps(d.box, k.box) < 0.6 for k in kept):
            kept.append(d)
    return kept


def split_columns(mask: np.ndarray, depth: int = 0) -> list[tuple[int, int]]:
    """Column ranges of the walkers in a blob; two or more when people walk side by side.

    A blob much wider than a walker is cut at the deepest valley of its column profile over
    the upper body (heads and shoulders stay apart even when arms and legs touch), if the
    valley is well below both peaks beside it. Applied recursively to each side.

    Args:
        mask: ``[h, w]`` 0/1 blob. depth: recursion depth (internal).
    """
    h, w = mask.shape
    if depth > 2 or h < 16 or w < 0.6 * h:
        return [(0, w)]
    prof = mask[: int(0.55 * h)].sum(axis=0, dtype=np.float32)  # [w] upper-body column mass
    k = max(3, (w // 12) | 1)
    prof = np.convolve(prof, np.ones(k, np.float32) / k, mode="same")
    lo, hi = int(0.25 * w), int(0.75 * w)
    if hi - lo < 2:
        return [(0, w)]
    cut = lo + int(np.argmin(prof[lo:hi]))
    left, right = float(prof[:cut].max(initial=0.0)), float(prof[cut:].max(initial=0.0))
    if prof[cut] > 0.45 * min(left, right) or min(left, right) < 0.15 * h:
        return [(0, w)]
    return ([(a, b) for a, b in split_columns(mask[:, :cut], depth + 1)]
            + [(cut + a, cut + b) for a, b in split_columns(mask[:, cut:], depth + 1)])


class FullResBackground:
    """A full-resolution background image, kept by a running average over background pixels.

    Updated only every few frames, and only where the low-resolution model sees background,
    so walkers do not bleed into it; the cost is a fraction of a full-resolution MOG2.
    """

    def __init__(self, frame_shape: tuple[int, int], every: int = 4, alpha: float = 0.15) -> None:
        """Args: frame_shape ``(h, w)``; every: update period in frames; alpha: blend weight."""
        self.h, self.w = frame_shape
        self.every = every
        self.alpha = alpha
        self.image: np.ndarray | None = None  # [h, w, 3] uint8

    def update(self, frame: np.ndarray, fg_small: np.ndarray, index: int) -> None:
        """Blend ``frame`` into the background where ``fg_small`` (low-res 0/255) is background."""
        if self.image is None:
            self.image = frame.copy()
            return
        if index % self.every:
            return
        keep = cv2.resize(fg_small, (self.w, self.h), interpolation=cv2.INTER_NEAREST)  # [h, w]
        blended = cv2.addWeighted(self.image, 1.0 - self.alpha, frame, self.alpha, 0.0)  # [h, w, 3]
        cv2.copyTo(blended, cv2.bitwise_not(keep), self.image)


_SHADOW_LO, _SHADOW_HI = 0.45, 0.92  # brightness ratio of a cast shadow to the background
_DIFF_T = 22  # colour distance (max over channels) that counts as foreground
_K3 = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
_K5 = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))


def is_grey(image: np.ndarray) -> bool:
    """True when BGR ``image`` ``[h, w, 3]`` carries no colour (a monochrome camera, an IR night
    view): its channels differ by no more than compression noise."""
    b, g, r = (image[..., i].astype(np.int16) for i in range(3))
    return float(np.mean(np.abs(b - g) + np.abs(g - r))) < 2.0


def refine_box(frame: np.ndarray, bg: FullResBackground, box: tuple[int, int, int, int],
               coarse: np.ndarray, shadows: bool = True) -> np.ndarray:
    """Full-resolution silhouette inside ``box``.

    Args:
        frame: the BGR frame ``[h, w, 3]``.
        bg: the full-resolution background.
        box: ``(x0, y0, x1, y1)`` full-resolution corners of the region.
        coarse: ``[y1 - y0, x1 - x0]`` uint8 0..255, the low-resolution blob upsampled.
        shadows: remove cast shadows (False on grey video, where a shadow cannot be told from
            a darker person).

    Returns:
        ``[y1 - y0, x1 - x0]`` uint8 0/1 mask: pixels that differ from the background in colour,
        are not a cast shadow, and lie near the coarse blob; the blob's core fills colours that
        happen to match the background (a grey coat on grey pavement).
    """
    if bg.image is None:
        return (coarse > 127).astype(np.uint8)
    x0, y0, x1, y1 = box
    f = frame[y0:y1, x0:x1]  # [H, W, 3]
    b = bg.image[y0:y1, x0:x1]  # [H, W, 3]
    d = cv2.absdiff(f, b)  # [H, W, 3]
    hi = np.maximum(np.maximum(d[..., 0], d[..., 1]), d[..., 2]) > _DIFF_T  # [H, W]
    # A cast shadow darkens every channel by about the same factor: frame/background ratios
    # all in the shadow range and close to each other. Lit clothing breaks one or the other.
    ratio = cv2.divide(f, b, scale=1.0, dtype=cv2.CV_32F)  # [H, W, 3]; b == 0 gives 0, not shadow
    rmin = np.minimum(np.minimum(ratio[..., 0], ratio[..., 1]), ratio[..., 2])
    rmax = np.maximum(np.maximum(ratio[..., 0], ratio[..., 1]), ratio[..., 2])
    with np.errstate(invalid="ignore"):  # inf - inf where the background is black: not shadow
        shadow = (rmin > _SHADOW_LO) & (rmax < _SHADOW_HI) & (rmax - rmin < 0.12) & shadows
    near = cv2.dilate(coarse, _K5, iterations=2) > 0  # [H, W]
    core = cv2.erode(coarse, _K5) > 200
    return clean_silhouette(((hi & ~shadow & near) | core).astype(np.uint8))


def clean_silhouette(m: np.ndarray) -> np.ndarray:
    """The frames worker's clean-up of a raw foreground mask ``[H, W]`` uint8 0/1 -> 0/1.

    Opening and closing, a majority vote on the outline, and specks dropped. The simulator runs
    its corrupted masks through this same function, so that synthetic silhouettes break the way
    the product's real ones do (``gaitline eval noise`` compares the two).
    """
    m = cv2.morphologyEx(m, cv2.MORPH_OPEN, _K3)
    m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, _K5)
    # A 5x5 majority vote smooths ragged edges (pixel noise against the background) into an
    # outline, which is what a silhouette should be and also what codes compactly. (A box
    # filter and a threshold: medianBlur does the same, much slower on these small crops.)
    m = (cv2.blur(m * 255, (5, 5)) > 127).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    if n <= 2:
        return m
    # Keep the body and its detached parts (a head over a dark collar), drop specks around it.
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = np.flatnonzero(areas >= 0.2 * areas.max()) + 1
    if len(keep) == 1:
        return (labels == keep[0]).astype(np.uint8)
    return np.isin(labels, keep).astype(np.uint8)

