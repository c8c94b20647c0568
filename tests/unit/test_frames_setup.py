"""What the frames stage settles before the first frame: settings, replica shards, sources it refuses.

The stage on the real vtest.avi: tests/integration/test_frames_vtest.py.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from pydantic import ValidationError

from configs.exceptions import ConfigError
from configs.schema import Camera, LoadedNetwork, Network
from gaitline.errors import GaitlineError
from workers.frames.cameras import cameras_for_replica, run_cameras
from workers.frames.settings import FramesSettings


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GAITLINE_FRAMES_WINDOW", "20")
    monkeypatch.setenv("GAITLINE_FRAMES_BGSUB", "knn")
    s = FramesSettings()
    assert s.window == 20 and s.bgsub == "knn" and s.stride == 15
    monkeypatch.setenv("GAITLINE_FRAMES_BGSUB", "magic")
    with pytest.raises(ValidationError):
        FramesSettings()
    with pytest.raises(ValidationError):
        FramesSettings(windw=3)  # type: ignore[call-arg]
    for name, field in FramesSettings.model_fields.items():
        assert f"GAITLINE_FRAMES_{name.upper()}" in (field.description or ""), name


def _net(n: int) -> Network:
    return Network(name="n", cameras=[Camera(id=f"cam{i}", source="/x.mp4", region="r", fps=10)
                                      for i in range(n)])


def test_replica_sharding_is_a_stable_partition() -> None:
    net = _net(40)
    shards = [cameras_for_replica(net, r, 4) for r in range(4)]
    flat = [c for s in shards for c in s]
    assert sorted(flat) == sorted(c.id for c in net.cameras)
    assert all(5 <= len(s) <= 15 for s in shards)
    assert shards == [cameras_for_replica(net, r, 4) for r in range(4)]
    grown = [cameras_for_replica(net, r, 5) for r in range(5)]
    moved = sum(1 for r in range(4) for c in shards[r] if c not in grown[r])
    assert moved <= 14  # ~1/5 of the cameras move, not most of them
    with pytest.raises(ConfigError):
        cameras_for_replica(net, 4, 4)


def test_bad_camera_source_fails_before_running(tmp_path: Path) -> None:
    net = Network(name="n", cameras=[Camera(id="c", source="gopher://x", region="r", fps=10)])
    loaded = LoadedNetwork(network=net, path=tmp_path / "n.yaml")
    with pytest.raises(GaitlineError, match="unsupported source scheme"):
        run_cameras(loaded, ["c"], FramesSettings(), lambda w: None, threading.Event())
    with pytest.raises(ConfigError, match="unknown camera"):
        run_cameras(loaded, ["zz"], FramesSettings(), lambda w: None, threading.Event())
