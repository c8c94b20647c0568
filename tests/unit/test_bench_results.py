"""Every bench keeps its result in bench/results/<name>.json with the host, or where --out says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import bench
from bench import results
from gaitline.cli.bench import app

BENCHES = ("frames", "embed", "sim", "e2e", "index", "api", "lda")


def test_results_folder_is_next_to_the_bench_package() -> None:
    folder = results.RESULTS_DIR
    assert folder == Path(bench.__file__).resolve().parent / "results"
    assert results.result_path("frames") == results.RESULTS_DIR / "frames.json"
    assert results.result_path("frames", Path("x.json")) == Path("x.json")


def test_save_result_creates_the_folder_and_replaces_the_previous_file(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(results, "RESULTS_DIR", tmp_path / "results")  # never the committed folder
    path = results.save_result("lda", {"speedup": 1.0})
    assert path == tmp_path / "results" / "lda.json"
    results.save_result("lda", {"speedup": 2.0})
    doc = json.loads(path.read_text())
    assert doc["bench"] == "lda" and doc["result"] == {"speedup": 2.0}
    assert doc["host"]["cpu_model"] is not None or not Path("/proc/cpuinfo").is_file()
    assert isinstance(doc["command"], str) and doc["command"]
    assert [p.name for p in path.parent.iterdir()] == ["lda.json"]  # no temporary file left behind
    assert results.save_result("lda", {"speedup": 3.0}, out=tmp_path / "o.json", save=False) is None
    assert not (tmp_path / "o.json").exists() and json.loads(path.read_text())["result"] == {"speedup": 2.0}


@pytest.mark.parametrize("name", BENCHES)
def test_every_bench_command_takes_out_and_no_save(name: str) -> None:
    res = CliRunner().invoke(app, [name, "--help"], terminal_width=200)
    assert res.exit_code == 0, res.output
    assert "--out" in res.output and "--no-save" in res.output
