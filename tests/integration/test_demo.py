"""`gaitline demo` end to end on the real video and the real broker, as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from streams.broker import LocalBroker

pytestmark = pytest.mark.integration


def _gaitline(args: list[str], env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gaitline", *args], capture_output=True, text=True,
                          env=env, timeout=timeout)


def test_demo_on_vtest_with_malformed_records(kafka_broker: LocalBroker, vtest_video: Path, tmp_path: Path):
    store = f"sqlite:///{tmp_path / 'demo.db'}"
    env = {**os.environ, "GAITLINE_BROKER_PORT": str(kafka_broker.port),
           "GAITLINE_BROKER_CONTROLLER_PORT": str(kafka_broker.controller_port),
           "GAITLINE_BROKER_STATE_DIR": str(kafka_broker.state_dir), "GAITLINE_STORE_URL": store}
    proc = _gaitline(["demo", "--video", str(vtest_video), "--json", "--inject-malformed", "3"], env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["frames"] == 795
    assert summary["tracklets"] >= 20 and summary["embeddings"] == summary["tracklets"]
    assert summary["sightings"] == summary["embeddings"] == summary["sightings_on_topic"]
    assert 2 <= summary["identities"] < summary["tracks"]
    assert summary["deadlettered"] == 3
    assert summary["store"] == store
    # the broker the session fixture started is still the one running (the demo did not stop it)
    assert kafka_broker.status().running

    listing = _gaitline(["identities", "--store", store, "--json"], env)
    idents = json.loads(listing.stdout)
    assert len(idents) == summary["identities"]
    assert sum(i["sightings"] for i in idents) == summary["sightings"]
    top = max(idents, key=lambda i: i["sightings"])
    where = _gaitline(["query", "where", "--identity", top["identity_id"], "--store", store,
                       "--reason", "integration test", "--actor", "tester"], env)
    assert where.returncode == 0
    assert f"{top['identity_id']}: {top['sightings']} sightings on 1 camera(s)" in where.stdout
    assert where.stdout.count("camera vtest") == top["sightings"]
    audit = json.loads(_gaitline(["audit", "--store", store, "--json", "--identity", top["identity_id"]], env).stdout)
    assert audit[0]["actor"] == "tester" and audit[0]["action"] == "query.where"
    assert audit[0]["detail"] == {"sightings": top["sightings"]}

    # a second run on the same store continues the gallery: the same walkers pass again and are
    # re-identified (new sightings of known identities), not enrolled as new people
    again = _gaitline(["demo", "--video", str(vtest_video), "--json"], env)
    assert again.returncode == 0, again.stderr[-2000:]
    second = json.loads(again.stdout.strip().splitlines()[-1])
    assert second["continued"] is True and second["namespace"] == summary["namespace"]
    assert second["tracklets"] == summary["tracklets"] and second["deadlettered"] == 0
    assert second["sightings"] == second["tracklets"]  # new window ids: nothing taken for a redelivery
    assert second["reidentified"] >= 0.8 * second["identities"], second
    total = json.loads(_gaitline(["identities", "--store", store, "--json"], env).stdout)
    assert sum(i["sightings"] for i in total) == summary["sightings"] + second["sightings"]
    # the audit log survived the second run
    assert json.loads(_gaitline(["audit", "--store", store, "--json"], env).stdout)

    fresh = _gaitline(["demo", "--video", str(vtest_video), "--json", "--fresh"], env)
    assert fresh.returncode == 0, fresh.stderr[-2000:]
    third = json.loads(fresh.stdout.strip().splitlines()[-1])
    assert third["continued"] is False and third["namespace"] != summary["namespace"]
    assert third["reidentified"] == 0
