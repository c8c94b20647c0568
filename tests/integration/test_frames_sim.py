"""A frames worker reads a simulated camera (sim://) and publishes windows to the real broker;
the windows of each track belong to one simulated walker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from streams.clients import TopicTail
from streams.schemas import TrackletWindow
from streams.settings import KafkaSettings
from streams.topics import TRACKLETS

pytestmark = pytest.mark.integration


def _run(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gaitline", *args], capture_output=True, text=True,
                          timeout=600, env=env)


def test_sim_camera_windows_are_consistent_per_track(kafka: KafkaSettings, tmp_path: Path):
    city = tmp_path / "city"
    made = _run(["sim", "city", "--cameras", "1", "--people", "4", "--duration", "40", "--seed", "11",
                 "--out", str(city)])
    assert made.returncode == 0, made.stderr[-2000:]
    live = (city / "network-live.yaml").read_text()
    assert "sim://" in live
    network = city / "network-fast.yaml"
    network.write_text(live.replace("pace=realtime", "pace=fast"))

    env = {**os.environ, "GAITLINE_KAFKA_BOOTSTRAP": kafka.bootstrap, "GAITLINE_KAFKA_NAMESPACE": kafka.namespace}
    proc = _run(["worker", "frames", "--network", str(network), "--metrics-port", "0"], env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    stats = json.loads(proc.stdout.strip().splitlines()[-1])
    assert stats["frames"] == 400 and stats["windows"] > 0

    tail = TopicTail(kafka, TRACKLETS.full_name(kafka.namespace), "test-frames-sim")
    try:
        windows = [TrackletWindow.from_bytes(m.value) for m in tail.to_end()]
    finally:
        tail.close()
    assert len(windows) == stats["windows"]
    assert all(w.silhouettes.shape[1:] == (64, 44) and w.ground_plane for w in windows)

    by_track: dict[int, Counter] = defaultdict(Counter)
    for w in windows:
        by_track[w.track_id][w.truth_id] += 1
    labelled = sum(c.total() - c[None] for c in by_track.values())
    assert labelled >= 0.9 * len(windows), by_track
    pure = sum(c.most_common(1)[0][1] for c in by_track.values())
    assert pure / len(windows) >= 0.9, by_track  # a track's windows show one walker
    assert len({t for c in by_track.values() for t in c if t}) >= 2  # several walkers were seen
