"""The report's figures, as matplotlib figures: the HTML embeds them as PNG, the PDF places them on pages.

Each function draws one track's figure from its windows (and keypoints, where pose ran) and
returns the :class:`matplotlib.figure.Figure`; nothing here writes files.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from streams.schemas import TrackletWindow

LEFT, RIGHT = "tab:blue", "tab:red"


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # no display on servers and laptops in the field
    import matplotlib.pyplot as plt

    return plt


def png(fig: Any, dpi: int = 90) -> bytes:
    """The figure as PNG bytes; the figure is closed."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    _plt().close(fig)
    return buf.getvalue()


def silhouette_over_time(ws: list[TrackletWindow], fps: float) -> Any:
    """Cadence, speed, step and stride length of each window over the video's time."""
    plt = _plt()
    t = [(w.frame_start + w.frame_end) / 2 / fps for w in ws]  # s from the video's start

    def series(name: str) -> list[float]:
        return [np.nan if getattr(w.gait, name) is None else float(getattr(w.gait, name)) for w in ws]

    fig, ax = plt.subplots(1, 3, figsize=(11, 2.8))
    ax[0].plot(t, series("cadence_spm"), "o-", markersize=3)
    ax[0].set(title="cadence (silhouette)", xlabel="video time (s)", ylabel="steps/min")
    ax[1].plot(t, series("speed_mps"), "o-", color="tab:green", markersize=3)
    ax[1].set(title="speed", xlabel="video time (s)", ylabel="m/s")
    ax[2].plot(t, series("step_length_m"), "o-", label="step", markersize=3)
    ax[2].plot(t, series("stride_length_m"), "s-", label="stride", markersize=3)
    ax[2].set(title="step / stride length", xlabel="video time (s)", ylabel="m")
    ax[2].legend(fontsize=7)
    if not ws[0].ground_plane:
        for a in ax[1:]:
            a.text(0.5, 0.5, "needs a calibrated camera", ha="center", va="center", transform=a.transAxes,
                   color="grey")
    fig.tight_layout()
    return fig


def joint_angles(tp: Any, fps: float, homography: np.ndarray | None = None) -> Any:
    """Hip, knee and ankle angles over the video's time (top) and over the gait cycle (bottom),
    left against right; on a calibrated camera measured on the sagittal plane, as the parameters are."""
    from gait.vision.gait_cycle import cycle_curves
    from gait.vision.pose_geometry import sagittal_view
    from gait.vision.pose_parameters import joint_angles as angles_of

    plt = _plt()
    size = getattr(tp, "frame_size", None)
    geo = sagittal_view(tp.keypoints, homography, None if size is None else (size[0] / 2, size[1] / 2))
    kp = geo[2] if geo is not None and geo[2] is not None else tp.keypoints
    ang = angles_of(kp)
    curves = cycle_curves(kp, tp.timestamps)
    t = tp.frames / fps
    fig, ax = plt.subplots(2, 3, figsize=(11, 5.2))
    for col, joint in enumerate(("hip", "knee", "ankle")):
        for side, colour in (("left", LEFT), ("right", RIGHT)):
            ax[0, col].plot(t, ang[f"{joint}_{side}"], ".-", color=colour, markersize=2, linewidth=0.8, label=side)
            if curves is not None:
                ax[1, col].plot(np.linspace(0, 100, len(curves[f"{joint}_{side}"])), curves[f"{joint}_{side}"],
                                "-", color=colour, label=side)
        what = "dorsiflexion" if joint == "ankle" else "flexion"
        ax[0, col].set(title=f"{joint} {what} over time", xlabel="video time (s)", ylabel="degrees")
        ax[1, col].set(title=f"{joint} over the gait cycle" if curves is not None else "no gait cycle seen",
                       xlabel="% of the cycle from the heel strike", ylabel="degrees")
        ax[0, col].legend(fontsize=7)
        if curves is not None:
            ax[1, col].legend(fontsize=7)
    fig.tight_layout()
    if geo is not None and geo[0] == "frontal":  # the parameters withhold these; the picture says why
        fig.subplots_adjust(top=0.9)
        fig.suptitle("frontal view over the whole track: the legs swing along the line of sight, these angles "
                     "are foreshortened (the parameters leave them out)", color="tab:red", fontsize=9)
    return fig


def ground_track(ws: list[TrackletWindow], tp: Any | None, homography: np.ndarray | None) -> Any:
    """The foot trajectory on the ground (metres on a calibrated camera, image pixels otherwise),
    with each heel's ground points where pose ran on a calibrated camera."""
    from workers.analyze_pose import _frame_indices

    plt = _plt()
    by_frame: dict[int, tuple[float, float]] = {}
    for w in ws:  # windows overlap: each frame once, in time order
        for f, p in zip(_frame_indices(w), w.foot_points, strict=True):
            by_frame.setdefault(f, p)
    pts = np.array([by_frame[f] for f in sorted(by_frame)], dtype=float)  # [frames, 2]
    fig, ax = plt.subplots(figsize=(5.2, 4.2))
    ax.plot(pts[:, 0], pts[:, 1], "-", color="grey", linewidth=1, label="silhouette foot point")
    ax.plot(pts[:1, 0], pts[:1, 1], "o", color="black", markersize=5, label="start")
    if tp is not None and homography is not None and ws[0].ground_plane:
        from gait.vision.pose import HEEL_L, HEEL_R

        h = np.asarray(homography, np.float64)
        for j, colour, side in ((HEEL_L, LEFT, "left heel"), (HEEL_R, RIGHT, "right heel")):
            xy = tp.keypoints[:, j, :2].astype(np.float64)
            ok = np.isfinite(xy).all(axis=1) & (tp.keypoints[:, j, 2] >= 0.5)
            if ok.any():
                g = np.c_[xy[ok], np.ones(int(ok.sum()))] @ h.T
                g = g[:, :2] / g[:, 2:3]
                ax.plot(g[:, 0], g[:, 1], ".", color=colour, markersize=2, label=side)
    metres = ws[0].ground_plane
    ax.set(title="foot trajectory on the ground" if metres else "foot trajectory in the image",
           xlabel="x (m)" if metres else "x (px)", ylabel="y (m)" if metres else "y (px)")
    if metres:
        ax.set_aspect("equal", adjustable="datalim")
    else:
        ax.invert_yaxis()
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def thumbnail_strip(ws: list[TrackletWindow], count: int = 12) -> Any:
    """``count`` silhouettes spread evenly over the track, left to right in time, titled with their
    frame numbers (windows overlap: each frame once)."""
    from workers.analyze_pose import _frame_indices

    plt = _plt()
    by_frame: dict[int, np.ndarray] = {}
    for w in ws:
        for f, sil in zip(_frame_indices(w), w.silhouettes, strict=True):
            by_frame.setdefault(f, sil)
    frames = sorted(by_frame)
    pick = np.unique(np.linspace(0, len(frames) - 1, min(count, len(frames))).round().astype(int))
    fig, ax = plt.subplots(1, len(pick), figsize=(0.8 * len(pick), 1.5), squeeze=False)
    for a, k in zip(ax[0], pick, strict=True):
        a.imshow(by_frame[frames[k]], cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
        a.set_title(f"{frames[k]}", fontsize=6)
        a.axis("off")
    fig.subplots_adjust(left=0.01, right=0.99, top=0.85, bottom=0.02, wspace=0.08)
    return fig
