"""Camera geometry and the site in the network config: strict validation with file and line, the
shipped vtest camera's place recovered from its homography, the simulator's networks, and the JSON
the control room's camera list is made of."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from configs.exceptions import ConfigError
from configs.schema import load_network
from configs.site import MAP_URL, camera_pose_from_homography, ground_view, site_bounds, site_map_path, site_view
from sim.camera import PinholeCamera

NET = """version: 1
name: yard
site:
  map_image: plan.png
  bounds: [0, 0, 40, 30]
cameras:
  - id: a
    source: a.avi
    region: north
    fps: 10
    position: [5, 5]
    heading_deg: 45
    fov_deg: 70
    range_m: 25
    lat: 51.5
    lon: -0.12
  - id: b
    source: b.avi
    region: south
    fps: 10
topology:
  - {from: a, to: b, min_transit_s: 20, typical_transit_s: 45}
"""


def _write(tmp_path: Path, text: str, plan: bool = True) -> Path:
    if plan:
        cv2.imwrite(str(tmp_path / "plan.png"), np.full((30, 40, 3), 200, np.uint8))
    p = tmp_path / "net.yaml"
    p.write_text(text)
    return p


def test_site_view_is_the_camera_list_of_the_api(tmp_path: Path) -> None:
    loaded = load_network(_write(tmp_path, NET))
    view = site_view(loaded, seen={"b"})
    assert view == {
        "site": {"name": "yard", "map_image": MAP_URL, "bounds": [0.0, 0.0, 40.0, 30.0]},
        "cameras": [
            {"id": "a", "region": "north", "position": [5.0, 5.0], "heading_deg": 45.0, "fov_deg": 70.0,
             "range_m": 25.0, "lat": 51.5, "lon": -0.12, "seen": False},
            {"id": "b", "region": "south", "position": None, "heading_deg": None, "fov_deg": 60.0,
             "range_m": 20.0, "lat": None, "lon": None, "seen": True}],
        "links": [{"from": "a", "to": "b", "min_transit_s": 20.0, "typical_transit_s": 45.0}],
    }
    assert site_map_path(loaded) == tmp_path / "plan.png"


def test_without_a_site_the_bounds_cover_the_cameras_fields_of_view(tmp_path: Path) -> None:
    text = NET.replace("site:\n  map_image: plan.png\n  bounds: [0, 0, 40, 30]\n", "")
    loaded = load_network(_write(tmp_path, text, plan=False))
    x0, y0, x1, y1 = site_bounds(loaded.network) or (0.0, 0.0, 0.0, 0.0)
    tip = (5 + 25 * math.cos(math.radians(45)), 5 + 25 * math.sin(math.radians(45)))
    assert x0 < 5 < tip[0] < x1 and y0 < 5 < tip[1] < y1
    assert site_view(loaded)["site"]["map_image"] is None and site_map_path(loaded) is None
    only_b = text.replace("    position: [5, 5]\n    heading_deg: 45\n", "")
    assert site_bounds(load_network(_write(tmp_path, only_b, plan=False)).network) is None


@pytest.mark.parametrize("edit, line, what", [
    (("    position: [5, 5]\n", "    position: [5]\n"), 11, "position"),
    (("    heading_deg: 45\n", "    heading_deg: 45\n    tilt_deg: 10\n"), 13, "unknown key"),
    (("    fov_deg: 70\n", "    fov_deg: 0\n"), 13, "greater than or equal to 1"),
    (("    range_m: 25\n", "    range_m: 0\n"), 14, "greater than 0"),
    (("    lon: -0.12\n", ""), 7, "lat and lon go together"),
    (("    lat: 51.5\n", "    lat: 95\n"), 15, "less than or equal to 90"),
    (("    position: [5, 5]\n", ""), 7, "heading_deg needs a position"),
    (("  bounds: [0, 0, 40, 30]\n", "  bounds: [40, 0, 0, 30]\n"), 5, "x_min < x_max"),
    (("  bounds: [0, 0, 40, 30]\n", ""), 4, "needs the bounds"),
    (("  map_image: plan.png\n", "  map_image: plan.svg\n"), 4, "map_image must be one of"),
    (("  map_image: plan.png\n", "  map_image: missing.png\n"), 4, "no such file"),
    (("  bounds: [0, 0, 40, 30]\n", "  bounds: [0, 0, 40, 30]\n  zoom: 3\n"), 6, "unknown key"),
])
def test_bad_geometry_names_file_and_line(tmp_path: Path, edit: tuple[str, str], line: int, what: str) -> None:
    p = _write(tmp_path, NET.replace(*edit))
    with pytest.raises(ConfigError) as err:
        load_network(p)
    msg = str(err.value)
    assert msg.startswith(f"{p}:{line}:") and what in msg, msg


def test_a_pose_is_recovered_from_the_homography_of_a_known_camera() -> None:
    cam = PinholeCamera.look_at(np.array([3.0, -4.0, 7.0]), np.array([10.0, 8.0, 0.0]), f=700.0, cx=320, cy=240)
    pose = camera_pose_from_homography(cam.image_to_ground(), 640, 480)
    assert pose.position == pytest.approx((3.0, -4.0), abs=1e-6) and pose.height_m == pytest.approx(7.0)
    assert pose.heading_deg == pytest.approx(math.degrees(math.atan2(12.0, 7.0)))
    assert pose.fov_deg == pytest.approx(math.degrees(2 * math.atan(320 / 700)))
    bottom = cam.image_to_ground() @ np.array([320.0, 480.0, 1.0])
    assert pose.near_m == pytest.approx(math.hypot(bottom[0] / bottom[2] - 3, bottom[1] / bottom[2] + 4))
    with pytest.raises(ConfigError, match="pinhole camera"):
        camera_pose_from_homography(np.diag([1.0, 1.0, 1.0]), 640, 480)  # a plain scale: no camera


def test_the_shipped_vtest_camera_agrees_with_its_homography() -> None:
    loaded = load_network("vtest")
    cam = loaded.network.cameras[0]
    h = cam.homography_matrix()
    assert h is not None and cam.position is not None and cam.heading_deg is not None
    pose = camera_pose_from_homography(h, 768, 576)
    assert pose.position == pytest.approx(cam.position, abs=0.05)
    assert pose.heading_deg == pytest.approx(cam.heading_deg, abs=0.5)
    assert pose.fov_deg == pytest.approx(cam.fov_deg, abs=0.5)
    assert pose.height_m == pytest.approx(6.3, abs=0.1)  # the fit the config's comment names
    assert pose.near_m < cam.range_m < pose.far_m  # its range lies on the ground it sees
    path = site_map_path(loaded)
    assert path is not None and path.is_file()
    image = cv2.imread(str(path))
    x0, y0, x1, y1 = site_bounds(loaded.network) or (0.0, 0.0, 0.0, 0.0)
    assert image.shape[1] / image.shape[0] == pytest.approx((x1 - x0) / (y1 - y0), rel=0.02)


def test_a_ground_view_shows_what_the_camera_sees_and_fills_the_rest() -> None:
    loaded = load_network("vtest")
    h = loaded.network.cameras[0].homography_matrix()
    assert h is not None
    image = np.zeros((576, 768, 3), np.uint8)
    image[288:] = (0, 0, 255)  # the lower half of the image red: the ground near the camera
    top = ground_view(image, h, (-22.0, -4.0, 22.0, 72.0), px_per_m=4.0)
    assert top.shape == (304, 176, 3)
    def px(x: float, y: float) -> np.ndarray:
        return top[round((72.0 - y) * 4), round((x + 22.0) * 4)]
    assert tuple(px(0.0, 20.0)) == (0, 0, 255)  # 20 m ahead: in the lower half of the image
    assert tuple(px(0.0, 60.0)) == (0, 0, 0)  # 60 m ahead: in the upper half
    assert tuple(px(0.0, 5.0)) == (235, 235, 235)  # under the camera: not in view
    assert tuple(px(0.0, -2.0)) == (235, 235, 235)  # behind it


def test_the_simulated_city_places_its_cameras_on_the_site(tmp_path: Path) -> None:
    from sim.city import plan_city
    from sim.cityrender import _write_meta

    plan = plan_city(3, 1, 5.0, seed=4)
    _write_meta(plan, tmp_path)
    for name in ("network.yaml", "network-live.yaml"):
        view = site_view(load_network(tmp_path / name))
        x0, y0, x1, y1 = view["site"]["bounds"]
        for cam, cc in zip(view["cameras"], plan.cameras, strict=True):
            assert cam["position"] == pytest.approx(list(cc.cam.centre[:2]), abs=0.01)
            assert x0 < cam["position"][0] < x1 and y0 < cam["position"][1] < y1
            forward = cc.cam.R[2]
            assert cam["heading_deg"] == pytest.approx(math.degrees(math.atan2(forward[1], forward[0])) % 360, abs=0.1)
            assert 0 < cam["range_m"] <= 60 and 40 < cam["fov_deg"] < 80
