"""Pretreatment follows the field's 64x44 convention."""

from __future__ import annotations

import numpy as np

from gait.vision.pretreatment import HEIGHT, WIDTH, pretreat, pretreat_many


def _person(h: int = 120, w: int = 40, frame: tuple[int, int] = (300, 400), x0: int = 100,
            y0: int = 50) -> np.ndarray:
    m = np.zeros(frame, dtype=np.uint8)
    m[y0:y0 + h, x0:x0 + w] = 255
    m[y0:y0 + h // 5, x0:x0 + w // 2] = 0  # asymmetric head: the centre is not the box centre
    return m


def test_shape_dtype_and_binary() -> None:
    s = pretreat(_person())
    assert s is not None
    assert s.shape == (HEIGHT, WIDTH) and s.dtype == np.uint8
    assert set(np.unique(s)) <= {0, 1}


def test_rows_cropped_to_body_and_height_filled() -> None:
    s = pretreat(_person(y0=170, h=100))
    assert s is not None
    rows = np.flatnonzero(s.any(axis=1))
    assert rows[0] == 0 and rows[-1] == HEIGHT - 1


def test_translation_invariant_and_centred_on_median() -> None:
    a = pretreat(_person(x0=10, y0=5))
    b = pretreat(_person(x0=300, y0=150))
    assert a is not None and b is not None
    assert np.array_equal(a, b)
    mass = a.sum(axis=0).cumsum()
    centre = int(np.searchsorted(mass, mass[-1] / 2, side="right"))
    assert abs(centre - WIDTH // 2) <= 1


def test_scale_invariant_roughly() -> None:
    small = pretreat(_person(h=60, w=20))
    big = pretreat(_person(h=240, w=80))
    assert small is not None and big is not None
    assert np.mean(small != big) < 0.05


def test_implausible_masks_rejected() -> None:
    assert pretreat(np.zeros((50, 50), np.uint8)) is None
    assert pretreat(np.zeros((0, 0), np.uint8)) is None
    wide = np.zeros((100, 300), np.uint8)
    wide[40:60, 10:290] = 1  # a car-like stripe
    assert pretreat(wide) is None
    tiny = np.zeros((100, 100), np.uint8)
    tiny[10:15, 10:12] = 1
    assert pretreat(tiny) is None


def test_pretreat_many_marks_failures() -> None:
    sils, ok = pretreat_many([_person(), np.zeros((10, 10), np.uint8)])
    assert sils.shape == (2, HEIGHT, WIDTH)
    assert ok.tolist() == [True, False]
    assert sils[1].sum() == 0
