"""Multi-object tracker: confirmation, crossing walkers, occlusion bridging, re-link."""

from __future__ import annotations

import numpy as np

from gait.segment import Detection
from workers.tracker import Tracker, TrackerConfig, to_ground


def _det(x: float, y: float, h: int = 100, score: float = 0.9) -> Detection:
    w = h // 3
    return Detection(box=(int(x - w / 2), int(y - h), w, h), score=score,
                     mask=np.ones((h, w), np.uint8), foot=(x, y))


def _run(tr: Tracker, frames: list[list[Detection]], fps: float = 10.0) -> list[dict[int, tuple]]:
    out = []
    for i, dets in enumerate(frames):
        tracks = tr.update(dets, i / fps)
        out.append({t.id: (t.detection.foot if t.detection else None) for t in tracks})
    return out


def test_confirmation_needs_consecutive_hits() -> None:
    tr = Tracker(TrackerConfig(min_hits=3))
    res = _run(tr, [[_det(100 + 5 * i, 300)] for i in range(5)])
    assert res[0] == {} and res[1] == {}
    assert len(res[2]) == 1 and len(res[4]) == 1


def test_crossing_walkers_keep_their_ids() -> None:
    tr = Tracker(TrackerConfig())
    frames = [[_det(100 + 10 * i, 300), _det(400 - 10 * i, 310)] for i in range(30)]
    res = _run(tr, frames)
    # who is at the left at the start must be at the right at the end
    first = {tid: foot[0] for tid, foot in res[5].items()}
    last = {tid: foot[0] for tid, foot in res[-1].items()}
    left_id = min(first, key=first.get)
    assert set(first) == set(last)
    assert last[left_id] == max(last.values())


def test_short_occlusion_is_bridged() -> None:
    tr = Tracker(TrackerConfig(max_lost_s=1.0))
    frames = [[_det(100 + 8 * i, 300)] if not 10 <= i < 15 else [] for i in range(25)]
    res = _run(tr, frames)
    ids = {tid for r in res for tid in r}
    assert len(ids) == 1
    assert res[12][next(iter(ids))] is None  # coasting while hidden


def test_weak_detections_never_start_tracks_but_keep_them() -> None:
    tr = Tracker(TrackerConfig())
    res = _run(tr, [[_det(100, 300, score=0.2)] for _ in range(6)])
    assert all(r == {} for r in res)
    tr = Tracker(TrackerConfig())
    frames = [[_det(100 + 8 * i, 300, score=0.9 if i < 6 else 0.2)] for i in range(12)]
    res = _run(tr, frames)
    assert all(foot is not None for foot in res[-1].values()) and len(res[-1]) == 1


def test_fragment_relinks_after_long_gap() -> None:
    tr = Tracker(TrackerConfig(max_lost_s=0.5, relink_s=3.0))
    frames = [[_det(100 + 8 * i, 300)] if not 10 <= i < 20 else [] for i in range(30)]
    res = _run(tr, frames)
    ids = {tid for r in res for tid in r}
    assert len(ids) == 1
    assert tr.relinks == 1


def test_far_new_walker_is_not_relinked() -> None:
    tr = Tracker(TrackerConfig(max_lost_s=0.5, relink_s=3.0))
    frames = [[_det(100 + 8 * i, 300)] if i < 10 else ([_det(600, 100 + i)] if i >= 20 else [])
              for i in range(30)]
    res = _run(tr, frames)
    assert len({tid for r in res for tid in r}) == 2
    assert tr.relinks == 0


def test_ground_plane_tracking_in_metres() -> None:
    h = np.array([[0.01, 0, 0], [0, 0.01, 0], [0, 0, 1.0]])  # 1 px = 1 cm
    tr = Tracker(TrackerConfig(), homography=h)
    _run(tr, [[_det(100 + 12 * i, 300)] for i in range(20)])  # 1.2 m/s at 10 fps
    (t,) = tr.tracks
    assert abs(float(np.hypot(*t.x[2:])) - 1.2) < 0.1
    np.testing.assert_allclose(to_ground(h, np.array([[100.0, 300.0]])), [[1.0, 3.0]])
