"""Alert rules and the dashboard refer only to metrics the code declares."""

import json
import re
from pathlib import Path

import yaml
from prometheus_client import CollectorRegistry

from api.metrics import ApiMetrics
from index.metrics import IndexMetrics
from workers.embed.metrics import EmbedMetrics
from workers.frames.metrics import FramesMetrics
from workers.track.metrics import TrackMetrics

FILES = Path(__file__).resolve().parents[2] / "helm" / "gaitline" / "files"


def _declared() -> set[str]:
    reg = CollectorRegistry()
    for cls in (FramesMetrics, EmbedMetrics, IndexMetrics, TrackMetrics, ApiMetrics):
        cls(reg)
    # every exposed name, with _total/_bucket/_count suffixes, labelled or not
    return {n for n in reg._names_to_collectors if not n.endswith("_created")}


def _used(text: str) -> set[str]:
    return set(re.findall(r"\bgaitline_[a-z0-9_]+", text))


def test_metric_names_follow_the_convention():
    for name in _declared():
        assert re.fullmatch(r"gaitline_(frames|embed|index|track|api)_[a-z0-9_]+", name), name


def test_alerts_and_dashboard_use_declared_metrics():
    declared = _declared()
    alerts = (FILES / "alerts.yaml").read_text()
    rules = yaml.safe_load(alerts)["groups"][0]["rules"]
    assert len(rules) >= 5 and all(r["annotations"]["summary"] for r in rules)
    dashboard = json.loads((FILES / "dashboard.json").read_text())
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    unknown = (_used(alerts) | _used(exprs)) - declared
    assert not unknown, f"alerts/dashboard use undeclared metrics: {sorted(unknown)}"
