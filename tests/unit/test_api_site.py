"""The site map routes over a network config of the test's own (two cameras, a link, a floor plan) and the
shipped vtest network."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from configs.schema import load_network
from tests.factories import sighting

from .api_served import T0, call, get_json, served

NETWORK = """
version: 1
name: depot
site: {map_image: plan.png, bounds: [0, 0, 100, 50]}
cameras:
  - {id: gate, source: sim://gate, region: r1, fps: 10, position: [10, 5], heading_deg: 45, fov_deg: 70, range_m: 30}
  - {id: yard, source: sim://yard, region: r1, fps: 10, position: [80, 40], lat: 52.5, lon: 13.4}
topology:
  - {from: gate, to: yard, min_transit_s: 40, typical_transit_s: 60}
"""


def test_cameras_links_and_the_floor_plan(tmp_path: Path) -> None:
    plan = np.full((50, 100, 3), 200, np.uint8)
    cv2.imwrite(str(tmp_path / "plan.png"), plan)
    (tmp_path / "depot.yaml").write_text(NETWORK)
    net = load_network(tmp_path / "depot.yaml")
    rows = [sighting(sighting_id="gate/1/0", identity_id="p-a", camera_id="gate", t_start=T0),
            sighting(sighting_id="dock/1/0", identity_id="p-a", camera_id="dock", t_start=T0 + 9)]
    with served(tmp_path, rows, network=net) as s:
        code, body = get_json(f"{s.base}/api/v1/cameras", s.tokens["operator"])
        assert code == 200
        assert body["site"] == {"name": "depot", "map_image": "/api/v1/site/map", "bounds": [0, 0, 100, 50]}
        cams = {c["id"]: c for c in body["cameras"]}
        assert cams["gate"] == {"id": "gate", "region": "r1", "position": [10, 5], "heading_deg": 45, "fov_deg": 70,
                                "range_m": 30, "lat": None, "lon": None, "seen": True}
        assert cams["yard"]["seen"] is False and (cams["yard"]["lat"], cams["yard"]["lon"]) == (52.5, 13.4)
        assert cams["dock"]["position"] is None and cams["dock"]["seen"] is True  # in the store, not the config
        assert body["links"] == [{"from": "gate", "to": "yard", "min_transit_s": 40, "typical_transit_s": 60}]
        code, headers, img = call(f"{s.base}/api/v1/site/map", s.tokens["operator"])
        assert code == 200 and headers["content-type"] == "image/png"
        assert cv2.imdecode(np.frombuffer(img, np.uint8), cv2.IMREAD_COLOR).shape == (50, 100, 3)
        assert get_json(f"{s.base}/api/v1/cameras", s.tokens["auditor"])[0] == 403
        assert get_json(f"{s.base}/api/v1/site/map")[0] == 401
        assert not s.store.audit_log()  # no person in a camera layout: nothing to audit


def test_the_shipped_vtest_network_and_a_site_without_a_plan(tmp_path: Path) -> None:
    with served(tmp_path / "a", network=load_network("vtest")) as s:
        code, body = get_json(f"{s.base}/api/v1/cameras", s.tokens["admin"])
        assert code == 200 and [c["id"] for c in body["cameras"]] == ["vtest"]
        assert body["cameras"][0]["position"] is not None and body["cameras"][0]["heading_deg"] is not None
    (tmp_path / "bare.yaml").write_text("version: 1\nname: bare\ncameras:\n"
                                        "  - {id: c1, source: sim://c1, region: r, fps: 10}\n")
    with served(tmp_path / "b", network=load_network(tmp_path / "bare.yaml")) as s:
        code, body = get_json(f"{s.base}/api/v1/site/map", s.tokens["operator"])
        assert code == 404 and "map" in body["error"]
        assert get_json(f"{s.base}/api/v1/cameras", s.tokens["operator"])[1]["site"]["map_image"] is None
