from pathlib import Path

import pytest

from configs.exceptions import ConfigError
from configs.schema import load_network

GOOD = """version: 1
name: two
cameras:
  - id: a
    source: clips/a.avi
    region: north
    fps: 25
  - id: b
    source: rtsp://cam-b/stream
    region: north
    fps: 10
    homography: [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
topology:
  - {from: a, to: b, min_transit_s: 20, typical_transit_s: 45}
"""


def test_shipped_vtest_config_is_valid():
    net = load_network("vtest").network
    assert net.cameras[0].id == "vtest" and net.cameras[0].homography_matrix().shape == (3, 3)


def test_good_config_and_relative_sources(tmp_path: Path):
    p = tmp_path / "net.yaml"
    p.write_text(GOOD)
    loaded = load_network(p)
    a = loaded.network.camera("a")
    assert a.source_path(loaded.base) == str(tmp_path / "clips" / "a.avi")
    assert loaded.network.camera("b").source_path(loaded.base) == "rtsp://cam-b/stream"
    assert loaded.network.topology[0].from_ == "a"
    with pytest.raises(ConfigError, match="unknown camera id 'zz'"):
        loaded.network.camera("zz")


@pytest.mark.parametrize("edit, line, what", [
    (("    fps: 25\n", "    fps: 25\n    colour: red\n"), 8, "unknown key"),
    (("    fps: 10\n", "    fps: -3\n"), 11, "greater than 0"),
    (("to: b,", "to: c,"), 15, "unknown camera"),
    (("[0, 0, 1]]", "[0, 0]]"), 12, "3x3"),
])
def test_invalid_configs_name_file_and_line(tmp_path: Path, edit, line, what):
    p = tmp_path / "bad.yaml"
    p.write_text(GOOD.replace(*edit))
    with pytest.raises(ConfigError) as err:
        load_network(p)
    msg = str(err.value)
    assert msg.startswith(f"{p}:") and what in msg
    assert f":{line}:" in msg or what == "unknown camera"


def test_unreadable_and_non_yaml(tmp_path: Path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_network(tmp_path / "missing.yaml")
    p = tmp_path / "x.yaml"
    p.write_text("cameras: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_network(p)
