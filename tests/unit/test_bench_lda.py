"""`gaitline bench lda` at a small scale: both solves run, on the same features, and agree."""

import json
from pathlib import Path

from typer.testing import CliRunner

from gaitline.cli.bench import app


def test_lda_bench_times_both_solves_and_checks_they_agree(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["lda", "--json", "--dim", "96", "--people", "20", "--per", "4",
                                   "--dims", "8", "--repeats", "2", "--out", str(tmp_path / "lda.json")])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output.strip().splitlines()[-1])
    assert out["sequences"] == 80 and out["dim"] == 96 and out["dims"] == 8
    assert len(out["runs_s"]["cholesky_svd"]) == len(out["runs_s"]["eigh"]) == 2
    assert out["cholesky_svd_s"] > 0 and out["eigh_s"] > 0
    assert out["min_abs_cos"] > 0.9999 and out["max_ratio_rel_diff"] < 1e-4
    saved = json.loads((tmp_path / "lda.json").read_text())
    assert saved["bench"] == "lda" and saved["result"] == out  # the file holds what was printed
    assert saved["host"]["cpu_flags"] is not None and "load_avg_1m_at_start" in saved["host"]


def test_lda_bench_no_save_writes_nothing(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["lda", "--json", "--dim", "32", "--people", "6", "--per", "3", "--dims", "2",
                                   "--repeats", "1", "--no-save", "--out", str(tmp_path / "lda.json")])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output.strip().splitlines()[-1])["dim"] == 32
    assert not list(tmp_path.iterdir())


def test_lda_bench_refuses_more_directions_than_people_allow() -> None:
    res = CliRunner().invoke(app, ["lda", "--people", "5", "--dims", "5", "--no-save"])
    assert res.exit_code == 2 and "--dims" in res.output
