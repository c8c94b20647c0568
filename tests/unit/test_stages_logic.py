"""The stage handlers without Kafka: embed, identity matching, store writing."""

import numpy as np
import pytest

from gait.exceptions import UnknownEmbedderError
from gait.model.registry import get_embedder
from index.gallery import AnnConfig, Gallery
from index.matcher import IdentityMatcher
from index.settings import IndexSettings
from store.db import Store
from streams.agents import Record
from streams.schemas import DeadLetter, Embedding, GaitParams, GalleryEntry, Sighting
from streams.topics import DEADLETTER, EMBEDDINGS, GALLERY, SIGHTINGS
from tests.factories import embedding, sighting, tracklet_window
from workers.embed.agent import WindowEmbedder
from workers.track.agent import SightingWriter


def _rec(value, offset=0):
    return Record(b"k", value, "embeddings.v1", 0, offset)


def test_gallery_search_enrol_update_remove():
    g = Gallery(3)
    assert g.search(np.array([1, 0, 0])) == []
    a = g.enrol(np.array([1, 0, 0]), now=1.0)
    b = g.enrol(np.array([0, 1, 0]), now=2.0)
    (ident, score), (second, _) = g.search(np.array([0.9, 0.1, 0]), k=5)
    assert second == b
    assert ident == a and score > 0.9
    g.update(a, np.array([0, 0, 1]), rate=0.5)
    assert g.counts[a] == 2 and 0.6 < g.score(a, np.array([0, 0, 1])) < 0.8
    assert g.remove(b) and not g.remove(b)
    assert g.search(np.array([0, 1, 0]))[0][0] == a and len(g) == 1


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_gallery_switches_to_ann_and_keeps_finding_people(kind):
    rng = np.random.default_rng(0)
    vecs = rng.standard_normal((400, 16)).astype(np.float32)
    g = Gallery(16, ann=AnnConfig(min_identities=200, nprobe=8, kind=kind))
    ids = [f"p{i}" for i in range(len(vecs))]
    for i, v in zip(ids[:199], vecs[:199], strict=True):
        g.put(i, v)
    assert not g.approximate
    for i, v in zip(ids[199:], vecs[199:], strict=True):
        g.put(i, v)
    g.wait_rebuild()
    assert g.approximate and g.rebuilds == 2  # built at 200 identities, rebuilt at 400
    hits = sum(g.search(v + 0.05 * rng.standard_normal(16))[0][0] == i for i, v in zip(ids, vecs, strict=True))
    assert hits >= 0.95 * len(ids)
    # updates and removals work on the approximate index too
    g.update("p3", vecs[3], rate=0.5)
    assert g.remove("p5") and all(i != "p5" for i, _ in g.search(vecs[5], k=5))
    assert len(g) == len(ids) - 1


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_gallery_rebuild_runs_in_the_background_and_keeps_changes_made_meanwhile(kind):
    import threading

    rng = np.random.default_rng(1)
    vecs = rng.standard_normal((260, 16)).astype(np.float32)
    g = Gallery(16, ann=AnnConfig(min_identities=200, nprobe=8, kind=kind))
    go = threading.Event()
    build = g._build

    def slow_build(labels, v):
        go.wait(10)
        return build(labels, v)

    g._build = slow_build  # type: ignore[method-assign]
    for i in range(200):
        g.put(f"p{i}", vecs[i])
    assert g.rebuilding and not g.approximate  # the builder waits; the exact index still answers
    assert g.search(vecs[7])[0][0] == "p7"
    for i in range(200, 260):  # changes during the rebuild
        g.put(f"p{i}", vecs[i])
    g.update("p3", vecs[4], rate=1.0)
    assert g.remove("p5")
    go.set()
    assert g.wait_rebuild(10) and g.approximate and not g.rebuilding
    assert g.search(vecs[250])[0][0] == "p250" and g.search(vecs[4], k=2)[0][0] in ("p3", "p4")
    assert all(i != "p5" for i, _ in g.search(vecs[5], k=10)) and len(g) == 259
    # the journal replayed: no stale or missing vectors (a graph keeps the 2 replaced nodes, masked)
    assert g._index.ntotal - g._dead == 259 and g._dead == (2 if kind == "hnsw" else 0)


def test_hnsw_masks_replaced_nodes_and_compacts_when_they_pile_up():
    rng = np.random.default_rng(2)
    vecs = rng.standard_normal((100, 16)).astype(np.float32)
    g = Gallery(16, ann=AnnConfig(min_identities=100, kind="hnsw", max_dead_share=0.5, background=False))
    for i, v in enumerate(vecs):
        g.put(f"p{i}", v)
    assert g.approximate and g._dead == 0 and g.rebuilds == 1
    for i in range(50):  # every sighting moves its identity: the old node stays in the graph
        g.update(f"p{i}", vecs[i] + 0.1 * rng.standard_normal(16).astype(np.float32), rate=0.3)
    assert g._dead == 50 and g._index.ntotal == 150 and g.rebuilds == 1
    assert g.search(vecs[7], k=3)[0][0] == "p7"  # never the stale node: one answer per identity
    assert len({i for i, _ in g.search(vecs[7], k=20)}) == 20
    g.update("p60", vecs[60], rate=0.3)  # one more than half: the graph is rebuilt without them
    assert g.rebuilds == 2 and g._dead == 0 and g._index.ntotal == 100
    assert g.remove("p8") and all(i != "p8" for i, _ in g.search(vecs[8], k=10))


def test_a_failing_compaction_is_retried_after_more_clutter_not_on_every_put():
    rng = np.random.default_rng(3)
    vecs = rng.standard_normal((100, 16)).astype(np.float32)
    g = Gallery(16, ann=AnnConfig(min_identities=100, kind="hnsw", max_dead_share=0.5))
    for i, v in enumerate(vecs):
        g.put(f"p{i}", v)
    assert g.wait_rebuild(10) and g.rebuilds == 1
    build, tries = g._build, []

    def broken_build(labels, v):
        tries.append(len(labels))
        raise MemoryError("no room for the graph")

    g._build = broken_build  # type: ignore[method-assign]

    def move(i: int) -> None:
        g.update(f"p{i % 100}", vecs[i % 100] + 0.1 * rng.standard_normal(16).astype(np.float32), rate=0.3)
        g.wait_rebuild(10)

    for i in range(51):
        move(i)
    assert tries == [100]  # cluttered: one compaction tried, it failed
    for i in range(51, 90):
        move(i)
    assert tries == [100] and g.search(vecs[95])[0][0] == "p95"  # the old graph still answers
    for i in range(90, 102):
        move(i)
    assert tries == [100, 100]  # another share of clutter: one more try
    g._build = build  # type: ignore[method-assign]
    for i in range(102, 160):
        move(i)
    assert g.rebuilds == 2 and g._dead < 50


def test_another_model_version_is_dead_lettered_not_matched():
    m = IdentityMatcher(IndexSettings(match_threshold=0.9))
    out = m([_rec(embedding([1, 0, 0], camera_id="c1").to_bytes())])
    assert GalleryEntry.from_bytes(out[1].value).model_version == "1"
    out = m([_rec(embedding([1, 0, 0], camera_id="c1", track_id=2, model_version="2").to_bytes(), offset=7)])
    assert [o.topic for o in out] == [DEADLETTER]
    dead = DeadLetter.from_bytes(out[0].value)
    assert "model m 2" in dead.reason and "m 1" in dead.reason and dead.offset == 7
    assert len(m.gallery) == 1


def test_open_set_matching_enrols_strangers_and_keeps_tracks():
    m = IdentityMatcher(IndexSettings(match_threshold=0.9))
    out = m([_rec(embedding([1, 0, 0, 0], camera_id="c1").to_bytes())])
    assert [o.topic for o in out] == [SIGHTINGS, GALLERY]
    first = Sighting.from_bytes(out[0].value)
    assert first.enrolled and first.score == 1.0
    assert GalleryEntry.from_bytes(out[1].value).op == "enrol"
    # the same walker on another camera: matched, not enrolled
    again = Sighting.from_bytes(m([_rec(embedding([0.98, 0.05, 0, 0], camera_id="c2", track_id=7).to_bytes())])[0]
                                .value)
    assert not again.enrolled and again.identity_id == first.identity_id and again.score > 0.9
    # a stranger: a new identity
    other = Sighting.from_bytes(m([_rec(embedding([0, 0, 1, 0], camera_id="c2", track_id=8).to_bytes())])[0].value)
    assert other.enrolled and other.identity_id != first.identity_id
    # a later window of a known track keeps its identity even when the vector drifts
    later = embedding([0, 0.5, 0.8, 0], window_id="c2/8/15", camera_id="c2", track_id=8).to_bytes()
    drift = Sighting.from_bytes(m([_rec(later)])[0].value)
    assert drift.identity_id == other.identity_id and not drift.enrolled
    # a redelivered window is not matched twice
    assert m([_rec(later)]) == []


def test_matcher_dead_letters_bad_records_and_continues():
    m = IdentityMatcher(IndexSettings())
    good = embedding([1, 0, 0, 0]).to_bytes()
    wrong_dim = embedding([1, 0, 0, 0, 0, 0], track_id=2).to_bytes()
    out = m([_rec(b"nonsense", 1), _rec(good, 2), _rec(wrong_dim, 3)])
    topics = [o.topic for o in out]
    assert topics.count(DEADLETTER) == 2 and topics.count(SIGHTINGS) == 1
    letters = [DeadLetter.from_bytes(o.value) for o in out if o.topic is DEADLETTER]
    assert {dl.offset for dl in letters} == {1, 3}
    assert any("dim 6" in dl.reason for dl in letters) and all(dl.stage == "index" for dl in letters)


def test_window_embedder_groups_lengths_and_dead_letters():
    handler = WindowEmbedder(get_embedder("baseline"))

    def win(n, wid):
        masks = np.random.default_rng(n).integers(0, 2, (n, 64, 44), dtype=np.uint8)
        return tracklet_window(n, window_id=wid, ground_plane=False, silhouettes=masks)

    out = handler([Record(b"k", win(30, "a").to_bytes(), "t", 0, 0), Record(b"k", b"bad", "t", 0, 1),
                   Record(b"k", win(20, "b").to_bytes(), "t", 0, 2)])
    embs = [Embedding.from_bytes(o.value) for o in out if o.topic is EMBEDDINGS]
    assert sorted(e.window_id for e in embs) == ["a", "b"] and all(e.dim == 256 for e in embs)
    assert [DeadLetter.from_bytes(o.value).offset for o in out if o.topic is DEADLETTER] == [1]


def test_baseline_embeddings_separate_different_shapes():
    e = get_embedder("baseline")
    thin = np.zeros((1, 30, 64, 44), np.float32)
    thin[..., 5:60, 19:25] = 1
    wide = np.zeros((1, 30, 64, 44), np.float32)
    wide[..., 5:60, 10:34] = 1
    v = e.embed(np.concatenate([thin, thin * 1.0, wide]))
    assert v.shape == (3, 256)
    assert float(v[0] @ v[1]) > 0.99 and float(v[0] @ v[2]) < 0.9
    with pytest.raises(UnknownEmbedderError, match="unknown model 'nope'"):
        get_embedder("nope")


def test_sighting_writer_is_idempotent(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    writer = SightingWriter(store)
    s = sighting(sighting_id="w1", t_start=1, x=1, y=2, gait=GaitParams(cadence_spm=100))
    assert writer([Record(b"p-1", s.to_bytes(), "s", 0, 0), Record(b"p-1", b"junk", "s", 0, 1)])[0].topic is DEADLETTER
    writer([Record(b"p-1", s.to_bytes(), "s", 0, 0)])
    assert store.count() == 1
    rows = store.where("p-1")
    assert rows[0].cadence_spm == 100 and rows[0].camera_id == "c"
    assert [i.identity_id for i in store.identities()] == ["p-1"]
    assert store.forget("p-1") == 1 and store.count() == 0


def test_transit_gating_refuses_impossible_walks():
    from configs.schema import Camera, Edge, Network
    from index.gating import TransitGate

    cams = [Camera(id=c, source=f"{c}.avi", region="r", fps=10) for c in ("a", "b", "c")]
    net = Network(name="n", cameras=cams, topology=[Edge.model_validate(
        {"from": "a", "to": "b", "min_transit_s": 30, "typical_transit_s": 60})])
    gate = TransitGate(net, open_world_s=600)
    assert gate.feasible("a", 100.0, "a", 101.0)  # same camera
    assert not gate.feasible("a", 100.0, "b", 110.0) and gate.feasible("b", 100.0, "a", 131.0)
    assert not gate.feasible("a", 100.0, "c", 400.0) and gate.feasible("a", 100.0, "c", 701.0)
    assert TransitGate(None).feasible("a", 100.0, "c", 100.0)

    m = IdentityMatcher(IndexSettings(match_threshold=0.9), gate=gate)
    first = Sighting.from_bytes(m([_rec(embedding([1, 0, 0, 0], camera_id="a", t_start=100).to_bytes())])[0].value)
    # the same vector on b ten seconds later cannot be the same walker: a new identity
    fast = Sighting.from_bytes(m([_rec(embedding([1, 0, 0, 0], camera_id="b", t_start=110).to_bytes())])[0].value)
    assert fast.enrolled and fast.identity_id != first.identity_id
    # on c an hour later it can: matched to the closest feasible identity
    late = Sighting.from_bytes(m([_rec(embedding([1, 0, 0, 0], t_start=4000).to_bytes())])[0].value)
    assert not late.enrolled and late.identity_id in {first.identity_id, fast.identity_id}


def test_store_takes_a_batch_larger_than_one_sqlite_statement(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    batch = [sighting(sighting_id=f"w{i}", identity_id=f"p-{i % 7}", track_id=i, t_start=i, ground_plane=False,
                      enrolled=False) for i in range(2500)]  # 2500 x 22 values > SQLite's 32 766
    assert store.add_sightings(batch) == 2500 and store.add_sightings(batch[:1500]) == 0
    assert store.count() == 2500
    recent = store.identities(limit=3, recent_first=True)
    assert len(recent) == 3 and recent[0].last_seen == 2502  # the last sighting, w2499
    assert recent[0].identity_id == f"p-{2499 % 7}" and recent[1].identity_id == f"p-{2498 % 7}"
    everyone = sorted(store.identities(), key=lambda r: -r.last_seen)
    assert store.identities(limit=5, recent_first=True) == everyone[:5]  # the shortcut answers what the scan does


def test_a_forget_tombstone_is_repeated_by_the_index_so_no_late_update_outlives_it():
    from index.replay import GalleryLog

    m = IdentityMatcher(IndexSettings(match_threshold=0.9))
    first = m([_rec(embedding([1, 0, 0], camera_id="c1").to_bytes())])
    ident = Sighting.from_bytes(first[0].value).identity_id
    # a window matched before the tombstone reached the index: its update is published after the tombstone
    late = m([_rec(embedding([1, 0.1, 0], camera_id="c1", window_id="c1/1/15").to_bytes())])
    update = next(o for o in late if o.topic is GALLERY)
    again = m.on_gallery_log([Record(ident.encode(), None, "gallery", 0, 5)])
    assert [(o.topic, o.key, o.value) for o in again] == [(GALLERY, ident.encode(), None)]
    assert m.on_gallery_log([Record(ident.encode(), None, "gallery", 0, 7)]) == []  # its own echo stops there
    # the log as compaction sees it: enrol, forget's tombstone, the late update, the index's tombstone
    replay = GalleryLog()
    for off, value in enumerate([first[1].value, None, update.value, None]):
        replay.apply(ident.encode(), value, off)
    assert replay.gallery is not None and ident not in replay.gallery
