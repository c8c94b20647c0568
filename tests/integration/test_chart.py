"""The Helm chart lints and renders; the alert rules pass promtool (real helm and promtool)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from .conftest import _USED

pytestmark = pytest.mark.integration
CHART = Path(__file__).resolve().parents[2] / "helm" / "gaitline"


def _helm() -> str:
    cached = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "gaitline" / "bin" / "helm"
    found = shutil.which("helm") or (str(cached) if cached.exists() else None)
    if not found:
        pytest.fail("helm is missing: scripts/setup.sh builds it with `go install`")
    return found


def test_chart_lints_and_renders_every_stage():
    helm = _helm()
    version = subprocess.run([helm, "version", "--short"], capture_output=True, text=True).stdout.strip()
    _USED.append(f"real helm {version}")
    lint = subprocess.run([helm, "lint", str(CHART)], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    out = subprocess.run([helm, "template", "city", str(CHART), "--set", "frames.replicas=3"],
                         capture_output=True, text=True, check=True).stdout
    docs = [d for d in yaml.safe_load_all(out) if d]
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    for stage in ("embed", "index", "track"):
        assert ("Deployment", f"city-gaitline-{stage}") in kinds
    assert ("StatefulSet", "city-gaitline-frames") in kinds
    api = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "city-gaitline-api")
    container = api["spec"]["template"]["spec"]["containers"][0]
    assert container["args"][:2] == ["api", "serve"] and container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert ("Service", "city-gaitline-api") in kinds
    assert ("ScaledObject", "city-gaitline-embed") in kinds
    embed = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "city-gaitline-embed")
    env = {e["name"]: e.get("value") for e in embed["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["GAITLINE_ALLOCATOR"] == "keep" and env["GAITLINE_EMBED_MAX_BATCH"] == "64"
    assert env["GAITLINE_EMBED_COMPILE"] == "true"
    sts = next(d for d in docs if d["kind"] == "StatefulSet")
    args = sts["spec"]["template"]["spec"]["containers"][0]["args"][0]
    assert sts["spec"]["replicas"] == 3 and "--replicas 3" in args
    network = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].endswith("-network"))
    assert yaml.safe_load(network["data"]["network.yaml"])["cameras"][0]["id"] == "cam1"


def test_alert_rules_pass_promtool():
    promtool = shutil.which("promtool")
    if not promtool:
        pytest.fail("promtool is missing: make test installs Debian's prometheus")
    check = subprocess.run([promtool, "check", "rules", str(CHART / "files" / "alerts.yaml")],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
