"""`gaitline bench api` at a small scale: it fills the store it says and times real requests."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bench.api import measure
from gaitline.cli.bench import app
from gaitline.errors import GaitlineError
from store.db import Store


def test_api_bench_times_each_query_kind(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'b.db'}"
    res = measure(url, sightings=3000, identities=200, cameras=5, queries=10, person_sightings=40)
    assert res["sightings"] == 3040 and Store(url).count() == 3040
    for kind in ("where", "camera_10min", "identities_list", "person_view_with_evidence"):
        r = res[kind]
        assert r["n"] >= 3 and 0 < r["p50_ms"] <= r["p95_ms"] <= r["p99_ms"] <= r["max_ms"]
    view = res["person_view_with_evidence"]
    assert view["sightings"] == 40 and view["answer_bytes"] > 40 * 500  # the images came with it
    assert {e.action for e in Store(url).audit_log()} == {"api.where", "api.camera", "api.identities"}
    with pytest.raises(GaitlineError, match="empty store"):  # a real store is never filled with fakes
        measure(url, sightings=100, identities=10, cameras=2, queries=10)


def test_api_bench_command_saves_its_result_with_the_host(tmp_path: Path) -> None:
    dest = tmp_path / "api.json"
    res = CliRunner().invoke(app, ["api", "--json", "--sightings", "500", "--identities", "50", "--cameras", "3",
                                   "--queries", "10", "--person-sightings", "20", "--no-live", "--out", str(dest)])
    assert res.exit_code == 0, res.output
    printed = json.loads(res.output.strip().splitlines()[-1])
    saved = json.loads(dest.read_text())
    assert saved["bench"] == "api" and saved["result"] == printed and printed["sightings"] == 520
    assert {"cpu_model", "cpu_flags", "usable_cores"} <= set(saved["host"])
