"""The control-room page in a real headless Chromium against the real API (FastAPI under uvicorn)
over a store whose sightings carry evidence, on a site whose cameras have positions and headings.

Each flow is driven as an operator would (typing, clicking, the keyboard) and leaves a screenshot
in the test artefacts (``$GAITLINE_TEST_ARTEFACTS``, default /tmp/gaitline-artefacts)."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import cv2
import numpy as np
import pytest

from tests.factories import sighting

from .web_browser import Browser, Page
from .web_site import (
    BYSTANDERS,
    CAMERAS,
    LINKED_PAIRS,
    T0,
    WALK,
    WALK_VISITS,
    Room,
    chromium,
    control_room,
    gei_png,
    keep,
)

pytestmark = pytest.mark.integration

PLACED = [c for c in CAMERAS if c[2] is not None]


@pytest.fixture
def room(tmp_path: Path) -> Iterator[Room]:
    with control_room(tmp_path) as r:
        yield r


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    with chromium(tmp_path) as b:
        yield b


def _sign_in(page: Page, room: Room, token: str, reason: str = "case 2026-117") -> None:
    page.goto(room.url)
    page.wait("document.body.dataset.state !== 'start'")
    page.type("#token", token)
    page.type("#reason", reason)
    page.press("Enter", 13)  # the keyboard submits the sign-in form


def _images_loaded(page: Page, selector: str) -> list[list[int]]:
    """[naturalWidth, naturalHeight] of each image matched, once all have decoded."""
    page.wait(f"[...document.querySelectorAll({json.dumps(selector)})].every((i) => i.complete)")
    return page.eval(f"[...document.querySelectorAll({json.dumps(selector)})]"
                     ".map((i) => [i.naturalWidth, i.naturalHeight])")


def _count(page: Page, selector: str) -> int:
    return int(page.eval(f"document.querySelectorAll({json.dumps(selector)}).length"))


def test_operator_finds_a_person_and_sees_the_map_the_path_and_the_evidence(room, browser, tmp_path) -> None:
    page = browser.page()
    _sign_in(page, room, room.operator)
    page.wait("document.querySelectorAll('#identities tbody tr').length > 0")
    assert page.eval("document.querySelector('#who').textContent") == "operator-on-shift (operator)"
    assert page.eval("document.querySelector('#audit').hidden")  # an operator has no audit view
    # the token left the field for the tab's session storage; nothing else holds it
    assert page.eval("document.querySelector('#token').value") == ""
    assert room.operator not in page.eval("document.documentElement.outerHTML + location.href")

    # identities a page at a time: the walker and 25 bystanders, 20 a page
    total = BYSTANDERS + 1
    assert page.eval("document.querySelector('#pageinfo').textContent") == f"1–20 of {total}"
    assert _count(page, "#identities tbody tr[data-identity]") == 20
    page.click("#next")
    page.wait(f"document.querySelector('#pageinfo').textContent === '21–{total} of {total}'")
    assert _count(page, "#identities tbody tr[data-identity]") == total - 20
    # the camera picker is fed by the camera list: one option per camera of the network config
    options = page.eval("[...document.querySelectorAll('#idcamera option')].map((o) => o.value)")
    assert options == [""] + [c[0] for c in CAMERAS]
    page.type("#prefix", "p-walk")
    page.click("#idform button[type=submit]")
    page.wait("document.querySelector('#pageinfo').textContent === '1–1 of 1'")
    page.click("#identities tr[data-identity='p-walker'] button")
    page.wait("document.body.dataset.person === 'p-walker'")

    # the site map: the floor plan, each placed camera with its field of view, the links, the path
    assert page.eval("document.querySelector('#map image.floorplan').getAttribute('href').startsWith('data:image/png')")
    markers = page.eval("[...document.querySelectorAll('#map [data-camera-marker]')]"
                        ".map((g) => g.dataset.cameraMarker)")
    assert markers == [c[0] for c in PLACED]
    assert _count(page, "#map polygon.fov") == len(PLACED)
    assert _count(page, "#map line.link") == LINKED_PAIRS
    assert "cam4" in page.eval("document.querySelector('#offmap').textContent")  # no position: said, not drawn
    # one stop per visit, in visit order, each labelled with its time; the path joins them
    stops = page.eval("[...document.querySelectorAll('#map .stop')].map((g) => [g.dataset.visit, g.dataset.camera, "
                      "g.querySelector('.stop-t').textContent])")
    assert [s[1] for s in stops] == ["cam1", "cam2", "cam3", "cam1"]
    assert [s[0] for s in stops] == ["1", "2", "3", "4"] and all(len(s[2]) == 8 for s in stops)
    assert page.eval("document.querySelector('#map polyline.path').points.numberOfItems") == WALK_VISITS
    assert _count(page, "#map circle.sighting-dot") == len(WALK)
    # the timeline has a bar per visit; the visits table lists them in time order
    assert _count(page, "#timeline rect.bar") == WALK_VISITS
    visits = page.eval("[...document.querySelectorAll('#visits tbody tr')].map((r) => r.dataset.camera)")
    assert visits == ["cam1", "cam2", "cam3", "cam1"]
    assert "6 sightings on 3 camera(s) in 4 visit(s)" in page.eval("document.querySelector('#summary').textContent")

    # evidence: a decoded 64x44 gait energy image per sighting, and the one key frame kept
    assert _images_loaded(page, "#evidence img.gei") == [[44, 64]] * len(WALK)
    frames = _images_loaded(page, "#evidence img.keyframe")
    assert len(frames) == 1 and frames[0][0] > 0
    # offline: everything the page loaded came from the server itself (no CDN, no map tiles)
    origins = page.eval("[...new Set(performance.getEntriesByType('resource').map((r) => new URL(r.name).origin))]")
    assert origins == [room.url.rstrip("/")]
    assert page.errors() == []

    shot = keep(page.screenshot(tmp_path / "web-person.png"))
    img = cv2.imread(str(shot))
    assert img is not None and img.shape[1] == 1400
    # the cameras and the visits are drawn in the camera colours (#1f77b4, #d62728, #2ca02c; BGR here)
    for bgr in ((180, 119, 31), (40, 39, 214), (44, 160, 44)):
        assert int(np.all(np.abs(img.astype(int) - bgr) < 8, axis=2).sum()) > 100, bgr

    log = room.store.audit_log()
    assert {(e.actor, e.subject, e.reason) for e in log if e.subject == "p-walker"} == {
        ("operator-on-shift", "p-walker", "case 2026-117")}
    assert all(e.reason == "case 2026-117" and e.actor == "operator-on-shift" for e in log)

    # the keyboard reaches the map: Enter on a camera asks who that camera saw
    page.eval("document.querySelector('#map [data-camera-marker=cam3]').focus()")
    page.press("Enter", 13)
    page.wait("document.querySelectorAll('#camresult tbody tr').length > 0")
    assert page.eval("[...document.querySelectorAll('#campicker input:checked')].map((b) => b.value)") == ["cam3"]
    cams = page.eval("[...document.querySelectorAll('#camresult tbody td:nth-child(3)')].map((c) => c.textContent)")
    assert set(cams) == {"cam3"}


def test_a_link_opens_a_person_then_cameras_and_an_export(room, browser, tmp_path) -> None:
    page = browser.page()
    # a link may carry the token: it stays in the fragment, which never reaches the server
    page.goto(f"{room.url}#token={room.operator}&reason={quote('case 2026-118')}&identity=p-walker")
    page.wait("document.body.dataset.person === 'p-walker'")
    assert page.eval("location.hash") == ""

    # a time window narrows the person's view: from a minute after the first sighting, two visits remain
    page.set_value("#psince", time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(T0 + 60)))
    page.click("#personwindow button[type=submit]")
    page.wait("document.querySelector('#summary').textContent.includes('in 2 visit(s)')")
    assert page.eval("[...document.querySelectorAll('#map .stop')].map((g) => g.dataset.camera)") == ["cam3", "cam1"]
    page.click("#pall")
    page.wait(f"document.querySelector('#summary').textContent.includes('in {WALK_VISITS} visit(s)')")

    # who did cam2 and cam3 see: the picker, a bar per sighting across both, evidence per row
    boxes = page.eval("[...document.querySelectorAll('#campicker input')].map((b) => b.value)")
    assert boxes == [c[0] for c in CAMERAS]
    page.click("#campicker input[value=cam2]")
    page.click("#campicker input[value=cam3]")
    page.click("#camform button[type=submit]")
    page.wait("document.querySelectorAll('#camresult tbody tr').length > 0")
    expected = BYSTANDERS + sum(1 for w in WALK if w[0] in ("cam2", "cam3"))
    assert _count(page, "#camresult tbody tr") == expected
    assert _count(page, "#camtimeline rect.bar") == expected
    assert page.eval("[...document.querySelectorAll('#camtimeline text')].slice(0, 2).map((t) => t.textContent)") == [
        "cam2", "cam3"]
    assert all(w == [44, 64] for w in _images_loaded(page, "#camresult img.gei"))
    assert len(_images_loaded(page, "#camresult img.gei")) == expected
    keep(page.screenshot(tmp_path / "web-cameras.png"))

    # export: the page asks for the reason (prefilled with the case), the download has the rows
    page.click("#exportcsv")
    page.wait("document.querySelector('#reason-dialog').open")
    assert page.eval("document.querySelector('#reason-input').value") == "case 2026-118"
    page.type("#reason-input", "court order 7/2026")
    keep(page.screenshot(tmp_path / "web-export-reason.png", full_page=False))
    page.click("#reason-ok")
    page.wait("document.body.dataset.exported")
    name = page.eval("document.body.dataset.exported")
    browser.wait_event(lambda e: e.get("method") == "Browser.downloadProgress" and e["params"]["state"] == "completed")
    rows = list(csv.DictReader(io.StringIO((tmp_path / "downloads" / name).read_text())))
    assert sorted(r["sighting_id"] for r in rows) == sorted(f"w{i}" for i in range(len(WALK)))
    assert {r["camera"] for r in rows} == {"cam1", "cam2", "cam3"}

    page.eval("delete document.body.dataset.exported")
    page.click("#exportjson")
    page.wait("document.querySelector('#reason-dialog').open")
    page.click("#reason-ok")  # the prefilled case reason is enough
    page.wait("document.body.dataset.exported")
    name = page.eval("document.body.dataset.exported")
    path = tmp_path / "downloads" / name
    browser.wait_event(lambda e: e.get("method") == "Browser.downloadProgress" and e["params"]["state"] == "completed"
                       and e["params"].get("guid") != "" and path.exists())
    body = json.loads(path.read_text())
    got = body["sightings"] if isinstance(body, dict) else body
    assert sorted(s["sighting_id"] for s in got) == sorted(f"w{i}" for i in range(len(WALK)))

    # a cancelled export exports nothing and says why
    page.click("#exportcsv")
    page.wait("document.querySelector('#reason-dialog').open")
    page.press("Escape", 27)
    page.wait("document.querySelector('#status').textContent.includes('not exported')")

    exports = [e for e in room.store.audit_log() if e.action == "export"]
    assert sorted(e.reason for e in exports) == ["case 2026-118", "court order 7/2026"]
    assert all(e.subject == "p-walker" and e.actor == "operator-on-shift" for e in exports)
    assert page.errors() == []


def test_the_auditor_sees_the_log_and_the_watchlist_but_cannot_search(room, browser, tmp_path) -> None:
    room.store.audit("operator-on-shift", "api.where", "case 2026-117", subject="p-walker")
    room.store.watch("p-walker", "operator-on-shift", "case 2026-117")
    page = browser.page()
    _sign_in(page, room, room.auditor, "quarterly review")
    page.wait("document.querySelectorAll('#auditlog tbody tr').length > 0")
    assert page.eval("document.querySelector('#find').hidden && document.querySelector('#site').hidden")
    actions = page.eval("[...document.querySelectorAll('#auditlog tbody tr')].map((r) => r.dataset.action)")
    assert "api.where" in actions
    assert page.eval("[...document.querySelectorAll('#watchlist tbody tr')].map((r) => r.dataset.identity)") == [
        "p-walker"]
    keep(page.screenshot(tmp_path / "web-auditor.png", full_page=False))
    assert page.errors() == []


def test_the_demo_site_one_real_camera_over_its_ground_view(tmp_path, browser) -> None:
    # the shipped network of the demo: one real camera, its position and view from its homography, and
    # for a map the video's empty walkway seen from above
    vtest = Path(__file__).resolve().parents[2] / "configs" / "networks" / "vtest.yaml"
    with control_room(tmp_path, rows=False, network=vtest) as room:
        # two visits to the camera, 40 s apart, people 15-35 m in front of it (as the homography maps them)
        walk = [sighting(sighting_id=f"v{i}", identity_id="p-demo", camera_id="vtest", track_id=1 + i // 3,
                         region="demo", t_start=T0 + i * 3 + (i // 3) * 40, x=-3.0 + i, y=15.0 + 4 * i,
                         enrolled=i == 0, model="default", evidence_png=gei_png(i))
                for i in range(6)]
        room.store.add_sightings(walk)
        page = browser.page()
        page.goto(f"{room.url}#token={room.operator}&reason=demo%20check&identity=p-demo")
        page.wait("document.body.dataset.person === 'p-demo'")
        assert page.eval("document.querySelector('#map image.floorplan').getAttribute('href')").startswith(
            "data:image/jpeg;base64,")
        assert _count(page, "#map [data-camera-marker=vtest]") == 1 and _count(page, "#map polygon.fov") == 1
        assert _count(page, "#map line.link") == 0
        # one visit per track on the one camera: consecutive sightings of one camera fold into one visit
        assert page.eval("document.querySelector('#map polyline.path').points.numberOfItems") == _count(
            page, "#visits tbody tr")
        assert _count(page, "#map circle.sighting-dot") == len(walk)
        assert _images_loaded(page, "#evidence img.gei") == [[44, 64]] * len(walk)
        keep(page.screenshot(tmp_path / "web-vtest.png"))
        assert page.errors() == []


def test_a_token_revoked_during_a_shift_is_refused_at_once(room, browser) -> None:
    from api.auth import digest, revoke_token

    page = browser.page()
    page.goto(f"{room.url}#token={room.operator}&reason={quote('case 2026-121')}")
    page.wait("document.body.dataset.live === 'open'")
    revoke_token(room.tokens, digest(room.operator)[:12])  # `gaitline api revoke`: no restart
    page.type("#prefix", "p-walk")
    page.click("#idform button[type=submit]")
    page.wait("document.body.dataset.state === 'error'")
    assert "revoked" in page.eval("document.querySelector('#status').textContent")
    # the page stops listening too: the live feed is not retried with a refused token
    assert page.eval("document.body.dataset.live") == "refused"
    assert not [e for e in room.store.audit_log() if e.detail and '"p-walk"' in e.detail]


def test_a_bad_token_is_refused_and_nothing_is_shown(room, browser) -> None:
    page = browser.page()
    page.goto(f"{room.url}#token=stolen&reason=curious&identity=p-walker")
    page.wait("document.body.dataset.state === 'error'")
    status = page.eval("document.querySelector('#status').textContent")
    assert "token" in status, status
    assert page.eval("document.querySelector('#find').hidden && document.querySelector('#person').hidden")
    assert "p-walker</" not in page.eval("document.documentElement.outerHTML")
    assert not room.store.audit_log()
