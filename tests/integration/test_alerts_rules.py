"""The alert rules fire when they should and stay silent when they should: `promtool test rules` on the
rules the chart renders (real helm, real promtool).

The rules come from `helm template` (release `city` in namespace `vision`, three cameras), so what is
tested is what a cluster gets. Annotations are templates (`$value`), checked by `promtool check rules`;
the unit tests below compare labels only, so they are dropped from the copy promtool tests.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from .test_helm_chart import ROOT, render

pytestmark = pytest.mark.integration
SEL = {"namespace": "vision", "release": "city"}
CAMERAS = ["cam1", "cam2", "cam3"]


def _series(name: str, values: str, **labels: str) -> dict[str, str]:
    labels = {**SEL, **labels}
    body = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return {"series": f"{name}{{{body}}}", "values": values}


def _up(stage: str, values: str, pod: str = "0") -> dict[str, str]:
    return _series("up", values, stage=stage, job=f"city-gaitline-{stage}", instance=f"{stage}-{pod}:9100")


def _rules() -> dict:
    values = {"network": {"version": 1, "name": "t", "topology": [],
                          "cameras": [{"id": c, "source": f"rtsp://{c}.example/s", "region": "r"} for c in CAMERAS]}}
    docs = render(values, api_versions=("monitoring.coreos.com/v1/PrometheusRule",), namespace="vision")
    rule = next(d for d in docs if d["kind"] == "PrometheusRule")
    return rule["spec"]


def _tests() -> list[dict]:
    healthy_up = [_up(s, "1x60") for s in ("frames", "embed", "index", "track", "api")]
    counting = "0+60x60"   # one record per second
    return [
        {   # the store goes away for 20 minutes; refused rows alone are dead letters, not this alert
            "name": "the store is unavailable",
            "interval": "1m",
            "input_series": [*healthy_up,
                             _series("gaitline_track_store_errors_total", "0x10 0+6x20 120x30", kind="unavailable",
                                     stage="track"),
                             _series("gaitline_track_store_errors_total", "0+1x60", kind="refused", stage="track")],
            "alert_rule_test": [
                {"eval_time": "9m", "alertname": "GaitlineStoreUnavailable", "exp_alerts": []},
                {"eval_time": "25m", "alertname": "GaitlineStoreUnavailable",
                 "exp_alerts": [{"exp_labels": {"severity": "critical"}}]},
                {"eval_time": "50m", "alertname": "GaitlineStoreUnavailable", "exp_alerts": []},
            ],
        },
        {   # one stage dead-letters, the others never did (no series at all): it fires, for that stage only
            "name": "one stage dead-letters, the others never did",
            "interval": "1m",
            "input_series": [*healthy_up, _series("gaitline_embed_deadlettered_total", counting, stage="embed",
                                                  reason="schema", job="city-gaitline-embed")],
            "alert_rule_test": [
                {"eval_time": "3m", "alertname": "GaitlineDeadLetters", "exp_alerts": []},
                {"eval_time": "15m", "alertname": "GaitlineDeadLetters",
                 "exp_alerts": [{"exp_labels": {"severity": "warning", "stage": "embed"}}]},
            ],
        },
        {   # cam1 delivers, cam2 never delivered a frame (no series), cam3 stalled (a flat counter)
            "name": "a camera that never delivered a frame, and one that stalled",
            "interval": "1m",
            "input_series": [*healthy_up,
                             _series("gaitline_frames_frames_total", "0+1500x60", camera="cam1", stage="frames"),
                             _series("gaitline_frames_frames_total", "0+1500x5 7500x55", camera="cam3",
                                     stage="frames")],
            "alert_rule_test": [
                {"eval_time": "4m", "alertname": "GaitlineCameraSilent",
                 "exp_alerts": []},
                {"eval_time": "30m", "alertname": "GaitlineCameraSilent",
                 "exp_alerts": [{"exp_labels": {"severity": "critical", "camera": c, **SEL}}
                                for c in ("cam2", "cam3")]},
            ],
        },
        {   # embed has no target at all, index's target is down, the rest are up
            "name": "a stage without targets and a stage whose targets are down",
            "interval": "1m",
            "input_series": [_up("frames", "1x30"), _up("index", "0x30"), _up("track", "1x30"), _up("api", "1x30")],
            "alert_rule_test": [
                {"eval_time": "10m", "alertname": "GaitlineStageDown",
                 "exp_alerts": [{"exp_labels": {"severity": "critical", "stage": s, **SEL}}
                                for s in ("embed", "index")]},
                {"eval_time": "10m", "alertname": "GaitlineTargetDown",
                 "exp_alerts": [{"exp_labels": {"severity": "warning", "stage": "index", "job": "city-gaitline-index",
                                                "instance": "index-0:9100", **SEL}}]},
            ],
        },
        {   # lag as the workers see it, and as the broker sees it once the embed workers are dead
            "name": "lag from the workers and from the broker",
            "interval": "1m",
            "input_series": [*healthy_up,
                             _series("gaitline_embed_consumer_lag_records", "5000x30", stage="embed"),
                             _series("gaitline_track_consumer_lag_records", "10x30", stage="track"),
                             {"series": 'kafka_consumergroup_lag{consumergroup="gaitline-embed",topic="tracklets.v1",'
                                        'partition="0",namespace="kafka"}', "values": "3000x30"},
                             {"series": 'kafka_consumergroup_lag{consumergroup="other-app",topic="x",partition="0",'
                                        'namespace="kafka"}', "values": "90000x30"}],
            "alert_rule_test": [
                {"eval_time": "15m", "alertname": "GaitlineConsumerLagHigh",
                 "exp_alerts": [{"exp_labels": {"severity": "warning", "stage": "embed"}}]},
                {"eval_time": "15m", "alertname": "GaitlineBrokerLagHigh",
                 "exp_alerts": [{"exp_labels": {"severity": "warning", "consumergroup": "gaitline-embed", **SEL}}]},
                {"eval_time": "45m", "alertname": "GaitlineBrokerLagUnseen", "exp_alerts": []},
            ],
        },
        {   # nothing but the stages' own metrics: the broker-side view is missing
            "name": "no kafka-exporter",
            "interval": "1m",
            "input_series": healthy_up,
            "alert_rule_test": [
                {"eval_time": "45m", "alertname": "GaitlineBrokerLagUnseen",
                 "exp_alerts": [{"exp_labels": {"severity": "info", **SEL}}]},
                {"eval_time": "45m", "alertname": "GaitlineDeadLetters", "exp_alerts": []},
                {"eval_time": "45m", "alertname": "GaitlineStageDown", "exp_alerts": []},
            ],
        },
        {   # windows leave the frames workers, nothing reaches the store; cam2 drops all its windows
            "name": "windows published, no sightings stored, windows dropped",
            "interval": "1m",
            "input_series": [*healthy_up,
                             _series("gaitline_frames_windows_published_total", "0+100x60", camera="cam1"),
                             _series("gaitline_frames_windows_dropped_total", "0+1x60", camera="cam1",
                                     reason="quality"),
                             _series("gaitline_frames_windows_dropped_total", "0+50x60", camera="cam2",
                                     reason="quality"),
                             _series("gaitline_track_sightings_stored_total", "0x60")],
            "alert_rule_test": [
                {"eval_time": "40m", "alertname": "GaitlineNoSightingsStored",
                 "exp_alerts": [{"exp_labels": {"severity": "critical"}}]},
                {"eval_time": "50m", "alertname": "GaitlineWindowsMostlyDropped",
                 "exp_alerts": [{"exp_labels": {"severity": "warning", "camera": "cam2"}}]},
            ],
        },
        {   # sightings are stored: silent
            "name": "sightings flow",
            "interval": "1m",
            "input_series": [*healthy_up,
                             _series("gaitline_frames_windows_published_total", "0+100x60", camera="cam1"),
                             _series("gaitline_track_sightings_stored_total", "0+90x60")],
            "alert_rule_test": [{"eval_time": "40m", "alertname": "GaitlineNoSightingsStored", "exp_alerts": []}],
        },
        {   # slow end to end (every window between 0.5 s and 1 s), a stuck gallery build, a failing API
            "name": "latency, gallery, API",
            "interval": "1m",
            "input_series": [*healthy_up,
                             *[_series("gaitline_track_end_to_end_seconds_bucket", "0+60x60" if le in ("1.0", "+Inf")
                                       else "0x60", le=le) for le in ("0.25", "0.5", "1.0", "+Inf")],
                             _series("gaitline_index_gallery_rebuilding_builds", "1x60"),
                             _series("gaitline_api_requests_total", "0+600x60", route="/api/v1/where", code="200"),
                             _series("gaitline_api_requests_total", "0+120x60", route="/api/v1/where", code="500"),
                             _series("gaitline_api_denied_total", "0+300x60", reason="unknown_token"),
                             *[_series("gaitline_api_request_seconds_bucket", "0+60x60" if le in ("2.5", "+Inf")
                                       else "0x60", route="/api/v1/where", le=le) for le in ("1.0", "2.5", "+Inf")],
                             _series("gaitline_frames_reconnects_total", "0+1x60", camera="cam1")],
            "alert_rule_test": [
                {"eval_time": "40m", "alertname": "GaitlineEndToEndSlow",
                 "exp_alerts": [{"exp_labels": {"severity": "warning"}}]},
                {"eval_time": "40m", "alertname": "GaitlineGalleryRebuildStuck",
                 "exp_alerts": [{"exp_labels": {"severity": "warning"}}]},
                {"eval_time": "40m", "alertname": "GaitlineApiFailing",
                 "exp_alerts": [{"exp_labels": {"severity": "critical"}}]},
                {"eval_time": "40m", "alertname": "GaitlineApiDenied",
                 "exp_alerts": [{"exp_labels": {"severity": "warning"}}]},
                {"eval_time": "40m", "alertname": "GaitlineApiSlow",
                 "exp_alerts": [{"exp_labels": {"severity": "warning"}}]},
                {"eval_time": "40m", "alertname": "GaitlineCameraReconnecting",
                 "exp_alerts": [{"exp_labels": {"severity": "warning", "camera": "cam1"}}]},
                {"eval_time": "40m", "alertname": "GaitlineStoreWritesSlow", "exp_alerts": []},
            ],
        },
        {   # the webhook is down for 20 minutes (one alert a minute fails), then takes them again
            "name": "the watchlist webhook is down",
            "interval": "1m",
            "input_series": [*healthy_up,
                             _series("gaitline_api_webhook_failures_total", "0x10 0+1x20 20x30", stage="api")],
            "alert_rule_test": [
                {"eval_time": "9m", "alertname": "GaitlineWatchlistWebhookFailing", "exp_alerts": []},
                {"eval_time": "25m", "alertname": "GaitlineWatchlistWebhookFailing",
                 "exp_alerts": [{"exp_labels": {"severity": "warning"}}]},
                {"eval_time": "55m", "alertname": "GaitlineWatchlistWebhookFailing", "exp_alerts": []},
            ],
        },
        {   # an API that never answered with an error has no 5xx series: silent, not an error
            "name": "no server errors ever",
            "interval": "1m",
            "input_series": [*healthy_up,
                             _series("gaitline_api_requests_total", "0+600x60", route="/api/v1/where", code="200")],
            "alert_rule_test": [{"eval_time": "40m", "alertname": "GaitlineApiFailing", "exp_alerts": []}],
        },
    ]


def _promtool() -> str:
    found = shutil.which("promtool")
    if not found:
        pytest.fail("promtool is missing: scripts/setup.sh installs Debian's prometheus")
    return found


def test_rendered_rules_pass_promtool_check(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump(_rules()))
    check = subprocess.run([_promtool(), "check", "rules", str(rules)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_every_alert_has_a_test_and_a_runbook(tmp_path: Path) -> None:
    alerts = {r["alert"]: r for g in _rules()["groups"] for r in g["rules"] if "alert" in r}
    tested = {t["alertname"] for case in _tests() for t in case["alert_rule_test"]}
    assert set(alerts) - tested == set(), "an alert without a promtool test"
    for name, rule in alerts.items():
        url = rule["annotations"]["runbook_url"]
        page = ROOT / "docs" / "runbooks" / url.rsplit("/", 1)[1]
        assert url.startswith("https://") and page.is_file(), f"{name}: {url} is no runbook in docs/runbooks"


def test_alerts_fire_and_stay_silent(tmp_path: Path) -> None:
    spec = _rules()
    for group in spec["groups"]:
        for rule in group["rules"]:
            rule.pop("annotations", None)
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(spec))
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(
        {"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": _tests()}, sort_keys=False))
    out = subprocess.run([_promtool(), "test", "rules", "tests.yaml"], cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS" in out.stdout


def test_the_test_sees_a_broken_rule(tmp_path: Path) -> None:
    # the old dead-letter rule, `a + b + c` over the stages: silent when only one stage ever dead-lettered
    spec = _rules()
    for group in spec["groups"]:
        for rule in group["rules"]:
            rule.pop("annotations", None)
            if rule.get("alert") == "GaitlineDeadLetters":
                rule["expr"] = " + ".join(f"sum by (stage) (rate(gaitline_{s}_deadlettered_total[5m]))"
                                          for s in ("embed", "index", "track")) + " > 0.1"
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(spec))
    one_stage = [t for t in _tests() if t["name"] == "one stage dead-letters, the others never did"]
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(
        {"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": one_stage}))
    out = subprocess.run([_promtool(), "test", "rules", "tests.yaml"], cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode != 0 and "GaitlineDeadLetters" in out.stdout + out.stderr
