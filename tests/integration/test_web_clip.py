"""Search by clip from the control-room page, in a real headless Chromium: a real recording is
uploaded, analysed on the server by the real frames stage and model, matched against a gallery
replayed from the real broker, and the results show the evidence of each person matched."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from api.probe import ProbeSettings, kafka_gallery
from gait.model.registry import embed_windows, get_embedder
from store.db import Store
from streams.clients import send_records
from streams.topics import GALLERY
from tests.factories import gallery_entry, sighting
from workers.analyze import collect_windows, network_for, probe_video

from .web_site import T0, chromium, control_room, keep

pytestmark = pytest.mark.integration

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")


def _clip(dest: Path, frames: int) -> Path:
    """The first ``frames`` frames of vtest.avi, re-encoded (a clip an operator would upload)."""
    cap = cv2.VideoCapture(str(VTEST))
    fourcc = cv2.VideoWriter_fourcc(*"MJPG")  # type: ignore[attr-defined]
    out = cv2.VideoWriter(str(dest), fourcc, 10.0, (768, 576))
    for _ in range(frames):
        ok, img = cap.read()
        assert ok
        out.write(img)
    out.release()
    cap.release()
    return dest


def test_a_clip_search_names_the_people_seen_before_with_their_evidence(kafka, tmp_path) -> None:
    clip = _clip(tmp_path / "clip.avi", 300)
    # enrol the clip's three longest tracks as the index would (mean vector per identity), each with
    # a stored sighting whose evidence is the gait energy image of its first window
    fps, total = probe_video(clip)
    by_track, _ = collect_windows(network_for(clip, fps), total)
    longest = sorted(by_track, key=lambda t: -len(by_track[t]))[:3]
    emb = get_embedder("default", embed_from="auto")
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    entries = []
    for tid in longest:
        v = embed_windows(emb, [w.silhouettes for w in by_track[tid]]).mean(axis=0)
        now = time.time()
        entries.append(gallery_entry(v, identity_id=f"p-track{tid}", model=emb.name, model_version=emb.version,
                                     n_sightings=len(by_track[tid]), created_at=now, last_camera_id="cam1",
                                     last_seen=now))
        gei = (by_track[tid][0].silhouettes.astype(np.float32).mean(axis=0) * 255).astype(np.uint8)  # [64, 44]
        store.add_sightings([sighting(sighting_id=f"w{tid}", identity_id=f"p-track{tid}", camera_id="cam1",
                                      track_id=tid, region="north", t_start=T0 + tid, x=10.0, y=10.0,
                                      model=emb.name, evidence_png=cv2.imencode(".png", gei)[1].tobytes())])
    store.close()
    send_records(kafka, GALLERY.full_name(kafka.namespace), [(e.identity_id.encode(), e.to_bytes()) for e in entries])

    # a threshold that names every walker of this clip (see test_probe_search for the calibrated one)
    probe = ProbeSettings(max_bytes=clip.stat().st_size + 10, threshold=0.6)
    with control_room(tmp_path, store_url=f"sqlite:///{tmp_path / 'store.db'}", rows=False,
                      gallery=kafka_gallery(kafka), probe=probe) as room, chromium(tmp_path) as browser:
        page = browser.page()
        page.goto(f"{room.url}#token={room.operator}&reason=incident%2019")
        page.wait("document.querySelector('#who').textContent.includes('operator')")
        page.upload("#clip", clip)
        page.click("#clipform button[type=submit]")
        page.wait("['done', 'error'].includes(document.body.dataset.clip)", timeout_s=600)
        status = page.eval("document.querySelector('#status').textContent")
        assert page.eval("document.body.dataset.clip") == "done", status
        matched = page.eval("[...document.querySelectorAll('#clipresult tbody tr[data-identity]')]"
                            ".map((r) => r.dataset.identity)")
        # each enrolled walker is named (a walker the tracker split in two is named twice)
        assert set(matched) == {f"p-track{t}" for t in longest}
        page.wait("[...document.querySelectorAll('#clipresult img.gei')].every((i) => i.complete)")
        sizes = page.eval("[...document.querySelectorAll('#clipresult img.gei')].map((i) => [i.naturalWidth, "
                          "i.naturalHeight])")
        assert sizes == [[44, 64]] * len(matched)  # the evidence of each person matched
        keep(page.screenshot(tmp_path / "web-clip.png"))
        # a match opens the person from the results
        page.click(f"#clipresult tr[data-identity='p-track{longest[0]}'] button")
        page.wait(f"document.body.dataset.person === 'p-track{longest[0]}'")
        assert page.errors() == []
        audit = {(e.action, e.subject) for e in room.store.audit_log()}
        assert {("api.probe.match", f"p-track{t}") for t in longest} <= audit
