"""The control room's everyday routes on a real socket and store: identity search with pages, the person
view with evidence, the cross-camera timeline, one sighting, export, the watchlist; each audited."""

from __future__ import annotations

import base64
import csv
import io
import json
from pathlib import Path
from urllib.parse import quote

import pytest

from streams.schemas import GaitParams
from tests.factories import sighting

from .api_served import T0, call, gei_png, get_json, served

R = "reason=case%2042"


def _walk() -> list:
    """p-a on cam1 (twice) then cam2 with evidence; p-b on cam2; p-c on cam3 much later; p-ab on cam1."""
    out = [sighting(sighting_id=f"cam1/1/{i}", identity_id="p-a", camera_id="cam1", track_id=1, t_start=T0 + 2 * i,
                    x=float(i), y=0.0, score=0.9, enrolled=i == 0, evidence_png=gei_png(i),
                    gait=GaitParams(cadence_spm=110.0 + i)) for i in range(2)]
    out.append(sighting(sighting_id="cam2/5/0", identity_id="p-a", camera_id="cam2", track_id=5, t_start=T0 + 60,
                        x=80.0, evidence_png=gei_png(9)))
    out.append(sighting(sighting_id="cam2/6/0", identity_id="p-b", camera_id="cam2", track_id=6, t_start=T0 + 70))
    out.append(sighting(sighting_id="cam3/7/0", identity_id="p-c", camera_id="cam3", track_id=7, t_start=T0 + 900))
    out.append(sighting(sighting_id="cam1/8/0", identity_id="p-ab", camera_id="cam1", track_id=8, t_start=T0 + 30))
    return out


@pytest.fixture
def s(tmp_path: Path):
    with served(tmp_path, _walk()) as srv:
        yield srv


def test_identities_by_prefix_camera_time_and_page(s) -> None:
    tok, base = s.tokens["operator"], f"{s.base}/api/v1/identities"
    code, body = get_json(f"{base}?{R}", tok)
    assert code == 200 and [i["identity_id"] for i in body["identities"]] == ["p-c", "p-b", "p-a", "p-ab"]
    assert (body["total"], body["limit"], body["offset"]) == (4, 50, 0)
    assert body["identities"][2]["cameras"] == ["cam1", "cam2"] and body["identities"][2]["sightings"] == 3
    assert [i["identity_id"] for i in get_json(f"{base}?{R}&prefix=p-a", tok)[1]["identities"]] == ["p-a", "p-ab"]
    assert [i["identity_id"] for i in get_json(f"{base}?{R}&camera=cam2", tok)[1]["identities"]] == ["p-b", "p-a"]
    code, body = get_json(f"{base}?{R}&since={T0 + 65}&until={T0 + 100}", tok)
    assert [i["identity_id"] for i in body["identities"]] == ["p-b"]
    page2 = get_json(f"{base}?{R}&limit=2&offset=2", tok)[1]
    assert [i["identity_id"] for i in page2["identities"]] == ["p-a", "p-ab"] and page2["total"] == 4
    assert get_json(f"{base}?{R}&prefix=p%25", tok)[0] == 400  # not an id: no LIKE wildcards reach the store
    entry = s.store.audit_log()[0]
    assert entry.action == "api.identities" and json.loads(entry.detail)["offset"] == 2


def test_the_person_view_carries_evidence_and_the_watch(s) -> None:
    tok = s.tokens["operator"]
    code, body = get_json(f"{s.base}/api/v1/identities/p-a/sightings?{R}", tok)
    assert code == 200 and [x["sighting_id"] for x in body["sightings"]] == ["cam1/1/0", "cam1/1/1", "cam2/5/0"]
    png = base64.b64decode(body["sightings"][0]["evidence"].removeprefix("data:image/png;base64,"))
    assert png == gei_png(0) and body["sightings"][0]["keyframe"] is None
    assert body["watched"] is None and [v["camera"] for v in body["visits"]] == ["cam1", "cam2"]
    code, page = get_json(f"{s.base}/api/v1/identities/p-a/sightings?{R}&limit=2", tok)
    assert len(page["sightings"]) == 2 and page["truncated"] is True
    code, page = get_json(f"{s.base}/api/v1/identities/p-a/sightings?{R}&since={T0 + 50}", tok)
    assert [x["camera"] for x in page["sightings"]] == ["cam2"] and page["truncated"] is False
    assert get_json(f"{s.base}/api/v1/identities/p-b/sightings?{R}", tok)[1]["sightings"][0]["evidence"] is None


def test_the_cross_camera_timeline_and_one_sighting(s) -> None:
    tok = s.tokens["operator"]
    code, body = get_json(f"{s.base}/api/v1/sightings?{R}&camera=cam1,cam2&until={T0 + 65}", tok)
    assert code == 200 and body["cameras"] == ["cam1", "cam2"]
    assert [x["sighting_id"] for x in body["sightings"]] == ["cam1/1/0", "cam1/1/1", "cam1/8/0", "cam2/5/0"]
    assert body["sightings"][3]["evidence"].startswith("data:image/png;base64,")
    code, body = get_json(f"{s.base}/api/v1/sightings?{R}", tok)  # every camera
    assert body["cameras"] == ["cam1", "cam2", "cam3"] and len(body["sightings"]) == 6
    assert s.store.audit_log()[0].subject == "camera:*"
    code, one = get_json(f"{s.base}/api/v1/sightings/{quote('cam2/5/0', safe='')}?{R}", tok)
    assert code == 200 and one["identity"] == "p-a" and one["evidence"].startswith("data:image/png")
    assert s.store.audit_log()[0].subject == "p-a"  # looking at a sighting is a search for its person
    code, body = get_json(f"{s.base}/api/v1/sightings/nope?{R}", tok)
    assert code == 404 and "nope" in body["error"]
    assert get_json(f"{s.base}/api/v1/sightings/cam2%2F5%2F0", tok)[0] == 400  # no reason


def test_export_is_an_audited_attachment(s) -> None:
    tok = s.tokens["operator"]
    code, headers, body = call(f"{s.base}/api/v1/identities/p-a/export?{R}&format=csv", tok)
    assert code == 200 and headers["content-type"].startswith("text/csv")
    assert headers["content-disposition"] == 'attachment; filename="gaitline-p-a.csv"'
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert [r["sighting_id"] for r in rows] == ["cam1/1/0", "cam1/1/1", "cam2/5/0"]
    assert rows[0]["cadence_spm"] == "110.0"
    entry = s.store.audit_log()[0]
    assert (entry.action, entry.subject, entry.actor, entry.reason) == ("export", "p-a", "operator-user", "case 42")
    code, headers, body = call(f"{s.base}/api/v1/identities/p-a/export?{R}&format=json", tok)
    assert code == 200 and len(json.loads(body)["sightings"]) == 3
    code, body = get_json(f"{s.base}/api/v1/identities/p-a/export?format=csv", tok)
    assert code == 400 and "reason" in body["error"]
    assert get_json(f"{s.base}/api/v1/identities/p-zz/export?{R}", tok)[0] == 404
    assert get_json(f"{s.base}/api/v1/identities/p-a/export?{R}&format=xls", tok)[0] == 400
    assert get_json(f"{s.base}/api/v1/identities/p-a/export?{R}", s.tokens["auditor"])[0] == 403


def test_the_watchlist_is_audited_and_visible_to_auditors(s) -> None:
    op, aud, base = s.tokens["operator"], s.tokens["auditor"], f"{s.base}/api/v1/watchlist"
    code, row = get_json(base, op, "POST", {"identity_id": "p-a", "reason": "missing person 7"})
    assert code == 201 and (row["identity_id"], row["actor"], row["reason"]) == ("p-a", "operator-user",
                                                                                 "missing person 7")
    code, body = get_json(base, op, "POST", {"identity_id": "p-b"})
    assert code == 400 and "reason" in body["error"]
    code, body = get_json(base, op, "POST", {"identity_id": "p-b", "reason": "     "})
    assert code == 400 and "reason" in body["error"]
    code, body = get_json(base, op, "POST", {"identity_id": "p-nobody", "reason": "case 9"})
    assert code == 404
    assert get_json(base, aud, "POST", {"identity_id": "p-b", "reason": "case 9"})[0] == 403
    code, body = get_json(base, aud)
    assert code == 200 and [w["identity_id"] for w in body["watchlist"]] == ["p-a"]
    ids = get_json(f"{s.base}/api/v1/identities?{R}", op)[1]["identities"]
    assert {i["identity_id"]: i["watched"] for i in ids} == {"p-a": True, "p-b": False, "p-c": False, "p-ab": False}
    assert get_json(f"{s.base}/api/v1/identities/p-a/sightings?{R}", op)[1]["watched"]["actor"] == "operator-user"
    assert get_json(f"{base}/p-a", op, "DELETE")[0] == 400  # no reason
    code, body = get_json(f"{base}/p-a?reason=found%20safe", op, "DELETE")
    assert code == 204 and body is None
    assert get_json(f"{base}/p-a?reason=found%20safe", op, "DELETE")[0] == 404
    assert get_json(base, op)[1]["watchlist"] == []
    actions = [(e.action, e.subject, e.reason) for e in s.store.audit_log() if e.action in ("watch", "unwatch")]
    assert actions[:3] == [("unwatch", "p-a", "found safe"), ("unwatch", "p-a", "found safe"),
                           ("watch", "p-nobody", "case 9")]
    assert ("watch", "p-a", "missing person 7") in actions
