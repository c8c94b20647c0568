"""Pose for the portable mode: BlazePose keypoints of each track and the parameters they give.

After the frames stage has cut the tracks, one more pass over the recording runs the pose model
(:mod:`gait.vision.pose`) on a crop around each track's box on each frame a window holds; the
keypoints are smoothed per track and turned into gait parameters (:mod:`gait.vision.pose_parameters`)
over the whole track and per window, whose spread (median, interquartile range) the report gives.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gait.vision.gait_cycle import cycle_curves
from gait.vision.pose_parameters import Measure, joint_angles, pose_parameters
from streams.schemas import TrackletWindow


@dataclass
class TrackPose:
    """One track's keypoints: frame indices ``[n]``, timestamps ``[n]`` s, keypoints ``[n, 33, 3]``,
    and the video's frame size (width, height) px where known (its centre is the principal point
    the calibrated geometry needs)."""

    frames: np.ndarray
    timestamps: np.ndarray
    keypoints: np.ndarray
    frame_size: tuple[int, int] | None = None


def track_keypoints(video: Path, by_track: dict[int, list[TrackletWindow]]) -> dict[int, TrackPose]:
    """Smoothed keypoints of every track on every frame its windows cover (one decode pass).

    Args:
        video: the recording the windows were cut from.
        by_track: windows per track id (their ``boxes`` say where each walker is on each frame).
    """
    import cv2
    from tqdm import tqdm

    from gait.vision.pose import PoseEstimator, smooth_track

    wanted: dict[int, dict[int, tuple[tuple[int, int, int, int], float]]] = {}  # frame -> track -> (box, t)
    for tid, ws in by_track.items():
        for w in ws:
            for i, box, t in zip(_frame_indices(w), w.boxes, w.timestamps, strict=True):
                wanted.setdefault(i, {})[tid] = (box, t)
    raw: dict[int, dict[int, tuple[float, np.ndarray]]] = {tid: {} for tid in by_track}
    est = PoseEstimator()
    size: tuple[int, int] | None = None
    cap = cv2.VideoCapture(str(video))
    try:
        last = max(wanted) if wanted else -1
        with tqdm(total=sum(len(v) for v in wanted.values()), unit="crop", desc="pose", disable=None) as bar:
            i = 0
            while i <= last:
                ok, frame = cap.read()
                if not ok:
                    break
                size = (frame.shape[1], frame.shape[0])
                for tid, (box, t) in wanted.get(i, {}).items():
                    raw[tid][i] = (t, est(frame, box))
                    bar.update(1)
                i += 1
    finally:
        cap.release()
        est.close()
    out = {}
    for tid, per in raw.items():
        if not per:
            continue
        idx = np.array(sorted(per))
        ts = np.array([per[i][0] for i in idx])
        kp = np.stack([per[i][1] for i in idx])  # [n, 33, 3]
        out[tid] = TrackPose(idx, ts, smooth_track(kp, ts), size)
    return out


def _frame_indices(w: TrackletWindow) -> list[int]:
    """Frame index of each of a window's frames (frames where the track coasted are not in it:
    their indices follow from the timestamps)."""
    n = len(w.timestamps)
    if n == w.frame_end - w.frame_start + 1:
        return list(range(w.frame_start, w.frame_end + 1))
    t0, t1 = w.timestamps[0], w.timestamps[-1]
    span = max(t1 - t0, 1e-9)
    return [int(round(w.frame_start + (t - t0) / span * (w.frame_end - w.frame_start))) for t in w.timestamps]


def _spread(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"median": None, "q1": None, "q3": None, "windows": 0}
    q1, med, q3 = np.percentile(values, [25, 50, 75])
    return {"median": round(float(med), 3), "q1": round(float(q1), 3), "q3": round(float(q3), 3),
            "windows": len(values)}


STRETCH_S = 4.0  # a 30-frame window at 25 fps holds two steps; gait events need three or more


def principal_point(tp: TrackPose) -> tuple[float, float] | None:
    """The image centre of the track's video, where its size is known."""
    return None if tp.frame_size is None else (tp.frame_size[0] / 2, tp.frame_size[1] / 2)


def pose_summary(tp: TrackPose, ws: list[TrackletWindow], homography: np.ndarray | None) -> dict[str, Any]:
    """The track's keypoint parameters: over the whole track, and their spread over its windows
    (each window widened to :data:`STRETCH_S` seconds of the track around its middle).

    Args:
        tp: the track's keypoints.
        ws: its windows, in time order (their silhouette cadence is the cross-check).
        homography: the camera's image->ground ``[3, 3]`` or None.
    """
    cads = [w.gait.cadence_spm for w in ws if w.gait.cadence_spm is not None]
    pp = principal_point(tp)
    whole = pose_parameters(tp.keypoints, tp.timestamps, homography,
                            float(np.median(cads)) if cads else None, pp)
    per_window: dict[str, list[float]] = {}
    for w in ws:
        mid = (w.timestamps[0] + w.timestamps[-1]) / 2
        sel = np.abs(tp.timestamps - mid) <= STRETCH_S / 2
        if int(sel.sum()) < 8:
            continue
        res = pose_parameters(tp.keypoints[sel], tp.timestamps[sel], homography, w.gait.cadence_spm, pp)
        for name, m in res["params"].items():
            if isinstance(m, Measure) and m.value is not None:
                per_window.setdefault(name, []).append(float(m.value))
    seen = np.isfinite(tp.keypoints[:, 23:29, 0]).all(axis=1)  # hips, knees and ankles found
    params = {name: {**m.as_dict(), "over_windows": _spread(per_window.get(name, []))}
              for name, m in whole["params"].items()}
    return {"view": whole["view"], "view_source": whole["view_source"], "view_angle_deg": whole["view_angle_deg"],
            "breadth_ratio": whole["breadth_ratio"], "frames": len(tp.frames),
            "frames_with_legs": int(seen.sum()), "params": params}


def plot_pose(tid: int, tp: TrackPose, path: Path, fps: float) -> None:
    """Joint angles over time (left against right) and over the gait cycle, one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ang = joint_angles(tp.keypoints)
    curves = cycle_curves(tp.keypoints, tp.timestamps)
    t = tp.frames / fps  # s from the start of the video
    fig, ax = plt.subplots(2, 3, figsize=(12, 6.5))
    for col, joint in enumerate(("hip", "knee", "ankle")):
        for side, colour in (("left", "tab:blue"), ("right", "tab:red")):
            ax[0, col].plot(t, ang[f"{joint}_{side}"], ".-", color=colour, markersize=2, label=side)
            if curves is not None:
                ax[1, col].plot(np.linspace(0, 100, len(curves[f"{joint}_{side}"])), curves[f"{joint}_{side}"],
                                "-", color=colour, label=side)
        ax[0, col].set(title=f"{joint} {'dorsiflexion' if joint == 'ankle' else 'flexion'}",
                       xlabel="video time (s)", ylabel="degrees")
        ax[1, col].set(title=f"{joint} over the gait cycle" if curves is not None else "no gait cycle seen",
                       xlabel="% of the cycle (from the heel strike)", ylabel="degrees")
        ax[0, col].legend(fontsize=7)
    fig.suptitle(f"track {tid}: joint angles from keypoints ({len(tp.frames)} frames)")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
