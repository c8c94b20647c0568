"""The analyst's report: one synthetic recording (a simulated walker's windows and exact keypoints)
gives an HTML with every section and a valid PDF."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from sim import body
from sim.camera import PinholeCamera
from sim.keypoints import keypoints, world_pose
from streams.schemas import GaitParams
from tests.factories import tracklet_window
from workers.analyze_pose import TrackPose, pose_summary
from workers.report import parameter_rows, write_report

FPS = 25.0


def _recording(tmp_path: Path) -> tuple[Path, dict, dict, dict]:
    """A 6 s side-view walker: windows with silhouettes and foot points, its exact keypoints."""
    ident = body.draw_identity(np.random.default_rng(4))
    t = np.arange(0, 6.0, 1 / FPS)
    cam = PinholeCamera.look_at(np.array([3.0, -8.0, 1.6]), np.array([3.0, 0.0, 0.9]), 700, 384, 288)
    tp = TrackPose(np.arange(len(t)), 1.7e9 + t, keypoints(world_pose(ident, t), cam))
    rng = np.random.default_rng(0)
    ws = []
    for k in range(9):
        sil = (rng.random((30, 64, 44)) < 0.3).astype(np.uint8)
        ws.append(tracklet_window(30, FPS, t0=1.7e9 + k * 15 / FPS, frame_start=k * 15, track_id=3,
                                  foot_points=[(0.05 * (k * 15 + i), 0.02 * np.sin(i / 3)) for i in range(30)],
                                  gait=GaitParams(cadence_spm=108.0 + k, speed_mps=1.3, step_length_m=0.7,
                                                  stride_length_m=1.4), silhouettes=sil))
    video = tmp_path / "walker.avi"
    video.write_bytes(b"not really a video, but bytes to hash" * 100)
    per = [{"t_s": (w.frame_start + w.frame_end) / 2 / FPS, **w.gait.model_dump()} for w in ws]
    entry = {"track_id": 3, "windows": len(ws), "frame_start": 0, "frame_end": ws[-1].frame_end, "quality": 0.9,
             "per_window": per, "pose": pose_summary(tp, ws, None),
             "match": {"name": "alice", "similarity": 0.91, "accepted": True}}
    report = {"fps": FPS, "frames": 150, "model": "default", "model_version": "7", "threshold": 0.68,
              "threshold_source": "calibrated into the model's checkpoint", "calibrated": False,
              "network": "analyze", "pose": True, "gallery": "g.npz", "seconds": 1.0, "tracks": [entry]}
    return video, report, {3: ws}, {3: tp}


def test_html_report_has_every_section(tmp_path: Path) -> None:
    video, report, by_track, poses = _recording(tmp_path)
    path = write_report("html", tmp_path / "r.html", video, report, by_track, poses)
    html = path.read_text()
    import hashlib

    assert hashlib.sha256(video.read_bytes()).hexdigest() in html and "walker.avi" in html
    for section in ('id="recording"', 'id="tracks"', 'id="track-3"', "Gallery match", "alice", "Parameters",
                    "Joint angles over time and over the gait cycle", "Foot trajectory", "0.680"):
        assert section in html, section
    # thumbnails, over time, joint angles, ground: four inlined PNGs, each a real image
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(images) == 4 and all(len(i) > 2000 for i in images)
    # the spread: the silhouette cadence's IQR over the 9 windows (108..116) and a knee range
    assert "110.00–114.00" in html
    assert re.search(r"knee flexion range, left</td><td class=\"n\">\d+\.\d\d", html)
    assert "camera not calibrated" in html  # a parameter that is not measurable says why


def test_pdf_report_is_a_valid_pdf_with_pages_per_track(tmp_path: Path) -> None:
    video, report, by_track, poses = _recording(tmp_path)
    path = write_report("pdf", tmp_path / "r.pdf", video, report, by_track, poses)
    data = path.read_bytes()
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    assert len(re.findall(rb"/Type\s*/Page\b", data)) == 3  # the recording, the track's table, its plots


def test_parameter_rows_give_spread_or_the_reason() -> None:
    entry = {"per_window": [{"cadence_spm": v, "speed_mps": None, "step_length_m": None, "stride_length_m": None}
                            for v in (100.0, 110.0, 120.0)],
             "pose": {"params": {"step_width_m": {"value": None, "unit": "m", "confidence": 0.0,
                                                  "reason": "side view", "over_windows": {"windows": 0}}}}}
    rows = {r["name"]: r for r in parameter_rows(entry)}
    assert rows["cadence_spm"]["median"] == pytest.approx(110.0) and rows["cadence_spm"]["q1"] == pytest.approx(105.0)
    assert rows["speed_mps"]["median"] is None and "calibrated" in rows["speed_mps"]["note"]
    assert rows["step_width_m"]["median"] is None and rows["step_width_m"]["note"] == "side view"
