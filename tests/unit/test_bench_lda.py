"""`gaitline bench lda` at a small scale: both solves run, on the same features, and agree."""

import json

from typer.testing import CliRunner

from gaitline.cli.bench import app


def test_lda_bench_times_both_solves_and_checks_they_agree() -> None:
    res = CliRunner().invoke(app, ["lda", "--json", "--dim", "96", "--people", "20", "--per", "4",
                                   "--dims", "8", "--repeats", "2"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output.strip().splitlines()[-1])
    assert out["sequences"] == 80 and out["dim"] == 96 and out["dims"] == 8
    assert len(out["runs_s"]["cholesky_svd"]) == len(out["runs_s"]["eigh"]) == 2
    assert out["cholesky_svd_s"] > 0 and out["eigh_s"] > 0
    assert out["min_abs_cos"] > 0.9999 and out["max_ratio_rel_diff"] < 1e-4


def test_lda_bench_refuses_more_directions_than_people_allow() -> None:
    res = CliRunner().invoke(app, ["lda", "--people", "5", "--dims", "5"])
    assert res.exit_code == 2 and "--dims" in res.output
