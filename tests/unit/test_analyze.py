"""Portable analysis: bad input is one clear error; the gallery file round-trips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gaitline.errors import GaitlineError
from workers.analyze import analyze_recording as analyze
from workers.analyze import load_gallery, save_gallery
from workers.exceptions import AnalyzeError


def test_missing_and_unreadable_video(tmp_path: Path) -> None:
    with pytest.raises(AnalyzeError, match="does not exist"):
        analyze(tmp_path / "none.avi", gallery=None, out=tmp_path / "o", enrol=None, model="baseline",
                track=None, threshold=0.85)
    junk = tmp_path / "junk.avi"
    junk.write_bytes(b"\x00" * 100)
    with pytest.raises(GaitlineError, match="cannot be decoded"):
        analyze(junk, gallery=None, out=tmp_path / "o", enrol=None, model="baseline", track=None, threshold=0.85)
    with pytest.raises(AnalyzeError, match="--enrol needs --gallery"):
        analyze(junk, gallery=None, out=tmp_path / "o", enrol="x", model="baseline", track=None, threshold=0.85)


def test_gallery_roundtrip_and_bad_file(tmp_path: Path) -> None:
    path = tmp_path / "g.npz"
    assert load_gallery(path)["names"] == []
    vec = np.eye(2, 4, dtype=np.float32)
    save_gallery(path, {"names": ["ann", "bob"], "vectors": vec, "model": "default", "model_version": "abc"})
    g = load_gallery(path)
    assert g["names"] == ["ann", "bob"] and g["model"] == "default" and np.array_equal(g["vectors"], vec)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"nope")
    with pytest.raises(AnalyzeError):
        load_gallery(bad)


def test_zero_length_and_truncated_videos(tmp_path: Path, vtest_video: Path) -> None:
    """An empty file is one clear error (exit 2 on the command line); a recording cut off in the
    middle (a camera's disk filled up) is analysed as far as it decodes, and nothing is invented."""
    import subprocess
    import sys

    from workers.analyze import collect_windows, network_for, probe_video

    empty = tmp_path / "empty.avi"
    empty.write_bytes(b"")
    res = subprocess.run([sys.executable, "-m", "gaitline", "analyze", str(empty), "--out", str(tmp_path / "o"),
                          "--model", "baseline"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and "cannot be decoded" in res.stderr + res.stdout
    assert "Traceback" not in res.stderr and len((res.stderr + res.stdout).strip().splitlines()) == 1
    cut = tmp_path / "cut.avi"
    data = vtest_video.read_bytes()
    cut.write_bytes(data[: len(data) // 4])  # the first quarter of the file, ending mid-frame
    fps, total = probe_video(cut)
    by_track, stats = collect_windows(network_for(cut, fps), total)
    assert 0 < stats.frames < 795 and stats.per_camera["video"]["error"] is None
    assert all(w.frame_end < stats.frames for ws in by_track.values() for w in ws)
