"""Gait parameters: cadence from the leg width signal, speed and step length from the ground."""

from __future__ import annotations

import numpy as np

from gait.vision.gait_parameters import cadence_spm, gait_params, leg_width


def _walker(n: int, fps: float, spm: float) -> np.ndarray:
    sils = np.zeros((n, 64, 44), np.uint8)
    f = spm / 60.0  # steps per second: legs apart once per step
    for i in range(n):
        sils[i, 2:40, 16:28] = 1
        spread = int(round(6 * abs(np.sin(np.pi * f * i / fps))))
        sils[i, 40:64, 19 - spread:22 - spread] = 1
        sils[i, 40:64, 22 + spread:25 + spread] = 1
    return sils


def test_leg_width_follows_spread() -> None:
    w = leg_width(_walker(10, 25.0, 120.0))
    assert w.shape == (10,) and w.max() - w.min() >= 8


def test_cadence_recovered_at_25_and_10_fps() -> None:
    for fps, spm in ((25.0, 110.0), (10.0, 100.0)):
        n = 30 if fps == 10 else 60
        ts = np.arange(n) / fps
        cad = cadence_spm(_walker(n, fps, spm), np.ones(n, bool), ts)
        assert cad is not None and abs(cad - spm) < 0.08 * spm, (fps, cad)


def test_no_cadence_without_periodic_motion() -> None:
    n = 30
    sils = np.zeros((n, 64, 44), np.uint8)
    sils[:, 2:64, 16:28] = 1
    assert cadence_spm(sils, np.ones(n, bool), np.arange(n) / 10.0) is None


def test_speed_step_and_stride_on_the_ground() -> None:
    n, fps = 30, 10.0
    ts = 1.7e9 + np.arange(n) / fps
    feet = np.c_[1.3 * (ts - ts[0]), np.zeros(n)] + np.random.default_rng(0).normal(0, 0.03, (n, 2))
    g = gait_params(_walker(n, fps, 100.0), np.ones(n, bool), ts, feet, ground_plane=True)
    assert g.speed_mps is not None and abs(g.speed_mps - 1.3) < 0.1
    assert g.cadence_spm is not None and g.step_length_m is not None and g.stride_length_m is not None
    assert abs(g.step_length_m - g.speed_mps / (g.cadence_spm / 60)) < 1e-9
    assert abs(g.stride_length_m - 2 * g.step_length_m) < 1e-9


def test_no_metric_speed_without_calibration() -> None:
    n = 30
    ts = np.arange(n) / 10.0
    g = gait_params(_walker(n, 10.0, 100.0), np.ones(n, bool), ts, np.c_[ts * 50, ts], ground_plane=False)
    assert g.speed_mps is None and g.step_length_m is None and g.cadence_spm is not None


def _oblique_walker(n: int, fps: float, spm: float) -> np.ndarray:
    """Seen at an angle: one leg's step spreads the legs far more than the other's."""
    sils = np.zeros((n, 64, 44), np.uint8)
    f = spm / 60.0
    for i in range(n):
        phase = np.pi * f * i / fps  # one step per pi
        amp = 7 if int(phase // np.pi) % 2 == 0 else 2
        spread = int(round(amp * abs(np.sin(phase))))
        sils[i, 2:40, 16:28] = 1
        sils[i, 40:64, 19:22] = 1
        sils[i, 40:64, 22 + spread:25 + spread] = 1
    return sils


def test_cadence_of_an_oblique_walker_is_the_step_rate_not_the_stride_rate() -> None:
    for fps, spm in ((10.0, 112.0), (25.0, 120.0)):
        n = 30 if fps == 10 else 60
        w = leg_width(_oblique_walker(n, fps, spm)).astype(float)
        spec = np.abs(np.fft.rfft((w - w.mean()) * np.hanning(n), 1024)) ** 2
        peak = np.fft.rfftfreq(1024, 1 / fps)[np.argmax(spec[1:]) + 1] * 60
        assert abs(peak - spm / 2) < 0.15 * spm  # the strongest line is the stride rate
        cad = cadence_spm(_oblique_walker(n, fps, spm), np.ones(n, bool), np.arange(n) / fps)
        assert cad is not None and abs(cad - spm) < 0.08 * spm, (fps, cad)


def test_implausible_step_length_is_not_reported() -> None:
    n, fps = 30, 10.0
    ts = np.arange(n) / fps
    feet = np.c_[3.5 * ts, np.zeros(n)]  # 3.5 m/s at 100 steps/min would be 2.1 m steps
    g = gait_params(_walker(n, fps, 100.0), np.ones(n, bool), ts, feet, ground_plane=True)
    assert g.speed_mps is not None and g.cadence_spm is not None
    assert g.step_length_m is None and g.stride_length_m is None
