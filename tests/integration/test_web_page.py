"""The control-room web page in a real headless Chromium against a real API server and store."""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import cv2
import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from api.auth import TokenBook, issue_token
from api.metrics import ApiMetrics
from api.server import Api, make_server
from store.db import Store
from streams.schemas import GaitParams
from tests.factories import sighting

from .conftest import _USED

pytestmark = pytest.mark.integration

T0 = 1_700_000_000.0
# one walker over three cameras (two visits to cam1), and a bystander
WALK = [("cam1", 0, 0.0), ("cam1", 2, 2.5), ("cam2", 40, 40.0), ("cam2", 42, 42.5), ("cam3", 90, 70.0),
        ("cam1", 150, 5.0)]


def _chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.fail("headless Chromium is missing: scripts/setup.sh installs Debian's chromium")
    if not any("Chromium" in u for u in _USED):
        version = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.strip()
        _USED.append(f"real headless {version or exe}")
    return exe


@pytest.fixture
def page(tmp_path: Path) -> Iterator[tuple[str, str, Store]]:
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    rows = [sighting(sighting_id=f"w{i}", identity_id="p-walker", camera_id=cam, track_id=i, t_start=T0 + t, x=x,
                     y=10.0 + i, score=0.9, enrolled=i == 0, model="default",
                     gait=GaitParams(cadence_spm=112.0 + i, speed_mps=1.4))
            for i, (cam, t, x) in enumerate(WALK)]
    rows.append(sighting(sighting_id="b1", identity_id="p-bystander", camera_id="cam2", track_id=9, t_start=T0 + 41,
                         x=1.0, y=1.0, model="default"))
    store.add_sightings(rows)
    book = tmp_path / "tokens.json"
    token = issue_token(book, "operator-on-shift", "operator")
    server = make_server(Api(store, TokenBook.load(book), ApiMetrics(CollectorRegistry())), "127.0.0.1", 0)
    th = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    th.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", token, store
    server.shutdown()
    server.server_close()
    store.close()


def _browse(url: str, tmp_path: Path, *extra: str) -> str:
    out = subprocess.run([_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                          f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1300,1000",
                          "--virtual-time-budget=15000", *extra, url],
                         capture_output=True, text=True, timeout=120, check=True)
    return out.stdout


def test_page_draws_where_a_person_was_seen(page, tmp_path: Path) -> None:
    base, token, store = page
    url = f"{base}#token={token}&reason={quote('case 2026-117')}&identity=p-walker"
    dom = _browse(url, tmp_path, "--dump-dom")
    assert 'data-person="p-walker"' in dom, dom[-2000:]
    # the identities list, then the person: 4 visits (cam1, cam2, cam3, cam1 again) in time order
    assert len(re.findall(r'<tr data-identity="p-', dom)) == 2
    visits = re.findall(r'<tr data-camera="(cam\d)">', dom)
    assert visits == ["cam1", "cam2", "cam3", "cam1"]
    assert len(re.findall(r'<circle [^>]*data-camera=', dom)) == len(WALK)  # one dot per ground position
    assert len(re.findall(r'<rect [^>]*data-camera=', dom)) == 4  # one timeline bar per visit
    assert "6 sightings on 3 camera(s) in 4 visit(s)" in dom
    assert "operator-on-shift (operator)" in dom
    assert token not in dom  # the token left the URL for the tab's session storage
    log = store.audit_log()
    assert {(e.actor, e.action, e.subject, e.reason) for e in log} == {
        ("operator-on-shift", "api.identities", None, "case 2026-117"),
        ("operator-on-shift", "api.where", "p-walker", "case 2026-117")}

    shot = tmp_path / "page.png"
    _browse(url, tmp_path, f"--screenshot={shot}")
    img = cv2.imread(str(shot))
    assert img is not None and img.shape[:2] == (1000, 1300)
    # the trajectory and timeline are drawn in the camera colours (#1f77b4, #d62728, #2ca02c; BGR here)
    for bgr in ((180, 119, 31), (40, 39, 214), (44, 160, 44)):
        assert int(np.all(np.abs(img.astype(int) - bgr) < 8, axis=2).sum()) > 200, bgr


def test_page_shows_the_refusal_of_a_bad_token(page, tmp_path: Path) -> None:
    base, _, store = page
    dom = _browse(f"{base}#token=stolen&reason=curious&identity=p-walker", tmp_path, "--dump-dom")
    assert 'data-state="error"' in dom and "unknown or revoked token" in dom
    assert "p-walker</td>" not in dom and not store.audit_log()
