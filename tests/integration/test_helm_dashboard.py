"""Every query of the shipped dashboard parses as PromQL (real promtool), with its variables filled in."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.unit.test_monitoring_files import exprs

pytestmark = pytest.mark.integration
BOARD = Path(__file__).resolve().parents[2] / "helm" / "gaitline" / "files" / "dashboard.json"
# what Grafana substitutes before the query reaches Prometheus
VARIABLES = {"$__rate_interval": "2m", "$namespace": "vision", "$release": "city", "$camera": ".*"}


def _check(queries: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    promtool = shutil.which("promtool")
    if not promtool:
        pytest.fail("promtool is missing: scripts/setup.sh installs Debian's prometheus")
    rules = []
    for i, q in enumerate(queries):
        for var, value in VARIABLES.items():
            q = q.replace(var, value)
        rules.append({"record": f"dashboard:query_{i}", "expr": q})
    path = tmp_path / "dashboard-queries.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    return subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True)


def test_every_dashboard_query_parses(tmp_path: Path) -> None:
    board = json.loads(BOARD.read_text())
    queries = exprs(board) + [v["query"].removeprefix("label_values(").rsplit(",", 1)[0]
                              for v in board["templating"]["list"] if v.get("type") == "query"]
    assert len(queries) > 30
    out = _check(queries, tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"{len(queries)} rules found" in out.stdout


def test_the_check_sees_a_broken_query(tmp_path: Path) -> None:
    out = _check(["sum by (camera (rate(gaitline_frames_frames_total[5m]))"], tmp_path)
    assert out.returncode != 0
