"""Multi-object tracker: confirmation, crossing walkers, occlusion bridging, re-link."""

from __future__ import annotations

import numpy as np

from gait.vision.segment import Detection
from workers.frames.tracker import Tracker, TrackerConfig, to_ground


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


def _dressed(x: float, y: float, top: tuple[int, int, int], bottom: tuple[int, int, int],
             h: int = 90) -> Detection:
    """A detection whose pixels are a walker in a ``top`` and ``bottom`` colour (BGR)."""
    from gait.vision.segment import colour_signature

    w = h // 3
    frame = np.zeros((h, w, 3), np.uint8)
    frame[: h // 2] = top
    frame[h // 2:] = bottom
    mask = np.ones((h, w), np.uint8)
    return Detection(box=(int(x - w / 2), int(y - h), w, h), score=0.9, mask=mask, foot=(x, y),
                     colour=colour_signature(frame, (0, 0, w, h), mask))


RED, BLUE, GREEN, GREY = (30, 30, 200), (200, 60, 30), (40, 180, 40), (128, 128, 128)


def test_colour_signature_tells_outfits_apart_and_needs_enough_pixels() -> None:
    from gait.vision.segment import colour_distance, colour_signature

    a, b, a2 = _dressed(0, 100, RED, BLUE), _dressed(0, 100, BLUE, RED), _dressed(0, 100, RED, BLUE, h=60)
    assert a.colour is not None and a.colour.shape == (2, 32) and np.allclose(a.colour.sum(axis=1), 1)
    assert colour_distance(a.colour, a2.colour) < 0.05  # same outfit at another size
    assert colour_distance(a.colour, b.colour) > 0.9 and colour_distance(b.colour, a.colour) > 0.9
    frame = np.zeros((12, 4, 3), np.uint8)
    assert colour_signature(frame, (0, 0, 4, 12), np.ones((12, 4), np.uint8)) is None  # too few pixels


def test_walkers_who_meet_and_turn_back_keep_their_ids() -> None:
    # motion alone predicts they walk through each other and swaps them; their clothes do not
    for colours, expect_kept in ((True, True), (False, False)):
        tr = Tracker(TrackerConfig())
        frames = []
        for i in range(50):
            xa = 100 + 6 * min(i, 48 - i)  # left walker: right until x = 244, then back left
            xb = 392 - 6 * min(i, 48 - i)  # right walker: left until x = 248, then back right
            if colours:
                frames.append([_dressed(xa, 300, RED, BLUE), _dressed(xb, 300, GREEN, GREY)])
            else:
                frames.append([_det(xa, 300), _det(xb, 300)])
        res = _run(tr, frames)
        first = {tid: foot[0] for tid, foot in res[5].items()}
        last = {tid: foot[0] for tid, foot in res[-1].items() if foot is not None}
        left_id = min(first, key=first.get)
        kept = left_id in last and last[left_id] == min(last.values())
        assert kept == expect_kept, (colours, first, last)


def test_someone_else_entering_where_a_walker_left_is_not_relinked() -> None:
    for outfit, gate, relinked in (((RED, BLUE), 0.6, 1), ((GREEN, GREY), 0.6, 0), ((GREEN, GREY), 1.0, 1)):
        tr = Tracker(TrackerConfig(max_lost_s=0.5, relink_s=3.0, colour_gate=gate))
        frames = [[_dressed(100 + 8 * i, 300, RED, BLUE)] if i < 10 else
                  ([_dressed(100 + 8 * i, 300, *outfit)] if i >= 20 else []) for i in range(30)]
        res = _run(tr, frames)
        assert tr.relinks == relinked
        assert len({tid for r in res for tid in r}) == 2 - relinked
