"""``gaitline bench embed --json`` in-process: the last line is the figure's JSON object, and the
result file holds it with the host (torch's threads included). The allocator, fixed when a
process starts, is checked in tests/integration/test_bench_embed.py."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from gaitline.cli.bench import app


def test_bench_embed_json_line_and_result_file(tmp_path: Path) -> None:
    dest = tmp_path / "embed.json"
    res = CliRunner().invoke(app, ["embed", "--json", "--no-table", "--profile", "tiny", "--batch", "2",
                                   "--seconds", "0.05", "--threads", "1", "--device", "cpu", "--out", str(dest)])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output.strip().splitlines()[-1])
    assert out["device"] == "cpu" and out["profile"] == "tiny" and out["batch"] == 2 and out["frames"] == 30
    assert out["windows_per_s"] > 0 and abs(out["ms_per_window"] * out["windows_per_s"] - 1000) < 50
    assert out["gflops_per_window"] > 0
    assert abs(out["achieved_gflops_per_s"]["cpu"] - out["gflops_per_window"] * out["windows_per_s"]) < 0.2
    saved = json.loads(dest.read_text())
    assert saved["bench"] == "embed" and saved["result"] == out
    assert saved["host"]["torch"]["imported"] and saved["host"]["torch"]["threads"] == 1
    assert {"cpu_model", "cpu_flags"} <= set(saved["host"])


def test_flops_per_window_follow_the_window_and_the_model() -> None:
    from bench.embed import flops_per_window

    tiny30, tiny15 = flops_per_window("tiny", 30), flops_per_window("tiny", 15)
    # the backbone runs once per frame: half the frames, about half the work (pooling and head are small)
    assert 0.45 < tiny15 / tiny30 < 0.6
    assert flops_per_window("default") > 2 * tiny30  # a wider network costs more per window
