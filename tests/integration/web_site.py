"""A control room for the browser tests: a site (network config with camera geometry and a floor
plan), a store of sightings with evidence, tokens, the real API under real uvicorn, and where the
screenshots go."""

from __future__ import annotations

import math
import os
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from store.db import Store
from streams.schemas import GaitParams, Sighting
from tests.factories import sighting

from .web_browser import Browser

T0 = 1_700_000_000.0
# cameras on an 80 x 50 m site: (id, region, position, heading_deg, fov_deg, range_m); cam4 has no position
CAMERAS = [("cam1", "north", (6.0, 6.0), 40.0, 70.0, 18.0), ("cam2", "north", (40.0, 47.0), -90.0, 60.0, 16.0),
           ("cam3", "south", (74.0, 6.0), 140.0, 60.0, 18.0), ("cam4", "south", None, None, 60.0, 20.0)]
LINKS = [("cam1", "cam2", 20.0, 40.0), ("cam2", "cam1", 20.0, 40.0), ("cam2", "cam3", 30.0, 50.0)]
LINKED_PAIRS = 2  # cam1-cam2 (both ways: one line) and cam2-cam3
# one walker over three cameras (two visits to cam1): (camera, seconds after T0, x, y) in site metres
WALK = [("cam1", 0, 12.0, 12.0), ("cam1", 2, 14.0, 13.0), ("cam2", 40, 40.0, 37.0), ("cam2", 42, 42.0, 36.0),
        ("cam3", 90, 66.0, 12.0), ("cam1", 150, 13.0, 15.0)]
WALK_VISITS = 4
BYSTANDERS = 25  # with the walker, two pages of identities at 20 a page


def gei_png(seed: int) -> bytes:
    """A gait energy image as the embed stage makes one: the mean of a walking window's silhouettes
    ([64, 44] uint8), here of a drawn walker whose legs swing, encoded as a grayscale PNG."""
    rng = np.random.default_rng(seed)
    width, swing = rng.uniform(4.5, 7.0), rng.uniform(0.25, 0.45)
    frames = np.zeros((30, 64, 44), np.float32)
    for i in range(30):
        f = np.zeros((64, 44), np.uint8)
        phase = math.sin(2 * math.pi * i / 15)
        cv2.ellipse(f, (22, 7), (4, 5), 0, 0, 360, 1, -1)  # head
        cv2.rectangle(f, (int(22 - width), 12), (int(22 + width), 36), 1, -1)  # torso
        for side in (-1, 1):
            a = side * swing * phase
            cv2.line(f, (22, 35), (int(22 + 26 * math.sin(a)), 63), 1, 5)  # legs
            cv2.line(f, (22 + side * int(width), 14), (int(22 + side * width + 14 * math.sin(-a)), 32), 1, 3)  # arms
        frames[i] = f
    gei = (frames.mean(axis=0) * 255).astype(np.uint8)  # [64, 44]
    ok, buf = cv2.imencode(".png", gei)
    assert ok
    return buf.tobytes()


def keyframe_jpeg() -> bytes:
    """A small JPEG crop of one person, as the frames stage takes where key-frame crops are on."""
    img = np.full((96, 48, 3), (90, 120, 110), np.uint8)
    cv2.ellipse(img, (24, 14), (7, 9), 0, 0, 360, (150, 170, 210), -1)
    cv2.rectangle(img, (14, 24), (34, 60), (60, 40, 150), -1)
    cv2.rectangle(img, (16, 60), (32, 94), (60, 50, 40), -1)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 80])
    assert ok
    return buf.tobytes()


def floor_plan_png(path: Path) -> Path:
    """A floor plan of the 80 x 50 m site at 10 px a metre: two buildings, a path and a lawn."""
    img = np.full((500, 800, 3), (236, 240, 243), np.uint8)
    cv2.rectangle(img, (0, 330), (800, 500), (214, 232, 206), -1)  # lawn in the south
    cv2.rectangle(img, (220, 60), (340, 230), (200, 200, 200), -1)  # buildings (y grows southwards)
    cv2.rectangle(img, (470, 40), (640, 200), (200, 200, 200), -1)
    cv2.polylines(img, [np.array([[60, 440], [400, 60], [740, 440]], np.int32)], False, (190, 205, 222), 28)
    for x, y, name in ((240, 150, "HALL"), (500, 130, "LIBRARY")):
        cv2.putText(img, name, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (120, 120, 120), 2)
    cv2.imwrite(str(path), img)
    return path


def write_network(folder: Path) -> Path:
    """The site's network config (cameras with geometry, topology, floor plan); its path."""
    floor_plan_png(folder / "site.png")
    lines = ["version: 1", "name: campus", "site:", "  map_image: site.png", "  bounds: [0, 0, 80, 50]", "cameras:"]
    for cid, region, pos, heading, fov, rng in CAMERAS:
        lines += [f"  - id: {cid}", f"    source: rtsp://{cid}.campus.example/stream", f"    region: {region}",
                  "    fps: 10", f"    fov_deg: {fov}", f"    range_m: {rng}"]
        if pos is not None:
            lines += [f"    position: [{pos[0]}, {pos[1]}]", f"    heading_deg: {heading}"]
    lines.append("topology:")
    for a, b, lo, typ in LINKS:
        lines += [f"  - from: {a}", f"    to: {b}", f"    min_transit_s: {lo}", f"    typical_transit_s: {typ}"]
    path = folder / "campus.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def walker_sightings(identity: str = "p-walker") -> list[Sighting]:
    """The walker's sightings, each with its gait energy image (the first one with a key frame too)."""
    return [sighting(sighting_id=f"w{i}", identity_id=identity, camera_id=cam, track_id=i, region="north",
                     t_start=T0 + t, x=x, y=y, score=0.9 - 0.01 * i, enrolled=i == 0, model="default",
                     gait=GaitParams(cadence_spm=112.0 + i, speed_mps=1.4), evidence_png=gei_png(i),
                     keyframe_jpeg=keyframe_jpeg() if i == 0 else None)
            for i, (cam, t, x, y) in enumerate(WALK)]


def bystander_sightings(n: int = BYSTANDERS) -> list[Sighting]:
    """One sighting each of ``n`` other people, on cam2 or cam3 around the walker's time there."""
    return [sighting(sighting_id=f"b{i}", identity_id=f"p-by{i:02d}", camera_id="cam2" if i % 2 else "cam3",
                     track_id=100 + i, region="south", t_start=T0 + 30 + 3 * i, x=30.0 + i, y=30.0 - i / 2,
                     score=0.8, model="default", evidence_png=gei_png(100 + i))
            for i in range(n)]


def artefacts_dir() -> Path:
    """Where screenshots are kept after the test: $GAITLINE_TEST_ARTEFACTS or /tmp/gaitline-artefacts."""
    d = Path(os.environ.get("GAITLINE_TEST_ARTEFACTS") or "/tmp/gaitline-artefacts")  # noqa: S108 -- a test artefact folder
    d.mkdir(parents=True, exist_ok=True)
    return d


def keep(shot: Path) -> Path:
    """Copy a screenshot from the test's temporary folder to the artefacts folder; the copy's path."""
    dest = artefacts_dir() / shot.name
    shutil.copyfile(shot, dest)
    return dest


@contextmanager
def uvicorn_serving(app: Any) -> Iterator[str]:
    """Serve the ASGI ``app`` with real uvicorn on a free port in a thread; yields its base URL."""
    import uvicorn

    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on",
                            timeout_graceful_shutdown=3)
    server = uvicorn.Server(config)
    th = threading.Thread(target=server.run, daemon=True)
    th.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not th.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        th.join(30)


@dataclass
class Room:
    """A running control room: its page's URL, its store, tokens for each role, the API's state."""

    url: str
    store: Store
    operator: str
    auditor: str
    api: Any  # api.state.Api: tests may change its probe settings between requests
    tokens: Path  # the token file (a test may revoke a token in it)


@contextmanager
def control_room(tmp: Path, store_url: str | None = None, rows: bool = True, gallery: Any = None,
                 probe: Any = None, network: Path | None = None) -> Iterator[Room]:
    """The real API (FastAPI under uvicorn) over a store with the walker and the bystanders (``rows``),
    the ``network`` config (default: the campus of :func:`write_network`), and tokens for an operator
    and an auditor."""
    from prometheus_client import CollectorRegistry

    from api.app import create_app
    from api.auth import TokenBook, issue_token
    from api.metrics import ApiMetrics
    from api.settings import ApiSettings
    from configs.schema import load_network

    store = Store(store_url or f"sqlite:///{tmp / 'store.db'}")
    if rows:
        store.add_sightings(walker_sightings() + bystander_sightings())
    book = tmp / "tokens.json"
    operator = issue_token(book, "operator-on-shift", "operator")
    auditor = issue_token(book, "auditor-on-duty", "auditor")
    loaded = load_network(network or write_network(tmp))
    app = create_app(store, TokenBook.load(book), ApiMetrics(CollectorRegistry()), network=loaded, gallery=gallery,
                     probe=probe, settings=ApiSettings(live_poll_s=0.2))
    try:
        with uvicorn_serving(app) as url:
            yield Room(url, store, operator, auditor, app.state.api, book)
    finally:
        store.close()


@contextmanager
def chromium(tmp: Path) -> Iterator[Browser]:
    """A real headless Chromium with its own profile; downloads land in ``tmp/downloads``."""
    from .conftest import _USED

    b = Browser(tmp / "profile", tmp / "downloads")
    if not any("Chromium" in u for u in _USED):
        _USED.append(f"real headless Chromium {b.send('Browser.getVersion')['product']} (DevTools over a pipe)")
    try:
        yield b
    finally:
        b.close()
