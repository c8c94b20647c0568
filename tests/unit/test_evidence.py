"""Evidence per sighting, in process: the gait energy image the embed stage computes, its way through the
messages (embedding -> sighting), the store (idempotent, in its own table) and its deletion with the
sighting by forget and expire, together with the watchlist rows of a forgotten identity."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import sqlalchemy as sa

from gait.model.registry import get_embedder
from index.matcher import IdentityMatcher
from index.settings import IndexSettings
from store.db import Store
from store.evidence import Evidence
from streams.agents import Record
from streams.exceptions import SchemaError
from streams.schemas import DeadLetter, Embedding, Sighting, TrackletWindow
from streams.topics import DEADLETTER, EMBEDDINGS, SIGHTINGS
from tests.factories import embedding, sighting, tracklet_window
from workers.embed.agent import WindowEmbedder
from workers.embed.evidence import evidence_pngs, gait_energy_images
from workers.track.agent import SightingWriter


def _walker(n: int = 30) -> np.ndarray:
    """A stick walker ``[n, 64, 44]``: a steady head and torso, legs swinging from frame to frame."""
    sils = np.zeros((n, 64, 44), np.uint8)
    for i in range(n):
        sils[i, 2:12, 18:26] = 1  # head
        sils[i, 12:36, 14:30] = 1  # torso
        swing = int(round(6 * np.sin(2 * np.pi * i / 10)))
        sils[i, 36:62, 17 + swing:21 + swing] = 1  # one leg
        sils[i, 36:62, 23 - swing:27 - swing] = 1  # the other
    return sils


def _png(image: np.ndarray) -> bytes:
    return cv2.imencode(".png", image)[1].tobytes()


def test_the_gait_energy_image_is_the_mean_of_the_frames_with_foreground() -> None:
    sils = _walker()
    sils[3] = 0  # an implausible frame the frames stage blanked: not counted
    gei = gait_energy_images(sils)
    assert gei.shape == (64, 44) and gei.dtype == np.uint8
    assert gei[20, 22] == 255 and gei[0, 0] == 0  # the torso in every frame, the corner in none
    assert 0 < gei[50, 14] < 255  # a leg's swing: grey
    assert np.array_equal(gait_energy_images(sils[None])[0], gei)  # batches give the same image


def test_an_evidence_png_decodes_to_the_gei_and_an_empty_window_has_none() -> None:
    sils = np.stack([_walker(), np.zeros((30, 64, 44), np.uint8)])
    first, empty = evidence_pngs(sils)
    assert empty is None and first is not None and first.startswith(b"\x89PNG")
    img = cv2.imdecode(np.frombuffer(first, np.uint8), cv2.IMREAD_UNCHANGED)
    assert img.shape == (64, 44) and np.array_equal(img, gait_energy_images(_walker()))
    assert len(first) < 2048  # a small image: a sighting stays small on the topic and in the store


def test_image_fields_round_trip_and_bad_ones_are_refused() -> None:
    png = _png(gait_energy_images(_walker()))
    jpg = cv2.imencode(".jpg", np.full((40, 20, 3), 90, np.uint8))[1].tobytes()
    s = Sighting.from_bytes(sighting(evidence_png=png, keyframe_jpeg=jpg).to_bytes())
    assert s.evidence_png == png and s.keyframe_jpeg == jpg
    assert Sighting.from_bytes(sighting().to_bytes()).evidence_png is None  # optional: older writers
    # without images a record is what readers from before the fields accept (they refuse unknown keys)
    assert not any(b"evidence_png" in m.to_bytes() or b"keyframe_jpeg" in m.to_bytes()
                   for m in (sighting(), embedding(), tracklet_window()))
    with pytest.raises(ValueError, match="not a PNG"):
        sighting(evidence_png=jpg)
    with pytest.raises(ValueError, match="more than"):
        embedding(evidence_png=png + b"\0" * 20000)
    wire = sighting(evidence_png=png).to_bytes().replace(b'"evidence_png":"i', b'"evidence_png":"*')
    with pytest.raises(SchemaError, match="evidence_png"):  # a consumer dead-letters it
        Sighting.from_bytes(wire)


def test_the_embed_stage_attaches_the_gei_and_the_matcher_copies_it_onto_the_sighting() -> None:
    win = tracklet_window(30, silhouettes=_walker())
    out = WindowEmbedder(get_embedder("baseline"))([Record(b"k", win.to_bytes(), "t", 0, 0)])
    emb = Embedding.from_bytes(next(o.value for o in out if o.topic is EMBEDDINGS))
    assert emb.evidence_png is not None and emb.keyframe_jpeg is None
    gei = cv2.imdecode(np.frombuffer(emb.evidence_png, np.uint8), cv2.IMREAD_UNCHANGED)
    assert np.array_equal(gei, gait_energy_images(_walker()))
    outs = IdentityMatcher(IndexSettings())([Record(b"r", emb.to_bytes(), "embeddings.v1", 0, 0)])
    sight = Sighting.from_bytes(next(o.value for o in outs if o.topic is SIGHTINGS))
    assert sight.evidence_png == emb.evidence_png


def test_a_sighting_with_a_forged_image_is_dead_lettered_by_the_track_stage(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    png = _png(gait_energy_images(_walker()))
    bad = sighting(sighting_id="c/2/0", evidence_png=png).to_bytes().replace(b'"evidence_png":"iVBOR',
                                                                              b'"evidence_png":"R0lGO')
    out = SightingWriter(store)([Record(b"p-1", bad, "sightings.v1", 0, 7)])
    assert [o.topic for o in out] == [DEADLETTER] and "PNG" in DeadLetter.from_bytes(out[0].value).reason
    assert store.count() == 0


def test_the_store_keeps_evidence_once_in_its_own_table(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    png = _png(gait_energy_images(_walker()))
    jpg = cv2.imencode(".jpg", np.full((40, 20, 3), 90, np.uint8))[1].tobytes()
    writer = SightingWriter(store)
    recs = [Record(b"p-1", sighting(sighting_id="c/1/0", evidence_png=png, keyframe_jpeg=jpg).to_bytes(),
                   "sightings.v1", 0, 0),
            Record(b"p-1", sighting(sighting_id="c/1/15", t_start=2.0).to_bytes(), "sightings.v1", 0, 1)]
    writer(recs)
    writer(recs[:1])  # redelivered: stored once, no second image
    assert store.count() == 2
    assert store.evidence(["c/1/0", "c/1/15", "nope"]) == {"c/1/0": Evidence(png, jpg)}
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from evidence")).scalar() == 1
    # a listing reads no blob: the sightings table has no image column
    assert not {"gei_png", "keyframe_jpeg"} & {c["name"] for c in sa.inspect(store.engine).get_columns("sightings")}
    assert store.evidence([]) == {}


def _evidence_count(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(sa.text("select count(*) from evidence")).scalar() or 0)


def test_forget_deletes_evidence_watch_and_hits_of_the_identity_only(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    png = _png(gait_energy_images(_walker()))
    store.add_sightings([sighting(sighting_id="a/1/0", identity_id="p-a", evidence_png=png),
                         sighting(sighting_id="b/1/0", identity_id="p-b", evidence_png=png)])
    for ident, sid in (("p-a", "a/1/0"), ("p-b", "b/1/0")):
        store.watch(ident, "alice", "case 1")
        assert store.record_watch_hit(sid, ident, "c", 0.0)
    assert store.forget("p-a") == 1
    assert set(store.evidence(["a/1/0", "b/1/0"])) == {"b/1/0"} and _evidence_count(store) == 1
    assert [w.identity_id for w in store.watchlist()] == ["p-b"]
    with store.engine.connect() as conn:
        assert [r[0] for r in conn.execute(sa.text("select identity_id from watch_hits"))] == ["p-b"]


def test_expire_deletes_old_evidence_and_alerts_and_keeps_the_watchlist(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    png = _png(gait_energy_images(_walker()))
    store.add_sightings([sighting(sighting_id="c/1/0", t_start=10.0, evidence_png=png),
                         sighting(sighting_id="c/1/15", t_start=1000.0, evidence_png=png)])
    store.watch("p-1", "alice", "case 1")
    store.record_watch_hit("c/1/0", "p-1", "c", 10.0)
    store.record_watch_hit("c/1/15", "p-1", "c", 1000.0)
    assert store.expire(500.0) == 1
    assert list(store.evidence(["c/1/0", "c/1/15"])) == ["c/1/15"] and _evidence_count(store) == 1
    with store.engine.connect() as conn:
        assert [r[0] for r in conn.execute(sa.text("select sighting_id from watch_hits"))] == ["c/1/15"]
    assert [w.identity_id for w in store.watchlist()] == ["p-1"]  # an operator's decision, not sighting data


def test_reset_empties_evidence_and_alerts_with_the_sightings(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    store.add_sightings([sighting(evidence_png=_png(gait_energy_images(_walker())))])
    store.record_watch_hit("c/1/0", "p-1", "c", 0.0)
    store.watch("p-1", "alice", "case 1")
    store.reset()
    assert store.count() == 0 and _evidence_count(store) == 0 and store.record_watch_hit("c/1/0", "p-1", "c", 0.0)
    assert len(store.watchlist()) == 1


def _walk_with_frames(keyframe_crop: bool) -> list:
    """A 30-frame walk across a 200x300 image whose frame ``i`` is painted grey level ``i``, the person's
    box a colour of its own; the windows the builder cuts."""
    from configs.schema import Camera
    from gait.vision.segment import Detection
    from workers.frames.sources import Frame
    from workers.frames.tracker import Track
    from workers.frames.windows import WindowBuilder

    out: list = []
    builder = WindowBuilder(Camera(id="c", source="x.avi", region="r", fps=10.0), window=30, stride=15,
                            min_quality=0.7, max_gap=3, emit=out.append, on_drop=lambda r: None,
                            keyframe_crop=keyframe_crop)
    mask = np.zeros((160, 60), np.uint8)
    mask[5:155, 15:45] = 1
    for i in range(30):
        image = np.full((200, 300, 3), i, np.uint8)
        box = (5 * i, 20, 60, 160)
        image[20:180, 5 * i:5 * i + 60] = (0, 0, 200 + i)  # the person: red, brighter frame by frame
        det = Detection(box=box, score=1.0, mask=mask, foot=(0.0, 0.0))
        t = Track(id=3, x=np.zeros(4), p=np.eye(4), box=box, confirmed=True, detection=det)
        builder.add(Frame(index=i, timestamp=1000.0 + i / 10, image=image), [t], False)
    return out


def test_the_key_frame_crop_is_off_by_default_and_shows_the_middle_frame_s_person() -> None:
    from workers.frames.settings import FramesSettings

    assert FramesSettings().keyframe_crop is False
    assert [w.keyframe_jpeg for w in _walk_with_frames(False)] == [None]
    (win,) = _walk_with_frames(True)
    assert win.keyframe_jpeg is not None and len(win.keyframe_jpeg) < 8192
    crop = cv2.imdecode(np.frombuffer(win.keyframe_jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert crop.shape[0] == 128 and 40 < crop.shape[1] < 60  # the box with its margin, at most 128 px tall
    red = crop[40:90, 15:35].reshape(-1, 3).mean(axis=0)  # the person's middle
    assert red[2] == pytest.approx(200 + 15, abs=6) and red[0] < 10  # frame 15 of 30: the middle one
    again = TrackletWindow.from_bytes(win.to_bytes())
    assert again.keyframe_jpeg == win.keyframe_jpeg  # it travels with the window


def test_the_key_frame_travels_to_the_store_and_goes_with_forget(tmp_path: Path) -> None:
    (win,) = _walk_with_frames(True)
    out = WindowEmbedder(get_embedder("baseline"))([Record(b"k", win.to_bytes(), "t", 0, 0)])
    emb = Embedding.from_bytes(next(o.value for o in out if o.topic is EMBEDDINGS))
    assert emb.keyframe_jpeg == win.keyframe_jpeg
    outs = IdentityMatcher(IndexSettings())([Record(b"r", emb.to_bytes(), "embeddings.v1", 0, 0)])
    rec = next(o for o in outs if o.topic is SIGHTINGS)
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    SightingWriter(store)([Record(rec.key, rec.value, "sightings.v1", 0, 0)])
    sight = Sighting.from_bytes(rec.value)
    assert store.evidence([sight.sighting_id])[sight.sighting_id].keyframe_jpeg == win.keyframe_jpeg
    store.forget(sight.identity_id)
    assert store.evidence([sight.sighting_id]) == {}
