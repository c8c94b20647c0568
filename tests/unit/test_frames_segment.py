"""Segmentation by the background model: a walker on a static background is found at full
resolution; cars and lighting changes are not people. (These drawn scenes hold no real person
for the learned segmenter to see: tests/integration/test_learned_silhouettes_vtest.py checks it
on real video.)"""

from __future__ import annotations

import numpy as np

from gait.vision.pretreatment import pretreat
from gait.vision.segment import SegmentConfig, Segmenter

H, W = 288, 384


def _scene(rng: np.random.Generator) -> np.ndarray:
    bg = np.full((H, W, 3), 110, np.uint8)
    bg[:, :, 1] = 140
    return np.clip(bg.astype(np.int16) + rng.integers(-3, 4, bg.shape), 0, 255).astype(np.uint8)


def _person(img: np.ndarray, x: int, y: int, h: int = 90) -> None:
    w = h // 4
    img[y - h:y - h + h // 7, x - w // 4:x + w // 4] = (60, 80, 170)  # head
    img[y - h + h // 7:y - h // 2, x - w // 2:x + w // 2] = (40, 40, 200)  # torso
    img[y - h // 2:y, x - w // 2:x - 2] = (30, 30, 30)  # legs
    img[y - h // 2:y, x + 2:x + w // 2] = (30, 30, 30)


def test_walker_detected_with_full_resolution_box() -> None:
    rng = np.random.default_rng(0)
    seg = Segmenter(SegmentConfig(scale=0.5, min_height_px=30, silhouettes="mog2"), (H, W))
    for _ in range(30):
        seg(_scene(rng))
    dets = []
    for i in range(8):
        img = _scene(rng)
        _person(img, 100 + 6 * i, 250)
        dets = seg(img)
    assert len(dets) == 1
    (d,) = dets
    x, y, w, h = d.box
    assert abs(y + h - 250) <= 4 and abs(h - 90) <= 8 and d.score >= 0.5
    assert abs(d.foot[0] - 142) <= 6
    assert d.mask.shape == (h, w) and pretreat(d.mask) is not None


def test_car_shaped_blob_is_not_a_confident_person() -> None:
    rng = np.random.default_rng(1)
    seg = Segmenter(SegmentConfig(scale=0.5, silhouettes="mog2"), (H, W))
    for _ in range(30):
        seg(_scene(rng))
    img = _scene(rng)
    img[150:200, 60:260] = (200, 30, 30)  # a long low vehicle
    assert all(d.score < 0.5 for d in seg(img))


def test_global_lighting_change_yields_nothing() -> None:
    rng = np.random.default_rng(2)
    seg = Segmenter(SegmentConfig(scale=0.5, silhouettes="mog2"), (H, W))
    for _ in range(30):
        seg(_scene(rng))
    bright = np.clip(_scene(rng).astype(np.int16) + 90, 0, 255).astype(np.uint8)
    assert seg(bright) == []
    assert seg.lighting_changes == 1


def test_knn_background_model_also_works() -> None:
    rng = np.random.default_rng(3)
    seg = Segmenter(SegmentConfig(method="knn", scale=0.5, refine=False, silhouettes="mog2"), (H, W))
    for _ in range(30):
        seg(_scene(rng))
    img = _scene(rng)
    _person(img, 200, 260)
    dets = seg(img)
    assert len(dets) == 1 and dets[0].box[3] >= 80


def test_a_dark_walker_on_grey_video_is_not_taken_for_a_shadow() -> None:
    """Grey video has no colour to tell a shadow from a walker by: someone darker than the ground
    (every channel alike, as on a monochrome camera) must still be found whole."""
    rng = np.random.default_rng(4)
    grey = lambda img: np.repeat(img[..., 1:2], 3, axis=2)  # noqa: E731 - a monochrome camera
    seg = Segmenter(SegmentConfig(scale=0.5, min_height_px=30, silhouettes="mog2"), (H, W))
    for _ in range(30):
        seg(grey(_scene(rng)))
    dets = []
    for i in range(8):
        img = _scene(rng)
        h = 90
        img[250 - h:250, 100 + 6 * i:124 + 6 * i] = 95  # a grey coat and trousers, 0.68 x the ground
        dets = seg(grey(img))
    assert seg.grey
    assert len(dets) == 1 and abs(dets[0].box[3] - 90) <= 8 and dets[0].score >= 0.5


def test_colour_video_is_not_grey() -> None:
    from gait.vision.segment import is_grey

    rng = np.random.default_rng(5)
    assert not is_grey(_scene(rng))
    assert is_grey(np.repeat(_scene(rng)[..., :1], 3, axis=2))
