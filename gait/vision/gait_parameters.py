"""Gait parameters of one window: cadence, speed, step and stride length.

Cadence comes from the silhouette itself: the width of the legs peaks at every step (both
feet apart) and narrows when they pass, so the lower-body width oscillates at the step
frequency. Speed comes from the ground-plane foot points (a straight-line fit over time is
robust to the jitter of a segmented foot); step length = speed / step frequency and a stride
is two steps.
"""

from __future__ import annotations

import numpy as np

from streams.schemas import GaitParams

# Human walking cadence spans ~70-160 steps/min; outside this band a peak is noise or running.
MIN_SPM = 70.0
MAX_SPM = 160.0
# The step + stride lines must hold this share of the power from the slowest stride rate up to
# count as periodic. A higher share measures fewer windows, a little more accurately; 0.3 keeps
# coverage (`gaitline eval params` reports both against a simulated city's truth).
MIN_PEAK_SHARE = 0.3
MAX_SPEED_MPS = 4.0
# A walking step is 0.2-1.2 m (long-legged adults at a brisk 2 m/s reach ~0.95 m); a length
# outside that means the speed or the cadence is wrong, and no length is reported.
MIN_STEP_M, MAX_STEP_M = 0.2, 1.2


def leg_width(silhouettes: np.ndarray) -> np.ndarray:
    """Width in pixels of the lowest 30 % (shins, feet) of each silhouette ``[n, 64, 44]`` → ``[n]``."""
    n, h, _ = silhouettes.shape
    legs = silhouettes[:, int(h * 0.7):, :] != 0  # [n, rows, 44] shins and feet, below the hands
    cols = legs.any(axis=1)  # [n, 44]
    has = cols.any(axis=1)  # [n]
    left = np.argmax(cols, axis=1)  # [n]
    right = cols.shape[1] - np.argmax(cols[:, ::-1], axis=1)  # [n]
    return np.where(has, right - left, 0).astype(np.float64)


def cadence_spm(silhouettes: np.ndarray, ok: np.ndarray, timestamps: np.ndarray) -> float | None:
    """Steps per minute from the periodic leg width, or None when no clear period shows.

    The legs are widest at every step, so the width repeats at the step rate; but seen at an
    angle the left and right steps differ, and the width then also repeats at the stride rate
    (half the cadence), often more strongly. The strongest line between the slowest stride
    and the fastest step rate is taken as either a step line ``f`` (backed by a stride line at
    ``f/2``) or a stride line (backed by a step line at ``2f``), whichever pair holds more
    power; the pair must hold ``MIN_PEAK_SHARE`` of the signal.

    Args:
        silhouettes: ``[n, 64, 44]`` 0/1 window.
        ok: ``[n]`` bool, frames whose silhouette is plausible (others are interpolated).
        timestamps: ``[n]`` seconds.
    """
    n = len(timestamps)
    if n < 8 or int(ok.sum()) < max(8, n // 2):
        return None
    duration = float(timestamps[-1] - timestamps[0])
    if duration <= 0:
        return None
    fs = (n - 1) / duration
    if fs < 2.2 * MAX_SPM / 60.0 * 0.8:
        return None  # frame rate too low to see individual steps
    w = leg_width(silhouettes)  # [n]
    idx = np.arange(n)
    w = np.interp(idx, idx[ok], w[ok])  # [n] fill implausible frames
    w = w - np.polyval(np.polyfit(idx, w, 1), idx)  # remove drift (turning, scale change)
    w = w * np.hanning(n)
    nfft = 1 << int(np.ceil(np.log2(n * 8)))  # zero-pad for a fine frequency grid
    power = np.abs(np.fft.rfft(w, nfft)) ** 2  # [nfft / 2 + 1]
    freqs = np.fft.rfftfreq(nfft, d=1.0 / fs) * 60.0  # lines per minute
    top = min(MAX_SPM, fs * 30.0)  # below Nyquist
    lines = (freqs >= MIN_SPM / 2) & (freqs <= top)  # stride rates and step rates
    total = float(power[freqs >= MIN_SPM / 2 - 5].sum())
    if not lines.any() or total <= 0:
        return None
    k = int(np.argmax(np.where(lines, power, -1.0)))
    if k == 0 or k + 1 >= len(power) or power[k] < power[k - 1] or power[k] < power[k + 1]:
        return None  # the maximum sits on the range's edge: the real line lies outside walking
    f0 = float(freqs[k])
    options = []  # (power of the step + stride pair, cadence)
    if MIN_SPM <= f0 <= top:  # f0 is the step line
        options.append((_line_power(power, k) + _near(power, freqs, f0 / 2)[0], f0))
    if MIN_SPM <= 2 * f0 <= top:  # f0 is the stride line
        p2, f2 = _near(power, freqs, 2 * f0)
        options.append((_line_power(power, k) + p2, f2))
    if not options:
        return None
    pair, cad = max(options)
    return cad if pair / total >= MIN_PEAK_SHARE else None


def _line_power(power: np.ndarray, k: int) -> float:
    """Power of the spectral line at bin ``k`` (the zero-padded grid spreads a line over ~9 bins)."""
    return float(power[max(0, k - 4):k + 5].sum())


def _near(power: np.ndarray, freqs: np.ndarray, f: float, tol: float = 0.06) -> tuple[float, float]:
    """(power, frequency) of the strongest line within ``tol`` of ``f``; (0, f) when out of range."""
    m = (freqs >= f * (1 - tol)) & (freqs <= f * (1 + tol))
    if not m.any():
        return 0.0, f
    i = int(np.flatnonzero(m)[np.argmax(power[m])])
    return _line_power(power, i), float(freqs[i])


def speed_mps(foot_points: np.ndarray, timestamps: np.ndarray) -> float | None:
    """Walking speed from ground-plane foot points ``[n, 2]`` (metres) over ``timestamps`` ``[n]``."""
    n = len(timestamps)
    if n < 3 or float(timestamps[-1] - timestamps[0]) <= 0:
        return None
    t = timestamps - timestamps[0]
    vx = np.polyfit(t, foot_points[:, 0], 1)[0]
    vy = np.polyfit(t, foot_points[:, 1], 1)[0]
    v = float(np.hypot(vx, vy))
    return v if np.isfinite(v) and v <= MAX_SPEED_MPS else None


def gait_params(silhouettes: np.ndarray, ok: np.ndarray, timestamps: np.ndarray,
                foot_points: np.ndarray, ground_plane: bool) -> GaitParams:
    """All gait parameters of one window.

    Args:
        silhouettes: ``[n, 64, 44]`` 0/1.
        ok: ``[n]`` bool, plausible frames.
        timestamps: ``[n]`` seconds.
        foot_points: ``[n, 2]``; metres on the ground when ``ground_plane`` else image pixels.
        ground_plane: whether ``foot_points`` are metric (speed and lengths need it).
    """
    ts = np.asarray(timestamps, dtype=np.float64)
    cad = cadence_spm(silhouettes, np.asarray(ok, dtype=bool), ts)
    speed = speed_mps(np.asarray(foot_points, dtype=np.float64), ts) if ground_plane else None
    step = stride = None
    if cad is not None and speed is not None and cad > 0:
        length = speed / (cad / 60.0)
        if MIN_STEP_M <= length <= MAX_STEP_M:
            step, stride = length, 2.0 * length
    return GaitParams(cadence_spm=cad, speed_mps=speed, step_length_m=step, stride_length_m=stride)
