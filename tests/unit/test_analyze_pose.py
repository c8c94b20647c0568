"""The portable mode's pose summary: whole-track parameters and their spread over windows."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sim import body
from sim.camera import PinholeCamera
from sim.keypoints import keypoints, world_pose
from tests.factories import tracklet_window
from workers.analyze_pose import TrackPose, _frame_indices, plot_pose, pose_summary


def _track(fps: float = 25.0, seconds: float = 4.0) -> TrackPose:
    ident = body.draw_identity(np.random.default_rng(2))
    t = np.arange(0, seconds, 1 / fps)
    cam = PinholeCamera.look_at(np.array([3.0, -8.0, 1.6]), np.array([3.0, 0.0, 0.9]), 700, 384, 288)
    return TrackPose(np.arange(len(t)), 1.7e9 + t, keypoints(world_pose(ident, t), cam))


def test_summary_has_whole_track_values_and_window_spread(tmp_path: Path) -> None:
    tp = _track()
    ws = [tracklet_window(30, 25.0, t0=1.7e9 + k * 15 / 25.0, frame_start=k * 15) for k in range(5)]
    s = pose_summary(tp, ws, None)
    assert s["view"] == "side" and s["frames"] == 100 and s["frames_with_legs"] == 100
    knee = s["params"]["knee_left_range_deg"]
    assert knee["value"] is not None and knee["over_windows"]["windows"] == 5
    assert knee["over_windows"]["q1"] <= knee["over_windows"]["median"] <= knee["over_windows"]["q3"]
    cad = s["params"]["cadence_disagreement_pct"]  # the windows' silhouette cadence is 110
    assert cad["value"] is not None
    assert s["params"]["step_width_m"]["value"] is None and s["params"]["step_width_m"]["reason"]
    plot_pose(1, tp, tmp_path / "p.png", 25.0)
    assert (tmp_path / "p.png").stat().st_size > 10_000


def test_frame_indices_of_a_window_with_a_coasting_gap() -> None:
    w = tracklet_window(4, 10.0, t0=0.0, frame_start=10, frame_end=14, timestamps=[0.0, 0.1, 0.3, 0.4])
    assert _frame_indices(w) == [10, 11, 13, 14]
    assert _frame_indices(tracklet_window(3, 10.0, frame_start=5)) == [5, 6, 7]
