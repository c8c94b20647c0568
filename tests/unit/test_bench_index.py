"""`gaitline bench index` at a small scale: the figures it reports are the ones it measured."""

import json
from pathlib import Path

from typer.testing import CliRunner

from bench.index import measure
from gaitline.cli.bench import app


def test_index_bench_reports_recall_and_latency() -> None:
    res = measure(identities=3000, dim=32, queries=200, nprobe=16, candidates=10, spectrum=0.8, noise=0.2)
    assert res["approximate"] and res["identities"] == 3000
    assert 0.9 <= res["recall_at_1"] <= 1.0
    # with little noise the exact top-1 is the identity itself, so recall and identity hits agree
    assert abs(res["recall_at_1"] - res["true_identity_at_1"]) <= 0.05
    assert 0 < res["p50_ms"] <= res["p99_ms"]


def test_index_bench_command_saves_both_kinds_side_by_side(tmp_path: Path) -> None:
    dest = tmp_path / "index.json"
    res = CliRunner().invoke(app, ["index", "--json", "--identities", "1000", "--dim", "16", "--queries", "50",
                                   "--nprobe", "8", "--out", str(dest)])
    assert res.exit_code == 0, res.output
    printed = json.loads(res.output.strip().splitlines()[-1])
    saved = json.loads(dest.read_text())
    assert saved["bench"] == "index" and saved["result"] == printed
    assert printed["kind"] == "hnsw" and printed["baseline"]["kind"] == "ivf"  # the baseline, same run
    assert {"cpu_model", "cpu_flags"} <= set(saved["host"])
