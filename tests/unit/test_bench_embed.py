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
                                   "--seconds", "0.05", "--rounds", "1", "--threads", "1", "--device", "cpu",
                                   "--out", str(dest)])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output.strip().splitlines()[-1])
    assert out["device"] == "cpu" and out["profile"] == "tiny" and out["batch"] == 2 and out["frames"] == 30
    assert out["windows_per_s"] > 0 and abs(out["ms_per_window"] * out["windows_per_s"] - 1000) < 50
    assert out["gflops_per_window"] > 0
    # ours and the baseline (the trained network, eager, fp32) timed in turns in this one run
    base = out["baseline"]
    assert (base["runtime"], base["precision"]) == ("eager", "float32") and base["windows_per_s"] > 0
    assert len(base["per_round"]) == 1 and out["runtime"] in ("fused", "int8")
    assert out["speedup"] == round(out["windows_per_s"] / base["windows_per_s"], 2)
    # the ISA each kernel library dispatched to, and how busy the shared machine was
    assert out["isa"]["requested"] == "native" and out["isa"]["aten"] and out["isa"]["onednn"]
    assert set(out["load_avg"]) == {"start_1m", "end_1m"}
    assert abs(out["achieved_gflops_per_s"]["cpu"] - out["gflops_per_window"] * out["windows_per_s"]) < 0.2
    saved = json.loads(dest.read_text())
    assert saved["bench"] == "embed" and saved["result"] == out
    assert saved["host"]["torch"]["imported"] and saved["host"]["torch"]["threads"] == 1
    assert {"cpu_model", "cpu_flags"} <= set(saved["host"])


def test_bad_isa_or_runtime_is_one_line_and_exit_2() -> None:
    for args in (["--isa", "avx9"], ["--runtime", "onnx"]):
        res = CliRunner().invoke(app, ["embed", "--no-table", "--no-save", *args])
        assert res.exit_code == 2 and "must be" in res.output and "Traceback" not in res.output


def test_flops_per_window_follow_the_window_and_the_model() -> None:
    from bench.embed import flops_per_window

    tiny30, tiny15 = flops_per_window("tiny", 30), flops_per_window("tiny", 15)
    # the backbone runs once per frame: half the frames, about half the work (pooling and head are small)
    assert 0.45 < tiny15 / tiny30 < 0.6
    assert flops_per_window("default") > 2 * tiny30  # a wider network costs more per window
