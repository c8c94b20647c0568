"""``gaitline forget`` as a real process: without Kafka it changes nothing and says so in one line."""

import os
import subprocess
import sys

import pytest

from store.db import Store
from tests.factories import sighting

pytestmark = pytest.mark.integration


def _gaitline(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gaitline", *args], capture_output=True, text=True, timeout=120,
                          env=env)


def test_forget_without_kafka_deletes_nothing_and_says_so_in_one_line(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    Store(url).add_sightings([sighting(sighting_id="w1", identity_id="p-1", t_start=1_000.0)])
    env = {**os.environ, "GAITLINE_KAFKA_BOOTSTRAP": "127.0.0.1:1"}
    res = _gaitline("forget", "--identity", "p-1", "--reason", "erasure 12", "--store", url, env=env)
    assert res.returncode == 2
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "nothing was forgotten" in lines[0]
    assert Store(url).count() == 1 and not Store(url).is_forgotten("p-1")
