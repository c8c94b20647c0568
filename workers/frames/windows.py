"""Per-track windows: buffer each confirmed track's frames and cut tracklets.v1 windows.

A window holds ``window`` consecutive observations of one track (frames where the track was
coasting through an occlusion are left out; a gap longer than ``max_gap`` restarts the buffer,
since gait needs a continuous walk). A walker seen for less than a window (a short crossing of a
close camera's view) still gets one window, of every frame seen, when the track ends with at
least ``min_window`` new frames: the model pools over a window's frames as a set, so its length
may vary. Each frame's silhouette is checked for temporal
consistency with the track (a box suddenly much shorter or wider is a merge with another
walker or a half-vanished body) and pretreated to 64x44; implausible frames become all-zero
silhouettes and lower the window's quality.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from configs.schema import Camera
from gait.vision.gait_parameters import gait_params
from gait.vision.pretreatment import HEIGHT, WIDTH, pretreat
from streams.schemas import TrackletWindow
from workers.frames.keyframe import crop_person, keyframe_jpeg
from workers.frames.sources import Frame
from workers.frames.tracker import Track

MIN_BOX_ASPECT = 1.25  # height / width below which a box is not one upright walker
_EMPTY = np.zeros((HEIGHT, WIDTH), dtype=np.uint8)  # [64, 44]


@dataclass
class Entry:
    """One observed frame of one track."""

    index: int
    timestamp: float
    box: tuple[int, int, int, int]
    foot: tuple[float, float]
    sil: np.ndarray | None
    truth: str | None
    crop: np.ndarray | None = None  # the person's pixels, only with the key-frame crop on


def _iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    ax1, ay1, bx1, by1 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    iw = max(0, min(ax1, bx1) - max(a[0], b[0]))
    ih = max(0, min(ay1, by1) - max(a[1], b[1]))
    inter = iw * ih
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def truth_of(box: tuple[int, int, int, int],
             truth: list[tuple[str, tuple[int, int, int, int]]] | None) -> str | None:
    """The ground-truth id whose box overlaps ``box`` best (IoU >= 0.3), or None."""
    if not truth:
        return None
    best, best_iou = None, 0.3
    for tid, tbox in truth:
        v = _iou(box, tbox)
        if v >= best_iou:
            best, best_iou = tid, v
    return best


def _middle_keyframe(entries: list[Entry]) -> bytes | None:
    """The JPEG of the crop nearest the window's middle, preferring frames with a plausible silhouette."""
    mid = len(entries) // 2
    order = sorted(range(len(entries)), key=lambda i: (entries[i].sil is None, abs(i - mid)))
    crop = next((entries[i].crop for i in order if entries[i].crop is not None), None)
    return None if crop is None else keyframe_jpeg(crop)


class _TrackBuffer:
    def __init__(self, window: int) -> None:
        self.entries: deque[Entry] = deque(maxlen=window)
        self.heights: deque[int] = deque(maxlen=15)
        self.widths: deque[int] = deque(maxlen=15)
        self.last_index = -1
        self.since_emit = 0


class WindowBuilder:
    """Turns per-frame confirmed tracks into windows and hands them to ``emit``."""

    def __init__(self, camera: Camera, window: int, stride: int, min_quality: float, max_gap: int,
                 emit: Callable[[TrackletWindow], None], on_drop: Callable[[str], None],
                 min_window: int | None = None, keyframe_crop: bool = False) -> None:
        """Args: camera: its config; window/stride: frames; min_quality: drop threshold;
        max_gap: frames a track may be unseen inside a window; emit: sink; on_drop(reason);
        min_window: fewest frames of the window a track that ends early still gets (None: ``window``,
        no short windows); keyframe_crop: attach a JPEG of the person in the middle frame."""
        self.camera = camera
        self.keyframe_crop = keyframe_crop
        self.window = window
        self.min_window = window if min_window is None else min(min_window, window)
        self.stride = stride
        self.min_quality = min_quality
        self.max_gap = max_gap
        self.emit = emit
        self.on_drop = on_drop
        self.buffers: dict[int, _TrackBuffer] = {}
        self.windows = 0
        self.dropped = 0

    def add(self, frame: Frame, tracks: list[Track], ground: bool) -> None:
        """Record this frame's observations of confirmed ``tracks`` and emit complete windows."""
        alive = set()
        for t in tracks:
            alive.add(t.id)
            det = t.detection
            if det is None:
                continue
            buf = self.buffers.get(t.id)
            if buf is None:
                buf = self.buffers[t.id] = _TrackBuffer(self.window)
            if buf.last_index >= 0 and frame.index - buf.last_index > self.max_gap + 1:
                self._emit_short(t.id, buf, ground)  # too long unseen: a window must be a continuous walk
                buf.entries.clear()
                buf.since_emit = 0
            buf.last_index = frame.index
            sil = self._silhouette(buf, det.box, det.mask)
            foot = (float(t.x[0]), float(t.x[1])) if ground else det.foot
            buf.entries.append(Entry(frame.index, frame.timestamp, det.box, foot, sil,
                                     truth_of(det.box, frame.truth),
                                     crop=crop_person(frame.image, det.box) if self.keyframe_crop else None))
            buf.since_emit += 1
            if len(buf.entries) == self.window and buf.since_emit >= self.stride:
                self._emit(t.id, list(buf.entries), ground)
                buf.since_emit = 0
        for tid in [k for k in self.buffers if k not in alive]:
            self._emit_short(tid, self.buffers.pop(tid), ground)  # the track died

    def _emit_short(self, track_id: int, buf: _TrackBuffer, ground: bool) -> None:
        """The run a track ends (or breaks) with, when no full window covered it and it is long
        enough to show a gait: a short crossing still gets its window."""
        if len(buf.entries) < self.window and buf.since_emit >= self.min_window:
            self._emit(track_id, list(buf.entries), ground)

    def _silhouette(self, buf: _TrackBuffer, box: tuple[int, int, int, int],
                    mask: np.ndarray) -> np.ndarray | None:
        """Pretreated silhouette, or None when the box breaks with the track's recent shape."""
        _, _, w, h = box
        ok = True
        if len(buf.heights) >= 5:
            mh = float(np.median(buf.heights))
            mw = float(np.median(buf.widths))
            # Sudden shrink = body partly lost; sudden growth/widening = merged with someone.
            ok = 0.75 * mh <= h <= 1.3 * mh and w <= 1.6 * mw + 4
        # A walker's box is clearly taller than wide; a squat box is two people side by side.
        ok = ok and h >= MIN_BOX_ASPECT * w
        buf.heights.append(h)
        buf.widths.append(w)
        return pretreat(mask) if ok else None

    def _emit(self, track_id: int, entries: list[Entry], ground: bool) -> None:
        ok = np.array([e.sil is not None for e in entries])  # [n]
        quality = float(ok.mean())
        if quality < self.min_quality:
            self.dropped += 1
            self.on_drop("quality")
            return
        sils = np.stack([e.sil if e.sil is not None else _EMPTY for e in entries])  # [n, 64, 44]
        ts = np.array([e.timestamp for e in entries])  # [n]
        feet = np.array([e.foot for e in entries])  # [n, 2]
        truths = Counter(e.truth for e in entries if e.truth is not None)
        first = entries[0].index
        gait = gait_params(sils, ok, ts, feet, ground)
        # The JSON header is half the message: round to what the measurements can tell
        # (10 ms, cm or 0.1 px) so a window stays within its ~3 KB budget.
        nd = 2 if ground else 1
        win = TrackletWindow(
            window_id=f"{self.camera.id}/{track_id}/{first}", camera_id=self.camera.id,
            track_id=track_id, region=self.camera.region, frame_start=first,
            frame_end=entries[-1].index, timestamps=[round(float(t), 2) for t in ts],
            foot_points=[(round(float(x), nd), round(float(y), nd)) for x, y in feet], ground_plane=ground,
            boxes=[e.box for e in entries], quality=round(quality, 3),
            gait=gait.model_copy(update={k: None if v is None else round(v, 3)
                                         for k, v in gait.model_dump().items()}),
            truth_id=truths.most_common(1)[0][0] if truths else None, silhouettes=sils,
            keyframe_jpeg=_middle_keyframe(entries) if self.keyframe_crop else None)
        self.windows += 1
        self.emit(win)

    def flush(self, ground: bool = False) -> None:
        """End of stream: full windows were emitted as soon as complete; each track's short run
        (see :meth:`_emit_short`) is emitted now."""
        for tid, buf in list(self.buffers.items()):
            self._emit_short(tid, buf, ground)
        self.buffers.clear()
