"""`gaitline bench frames` on the first frames of vtest.avi: the stage and its baseline, one run."""

import json
from pathlib import Path

from typer.testing import CliRunner

from gaitline.cli.bench import app


def test_frames_bench_measures_the_stage_against_decode_plus_mog2(vtest_video: Path, tmp_path: Path) -> None:
    dest = tmp_path / "frames.json"
    res = CliRunner().invoke(app, ["frames", "--json", "--video", str(vtest_video), "--max-frames", "40",
                                   "--out", str(dest)])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output.strip().splitlines()[-1])
    assert out["frames"] >= 40 and out["fps_per_core"] > 0 and out["decode_plus_full_res_bgsub_fps"] > 0
    ratio = out["fps_per_core"] / out["decode_plus_full_res_bgsub_fps"]
    assert abs(out["vs_decode_plus_full_res_bgsub"] - ratio) <= 0.01 * ratio + 0.01
    assert out["settings"]["silhouettes"] == "learned"  # the default
    assert out["compared"]["silhouettes"] == "mog2" and out["compared"]["frames"] == out["frames"]
    assert out["compared"]["fps_per_core"] > 0
    saved = json.loads(dest.read_text())
    assert saved["bench"] == "frames" and saved["result"] == out and "cpu_model" in saved["host"]
