"""The chart's generated files are current, and its alerts and dashboard name only registered metrics.

Generated from the code (``python -m gaitline.deploy``): the topic declaration, the values schema, the
dashboard. The alert rules (``templates/_alerts.tpl``) and the dashboard's queries may name a
``gaitline_*`` metric only if a stage declares it (by the names a scrape shows), and every declared
metric is on a panel or in an alert. (The names against gaitline.metrics' rule: test_metric_names.py;
promtool parses the queries and tests the rules: tests/integration/test_helm_dashboard.py and
test_alerts_rules.py.)
"""

from __future__ import annotations

import json
import re

import pytest
from packaging.requirements import Requirement
from prometheus_client import CollectorRegistry

# the dashboard module needs grafana-foundation-sdk, which scripts/setup.sh installs
from gaitline.deploy import CHART, ROOT, constraints, dashboard, topics, values_schema
from tests.unit.test_metric_names import CONTAINERS, declared_names

REGENERATE = ".venv/bin/python -m gaitline.deploy"
# metrics the queries may name that no stage declares: Prometheus's own, kafka-exporter's, the chart's record
EXTERNAL = {"up", "kafka_consumergroup_lag", "gaitline:frames_camera_configured:info"}


def _used(text: str) -> set[str]:
    return set(re.findall(r"\bgaitline_[a-z0-9_]+", text))


def exprs(node: object) -> list[str]:
    """Every query (``expr``) anywhere in a dashboard: rows nest panels."""
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "expr" and isinstance(v, str)] + \
            [e for v in node.values() for e in exprs(v)]
    if isinstance(node, list):
        return [e for v in node for e in exprs(v)]
    return []


@pytest.mark.parametrize(("path", "render"), [
    ("helm/gaitline/files/topics.yaml", topics.render),
    ("helm/gaitline/values.schema.json", values_schema.render),
    ("helm/gaitline/files/dashboard.json", dashboard.render),
])
def test_generated_files_are_current(path: str, render: object) -> None:
    assert callable(render)
    assert (ROOT / path).read_text() == render(), f"{path} is out of date: regenerate with `{REGENERATE}`"


def test_constraints_pin_every_runtime_dependency() -> None:
    # the versions are the development environment's when it was written; each must satisfy pyproject.toml
    import tomllib

    pins = dict(line.split("==") for line in (ROOT / "constraints.txt").read_text().split()
                if "==" in line)
    for raw in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]:
        req = Requirement(raw)
        name = constraints._norm(req.name)
        assert name in pins, f"constraints.txt does not pin {name}: regenerate with `{REGENERATE}`"
        assert req.specifier.contains(pins[name], prereleases=True), f"{name}=={pins[name]} breaks {raw}"
        for extra in req.extras:   # psycopg[binary] -> psycopg-binary
            assert any(p.startswith(name + "-") for p in pins), f"{raw}: its extra {extra} is not pinned"


def test_alerts_and_dashboard_use_declared_metrics() -> None:
    declared = declared_names()
    alerts = (CHART / "templates" / "_alerts.tpl").read_text()
    board = json.loads((CHART / "files" / "dashboard.json").read_text())
    queries = exprs(board)
    assert len(queries) >= 30
    for q in queries:
        assert _used(_expand(q)) or any(e in q for e in EXTERNAL), f"a query that reads no metric: {q}"
    # a name regex (`gaitline_(embed|index|track)_deadlettered_total`) counts as the names it spells out
    unknown = (_used(_expand(alerts)) | _used(_expand(json.dumps(board)))) - declared
    assert not unknown, f"alerts/dashboard use undeclared metrics: {sorted(unknown)}"


def _families() -> set[str]:
    out = set()
    for container in CONTAINERS.values():
        registry = CollectorRegistry()
        container(registry)
        out |= {f.name + ("_total" if f.type == "counter" else "") for f in registry.collect()}
    return out


def _expand(text: str) -> str:
    """Spell out the stage regexes the rules and queries use, so the metrics they cover are named."""
    def one(match: re.Match[str]) -> str:
        return " ".join(f"gaitline_{s}_{match.group(2)}" for s in match.group(1).split("|"))
    return re.sub(r"gaitline_\(([a-z|]+)\)_([a-z0-9_]+)", one, text)


def test_every_registered_metric_is_on_a_panel_or_in_an_alert() -> None:
    text = _expand((CHART / "templates" / "_alerts.tpl").read_text() +
                   " ".join(exprs(json.loads((CHART / "files" / "dashboard.json").read_text()))))
    used = _used(text)
    missing = {f for f in _families() if not {f, f + "_bucket"} & used}
    assert missing == set(), f"registered metrics on no panel and in no alert: {sorted(missing)}"


def test_every_query_selects_one_release() -> None:
    board = json.loads((CHART / "files" / "dashboard.json").read_text())
    names = {v["name"] for v in board["templating"]["list"]}
    assert {"datasource", "namespace", "release", "camera"} <= names
    for q in exprs(board):
        if "gaitline_" in q or "up{" in q:
            assert 'namespace="$namespace",release="$release"' in q, q
        if "gaitline_frames_" in q and "camera" in q and "configured" not in q and "by (le)" not in q:
            assert 'camera=~"$camera"' in q, q


def test_the_coverage_check_sees_a_metric_without_a_panel() -> None:
    assert "gaitline_index_removed_total" in _families()
    spelled = _used(_expand('rate({__name__=~"gaitline_(embed|index)_deadlettered_total"}'))
    assert {"gaitline_embed_deadlettered_total", "gaitline_index_deadlettered_total"} <= spelled
    assert not {"gaitline_frames_lost_total"} & _used(_expand("rate(gaitline_frames_frames_total[5m])"))
