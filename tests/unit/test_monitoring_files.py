"""Alert rules and the dashboard refer only to metrics the code declares, by the names a scrape shows.

(The names themselves against gaitline.metrics' rule: test_metric_names.py.)
"""

import json
import re
from pathlib import Path

import yaml

from tests.unit.test_metric_names import declared_names

FILES = Path(__file__).resolve().parents[2] / "helm" / "gaitline" / "files"


def _used(text: str) -> set[str]:
    return set(re.findall(r"\bgaitline_[a-z0-9_]+", text))


def _exprs(node: object) -> list[str]:
    """Every query (``expr``) anywhere in a dashboard: rows nest panels."""
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "expr" and isinstance(v, str)] + \
            [e for v in node.values() for e in _exprs(v)]
    if isinstance(node, list):
        return [e for v in node for e in _exprs(v)]
    return []


def test_alerts_and_dashboard_use_declared_metrics():
    declared = declared_names()
    alerts = (FILES / "alerts.yaml").read_text()
    rules = yaml.safe_load(alerts)["groups"][0]["rules"]
    assert len(rules) >= 5 and all(r["annotations"]["summary"] for r in rules)
    text = (FILES / "dashboard.json").read_text()
    exprs = _exprs(json.loads(text))
    assert len(exprs) >= 10 and all(_used(e) for e in exprs), "every dashboard query reads a gaitline metric"
    # the whole files, not only the queries: a description naming a metric must name a real one
    unknown = (_used(alerts) | _used(text)) - declared
    assert not unknown, f"alerts/dashboard use undeclared metrics: {sorted(unknown)}"


def test_the_check_sees_a_renamed_metric():
    # the names the code renamed: a file still using one would fail the test above
    assert not {"gaitline_frames_fps", "gaitline_embed_batch_size", "gaitline_index_gallery_rebuilds",
                "gaitline_index_gallery_rebuilding"} & declared_names()
    assert {"gaitline_frames_rate_frames_per_second", "gaitline_embed_batch_windows_bucket",
            "gaitline_index_gallery_rebuilds_total", "gaitline_index_gallery_rebuilding_builds"} <= declared_names()
