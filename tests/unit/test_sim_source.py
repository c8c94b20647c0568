"""The sim:// camera source and the city's network config."""

from __future__ import annotations

from pathlib import Path

import pytest

from configs.schema import load_network
from sim.city import plan_city
from sim.cityrender import render_city
from sim.exceptions import SimError
from sim.source import SimSource, parse_url


def test_source_reads_frames_and_truth(tmp_path: Path) -> None:
    render_city(plan_city(1, 3, 3.0, 2, fps=5, width=160, height=120), tmp_path)
    net = load_network(tmp_path / "network-live.yaml")
    cam = net.network.cameras[0]
    assert cam.source.startswith("sim://") and cam.homography is not None
    assert load_network(tmp_path / "network.yaml").network.cameras[0].source == "video/cam1.avi"
    with SimSource.open(cam.source.replace("realtime", "fast"), base=net.base) as src:
        frames = list(src)
    assert len(frames) == 15 and frames[0].image.shape == (120, 160, 3)
    assert frames[1].timestamp - frames[0].timestamp == pytest.approx(0.2)


def test_bad_urls() -> None:
    with pytest.raises(SimError):
        parse_url("rtsp://x/y")
    with pytest.raises(SimError):
        parse_url("sim://./cam1?pace=warp")
    with pytest.raises(SimError):
        SimSource.open("sim:///nonexistent/cam1")
