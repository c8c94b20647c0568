"""Joint-angle curves over the gait cycle (the report's "left against right" plots).

Each side's cycle runs from its own heel strike to the next (:func:`gait_events`); the curves
are averaged over the cycles seen well enough.
"""

from __future__ import annotations

import numpy as np

from gait.vision.pose_parameters import gait_events, joint_angles


def cycle_curves(kp: np.ndarray, timestamps: np.ndarray, bins: int = 25) -> dict[str, np.ndarray] | None:
    """Mean joint-angle curves over the gait cycle, each side's cycle from its own heel strike to
    the next, resampled onto ``bins`` points: ``{hip,knee,ankle}_{left,right}`` → ``[bins]`` degrees
    (NaN where no cycle of that side was seen well enough); None without two strikes of a foot."""
    ev = gait_events(kp, timestamps)
    if ev is None:
        return None
    angles = joint_angles(kp)
    out = {}
    for side, strikes in (("left", ev.left), ("right", ev.right)):
        for joint in ("hip", "knee", "ankle"):
            a = angles[f"{joint}_{side}"]
            cycles = []
            for i0, i1 in zip(strikes, strikes[1:], strict=False):
                seg = a[i0:i1 + 1]
                u = np.linspace(0, 1, len(seg))
                ok = np.isfinite(seg)
                if int(ok.sum()) >= max(4, len(seg) // 2):  # resample each cycle onto the bins
                    cycles.append(np.interp((np.arange(bins) + 0.5) / bins, u[ok], seg[ok]))
            out[f"{joint}_{side}"] = np.mean(cycles, axis=0) if cycles else np.full(bins, np.nan)
    return out if len(ev.left) >= 2 or len(ev.right) >= 2 else None
