"""A walker seen for less than a window still gets one window, of every frame seen, when the
track ends with enough of them; a shorter glimpse gets none."""

from __future__ import annotations

import numpy as np

from configs.schema import Camera
from gait.vision.segment import Detection
from streams.schemas import TrackletWindow
from workers.frames.sources import Frame
from workers.frames.tracker import Track
from workers.frames.windows import WindowBuilder


def _walk(builder: WindowBuilder, frames: int, track_id: int = 7, start: int = 0) -> None:
    """A track seen for ``frames`` frames, then gone."""
    mask = np.zeros((80, 30), np.uint8)
    mask[5:75, 8:22] = 1  # an upright walker
    for i in range(start, start + frames):
        det = Detection(box=(10 + i, 20, 30, 80), score=1.0, mask=mask, foot=(25.0 + i, 100.0))
        t = Track(id=track_id, x=np.zeros(4), p=np.eye(4), box=det.box, confirmed=True, detection=det)
        builder.add(Frame(index=i, timestamp=1000.0 + i / 25, image=np.zeros((1, 1, 3), np.uint8)), [t], False)
    builder.add(Frame(index=start + frames, timestamp=1000.0, image=np.zeros((1, 1, 3), np.uint8)), [], False)


def _builder(out: list[TrackletWindow], min_window: int | None) -> WindowBuilder:
    return WindowBuilder(Camera(id="c", source="x.avi", region="r", fps=25.0), window=30, stride=15,
                         min_quality=0.7, max_gap=3, emit=out.append, on_drop=lambda r: None,
                         min_window=min_window)


def test_a_short_crossing_gets_one_window_of_every_frame_seen() -> None:
    out: list[TrackletWindow] = []
    _walk(_builder(out, 20), 24)
    assert len(out) == 1 and out[0].silhouettes.shape == (24, 64, 44)
    assert out[0].frame_start == 0 and out[0].frame_end == 23


def test_a_glimpse_shorter_than_the_smallest_window_gets_none() -> None:
    out: list[TrackletWindow] = []
    _walk(_builder(out, 20), 19)
    assert out == []


def test_without_short_windows_only_full_ones_are_cut() -> None:
    out: list[TrackletWindow] = []
    _walk(_builder(out, None), 24)
    assert out == []
    _walk(_builder(out, None), 40, track_id=8)
    assert [w.silhouettes.shape[0] for w in out] == [30]


def test_a_long_walk_is_not_cut_again_at_its_end() -> None:
    """The frames after a track's last full window are already mostly in that window."""
    out: list[TrackletWindow] = []
    _walk(_builder(out, 20), 52)
    assert [w.silhouettes.shape[0] for w in out] == [30, 30]  # at frames 29 and 44; nothing at the end


def test_the_end_of_the_video_emits_the_short_run_of_a_track_still_seen() -> None:
    out: list[TrackletWindow] = []
    b = _builder(out, 20)
    mask = np.zeros((80, 30), np.uint8)
    mask[5:75, 8:22] = 1
    for i in range(22):
        det = Detection(box=(10 + i, 20, 30, 80), score=1.0, mask=mask, foot=(25.0 + i, 100.0))
        t = Track(id=3, x=np.zeros(4), p=np.eye(4), box=det.box, confirmed=True, detection=det)
        b.add(Frame(index=i, timestamp=1000.0 + i / 25, image=np.zeros((1, 1, 3), np.uint8)), [t], False)
    assert out == []
    b.flush()
    assert len(out) == 1 and out[0].silhouettes.shape[0] == 22
