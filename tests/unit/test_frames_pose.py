"""Keypoints in the frames stage (GAITLINE_FRAMES_POSE): packed per window, absent by default."""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from configs.schema import load_network
from sim.city import plan_city
from sim.cityrender import render_city
from streams.pose import decode, encode
from streams.schemas import TrackletWindow
from tests.factories import tracklet_window
from workers.frames.cameras import run_cameras
from workers.frames.pose_stage import PoseStage
from workers.frames.settings import FramesSettings


def _fake_estimator(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    kp = np.full((33, 3), np.nan, np.float32)
    x, y, w, h = box
    kp[23:33] = (x + w / 2, y + h * 0.5, 0.9)  # hips .. toes at the box's middle
    kp[[11, 12]] = (x + w / 2, y + h * 0.2, 0.9)
    kp[[27, 28]] = (x + w * 0.3, y + h * 0.95, 0.8)
    return kp


def test_pose_round_trips_through_the_wire_within_a_pixel() -> None:
    w = tracklet_window(30, 25.0, t0=1.7e9, boxes=[(100 + i, 50, 40, 100) for i in range(30)])
    kp = np.stack([_fake_estimator(np.zeros(1), b) for b in w.boxes])
    kp[3, 27] = np.nan  # not found on one frame
    sent = w.model_copy(update={"pose": encode(kp, w.boxes)})
    got = TrackletWindow.from_bytes(sent.to_bytes())
    back = decode(got.pose, got.boxes)
    assert back.shape == (30, 33, 3) and np.isnan(back[3, 27, 0]) and np.isnan(back[:, 0]).all()
    ok = np.isfinite(kp[:, :, 0]) & np.isfinite(back[:, :, 0])
    assert np.abs(back[ok][:, :2] - kp[ok][:, :2]).max() < 0.6 and np.abs(back[ok][:, 2] - kp[ok][:, 2]).max() < 0.01
    assert len(got.pose.data) == 30 * 12 * 3


def test_a_window_without_pose_carries_no_pose_field() -> None:
    raw = tracklet_window(30, 25.0, t0=1.7e9).to_bytes()
    assert b'"pose"' not in raw  # readers from before the field read it unchanged
    with pytest.raises(ValueError, match="pose has 2 frames"):
        w = tracklet_window(30, 25.0, t0=1.7e9)
        TrackletWindow.model_validate({**w.model_dump(), "silhouettes": w.silhouettes,
                                       "pose": encode(np.zeros((2, 33, 3)), w.boxes[:2])})


def test_pose_stage_attaches_the_frames_keypoints_smoothed() -> None:
    stage = PoseStage(window=30, max_gap=3, estimator=_fake_estimator)
    w = tracklet_window(30, 25.0, t0=1.7e9, track_id=7, boxes=[(10 + 2 * i, 20, 30, 90) for i in range(30)])
    for t, box in zip(w.timestamps, w.boxes, strict=True):
        det = SimpleNamespace(box=box)
        stage.add(np.zeros((10, 10, 3), np.uint8), t, [SimpleNamespace(id=7, detection=det),
                                                       SimpleNamespace(id=8, detection=None)])
    out = stage.attach(w)
    kp = decode(out.pose, out.boxes)
    assert np.isfinite(kp[:, 23, 0]).all() and abs(kp[-1, 23, 0] - (10 + 2 * 29 + 15)) < 3  # smoothing lags a little
    other = tracklet_window(30, 25.0, t0=1.6e9, track_id=7)
    assert stage.attach(other).pose is None  # frames the stage never saw: no pose rather than a wrong one


def test_frames_stage_with_pose_on_gives_windows_with_keypoints(tmp_path: Path) -> None:
    city = tmp_path / "c"
    render_city(plan_city(1, 3, 10.0, 5, fps=10), city)
    net = load_network(city / "network.yaml")
    out: list[TrackletWindow] = []
    run_cameras(net, ["cam1"], FramesSettings(pose=True), out.append, threading.Event())
    assert out, "the simulated walkers should give windows"
    assert all(w.pose is not None and w.pose.frames == len(w.timestamps) for w in out)
    kp = decode(out[0].pose, out[0].boxes)
    assert np.isfinite(kp[:, 23:29, 0]).any()  # the model found legs on some frames
    plain: list[TrackletWindow] = []
    run_cameras(net, ["cam1"], FramesSettings(), plain.append, threading.Event())
    assert plain and all(w.pose is None for w in plain)
