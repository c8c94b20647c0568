"""Search by clip from the control-room page, in a real headless Chromium: a real recording is
uploaded, analysed on the server by the real frames stage and model, matched against a gallery
replayed from the real broker, and the results show the evidence of each person matched."""

from __future__ import annotations

import pytest

from api.probe import ProbeSettings, kafka_gallery
from store.db import Store

from .clips import enrol_longest_tracks, vtest_clip
from .web_site import T0, chromium, control_room, keep

pytestmark = pytest.mark.integration

def test_a_clip_search_names_the_people_seen_before_with_their_evidence(kafka, tmp_path) -> None:
    clip = vtest_clip(tmp_path / "clip.avi", 300)
    # the clip's three longest tracks enrolled, each with a stored sighting whose evidence is the
    # gait energy image of its first window
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    longest = list(enrol_longest_tracks(clip, store, kafka, "cam1", evidence=True, region="north",
                                        t_start=T0, x=10.0, y=10.0)[0])
    store.close()

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
