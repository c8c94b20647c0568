"""Pose plumbing without the model: crops, the one-euro filter, leg-swap repair, track smoothing."""

from __future__ import annotations

import numpy as np

from gait.vision import pose as bp
from gait.vision.pose import fix_swaps, one_euro, pose_crop, smooth_track


def test_pose_crop_is_a_square_around_the_box_clipped_to_the_frame() -> None:
    x0, y0, x1, y1 = pose_crop((100, 100, 40, 100), (576, 768))
    assert abs((x1 - x0) - (y1 - y0)) <= 1 and (x1 - x0) >= 100 * bp.MARGIN - 1
    assert x0 <= 100 and x1 >= 140 and y0 <= 100 and y1 >= 200
    assert abs((x0 + x1) / 2 - 120) <= 1 and abs((y0 + y1) / 2 - 150) <= 1
    assert pose_crop((0, 500, 40, 100), (576, 768))[0] == 0 and pose_crop((0, 500, 40, 100), (576, 768))[3] == 576


def test_one_euro_smooths_noise_keeps_nan_and_follows_a_ramp() -> None:
    rng = np.random.default_rng(0)
    t = np.arange(200) / 25.0
    still = 50 + rng.normal(0, 2, 200)
    out = one_euro(still, t)
    assert np.std(out[20:]) < 0.6 * np.std(still[20:])
    x = still.copy()
    x[50:55] = np.nan
    out = one_euro(x, t)
    assert np.isnan(out[50:55]).all() and np.isfinite(out[55:]).all()
    ramp = 100.0 * t  # a fast limb: 100 px/s
    lag = ramp - one_euro(ramp, t)
    assert abs(lag[-1]) < 8.0  # under 0.08 s behind


def _frames(n: int) -> np.ndarray:
    kp = np.full((n, 33, 3), np.nan, np.float32)
    kp[..., 2] = 1.0
    for i in range(n):
        for j, dx in zip(bp._LEFT, (0, 10, 20, 18, 30), strict=True):
            kp[i, j, :2] = (100 + dx + i, 100 + 20 * dx)
        for j, dx in zip(bp._RIGHT, (0, -10, -20, -22, -10), strict=True):
            kp[i, j, :2] = (100 + dx + i, 100 + 20 * abs(dx))
    return kp


def test_fix_swaps_relabels_a_frame_whose_legs_the_model_swapped() -> None:
    kp = _frames(6)
    bad = kp.copy()
    bad[3, np.r_[bp._LEFT, bp._RIGHT]] = kp[3, np.r_[bp._RIGHT, bp._LEFT]]
    fixed = fix_swaps(bad)
    assert np.allclose(fixed, kp, equal_nan=True)
    assert np.allclose(fix_swaps(kp), kp, equal_nan=True)  # nothing to fix: unchanged


def test_smooth_track_drops_unseen_points_and_keeps_shape() -> None:
    kp = _frames(30)
    kp[:, :, :2] += np.random.default_rng(1).normal(0, 1.5, (30, 33, 2)).astype(np.float32)
    kp[10, bp.KNEE_L, 2] = 0.1  # barely seen
    out = smooth_track(kp, np.arange(30) / 25.0)
    assert out.shape == kp.shape and out.dtype == np.float32
    assert np.isnan(out[10, bp.KNEE_L, :2]).all() and out[10, bp.KNEE_L, 2] == np.float32(0.1)
    assert np.isfinite(out[11:, bp.KNEE_L, :2]).all()
