"""The analyst's report on real footage: the first 20 s of vtest.avi through `gaitline analyze --report`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import cv2
from typer.testing import CliRunner

from gait.model.calibration import calibrated_threshold
from gaitline.cli.main import app

FRAMES = 170  # the background model needs ~100 frames; pose on what follows keeps this near a minute


def _head(video: Path, out: Path, frames: int) -> Path:
    cap = cv2.VideoCapture(str(video))
    fps = cap.get(cv2.CAP_PROP_FPS) or 10.0
    ok, frame = cap.read()
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"MJPG"), fps, (frame.shape[1], frame.shape[0]))
    n = 0
    while ok and n < frames:
        writer.write(frame)
        n += 1
        ok, frame = cap.read()
    writer.release()
    cap.release()
    return out


def test_analyze_writes_an_html_and_a_pdf_report_of_real_walkers(vtest_video: Path, tmp_path: Path) -> None:
    # a copy named otherwise than vtest.avi: no shipped calibration applies, as for a new recording
    video = _head(vtest_video, tmp_path / "street.avi", FRAMES)
    res = CliRunner().invoke(app, ["analyze", str(video), "--out", str(tmp_path / "a"), "--report", "html"])
    assert res.exit_code == 0, res.output
    report = json.loads((tmp_path / "a" / "report.json").read_text())
    assert report["threshold"] == calibrated_threshold("default")  # the model's, not a constant
    assert report["tracks"], "vtest's walkers should give tracks"
    html = (tmp_path / "a" / "report.html").read_text()
    for section in ('id="recording"', 'id="tracks"', "SHA-256", "street.avi", "Parameters",
                    "Joint angles over time and over the gait cycle", "Foot trajectory"):
        assert section in html, section
    assert len(re.findall(r'src="data:image/png;base64,', html)) >= 4
    # pose ran: some track has joint-angle ranges with a value
    assert any(t.get("pose", {}).get("params", {}).get("knee_left_range_deg", {}).get("value") is not None
               or t.get("pose", {}).get("params", {}).get("knee_right_range_deg", {}).get("value") is not None
               for t in report["tracks"])
    pdf = tmp_path / "r.pdf"
    res = CliRunner().invoke(app, ["analyze", str(video), "--out", str(tmp_path / "b"), "--no-pose",
                                   "--report", "pdf", "--report-out", str(pdf)])
    assert res.exit_code == 0, res.output
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-") and len(re.findall(rb"/Type\s*/Page\b", data)) >= 3


def test_a_bad_report_format_is_one_line_and_exit_2(vtest_video: Path, tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["analyze", str(vtest_video), "--report", "docx"])
    assert res.exit_code == 2 and "html or pdf" in res.output
    res = CliRunner().invoke(app, ["analyze", str(vtest_video), "--report-out", str(tmp_path / "x.pdf")])
    assert res.exit_code == 2 and "--report" in res.output
