"""A real Prometheus server scrapes the running stages; promtool checks what they expose."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from streams.clients import send_records
from streams.settings import KafkaSettings
from streams.topics import TRACKLETS
from workers.demo import StageProcs, wait_drained

from .conftest import _USED
from .test_stages import _window

pytestmark = pytest.mark.integration


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as r:  # noqa: S310 - localhost only
        return r.read().decode()


def _wait_http(url: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return _get(url)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def test_prometheus_scrapes_stage_metrics(kafka: KafkaSettings, sqlite_url: str, tmp_path: Path):
    prometheus, promtool = shutil.which("prometheus"), shutil.which("promtool")
    if not (prometheus and promtool):
        pytest.fail("Debian's prometheus package is missing: make test installs it")
    ports = {stage: _port() for stage in ("embed", "index", "track")}
    env = {**os.environ, "GAITLINE_KAFKA_BOOTSTRAP": kafka.bootstrap, "GAITLINE_KAFKA_NAMESPACE": kafka.namespace,
           "GAITLINE_TRACK_STORE_URL": sqlite_url}
    env.update({f"GAITLINE_{s.upper()}_METRICS_PORT": str(p) for s, p in ports.items()})
    procs = StageProcs(tmp_path)
    for stage in ports:
        procs.start(stage, env)
    prom_port = _port()
    cfg = tmp_path / "prometheus.yml"
    cfg.write_text("global: {scrape_interval: 1s}\nscrape_configs:\n  - job_name: gaitline\n    static_configs:\n"
                   f"      - targets: [{', '.join(f'127.0.0.1:{p}' for p in ports.values())}]\n")
    prom = subprocess.Popen([prometheus, f"--config.file={cfg}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                             f"--web.listen-address=127.0.0.1:{prom_port}"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        send_records(kafka, TRACKLETS.full_name(kafka.namespace),
                     [(b"cam0/1", _window(0, 1, s).to_bytes()) for s in (0, 15, 30)] + [(b"x", b"broken")])
        wait_drained(kafka, procs, timeout_s=120)

        text = _wait_http(f"http://127.0.0.1:{ports['embed']}/metrics")
        assert "gaitline_embed_windows_total" in text and "gaitline_embed_consumer_lag_records" in text
        check = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr

        version = json.loads(_wait_http(f"http://127.0.0.1:{prom_port}/api/v1/status/buildinfo"))["data"]["version"]
        if not any("Prometheus" in u for u in _USED):
            _USED.append(f"real Prometheus {version} server on 127.0.0.1:{prom_port}")
        want = {"gaitline_embed_windows_total": 3.0, "gaitline_embed_deadlettered_total": 1.0,
                "gaitline_index_enrolled_total": 1.0, "gaitline_track_sightings_stored_total": 3.0}
        deadline = time.monotonic() + 60
        got: dict[str, float] = {}
        while time.monotonic() < deadline and got != want:
            for name in want:
                res = json.loads(_get(f"http://127.0.0.1:{prom_port}/api/v1/query?query=sum({name})"))["data"]
                got[name] = float(res["result"][0]["value"][1]) if res["result"] else -1.0
            time.sleep(1)
        assert got == want
    finally:
        prom.terminate()
        prom.wait(30)
        procs.stop()
