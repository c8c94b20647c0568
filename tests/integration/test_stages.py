"""The embed, index and track stages as real processes on the real broker."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

from store.db import Store
from streams.admin import message_count
from streams.clients import Received, TopicTail, send_records
from streams.schemas import DeadLetter, Embedding, Sighting, TrackletWindow
from streams.settings import KafkaSettings
from streams.topics import ALL_TOPICS, DEADLETTER, EMBEDDINGS, SIGHTINGS, TRACKLETS
from tests.factories import tracklet_window
from workers.demo import StageProcs, wait_drained

pytestmark = pytest.mark.integration


def _walker(seed: int, n: int = 30) -> np.ndarray:
    """A crude walking silhouette whose leg spread and build depend on ``seed``."""
    rng = np.random.default_rng(seed)
    width = 8 + 6 * seed
    masks = np.zeros((n, 64, 44), np.uint8)  # [n, h, w]
    for t in range(n):
        masks[t, 4:12, 18:26] = 1  # head
        masks[t, 12:38, 22 - width // 2:22 + width // 2] = 1  # torso
        spread = int(abs(np.sin(t / 3.0)) * (4 + 3 * seed))
        masks[t, 38:64, 19 - spread:23 - spread + 2] = 1  # legs
        masks[t, 38:64, 21 + spread:25 + spread] = 1
        masks[t] &= rng.random((64, 44)) > 0.01
    return masks


def _window(person: int, track: int, start: int) -> TrackletWindow:
    n = 30
    return tracklet_window(n, t0=1000.0 + start, camera_id=f"cam{person}", track_id=track, region="r1",
                           frame_start=start, foot_points=[(0.1 * i, 1.0) for i in range(n)],
                           boxes=[(10, 20, 30, 90)] * n, quality=1.0, truth_id=f"person{person}",
                           silhouettes=_walker(person + start % 2, n))


def _stage_env(kafka: KafkaSettings, sqlite_url: str, index_metrics_port: int = 0) -> dict[str, str]:
    return {**os.environ, "GAITLINE_KAFKA_BOOTSTRAP": kafka.bootstrap, "GAITLINE_KAFKA_NAMESPACE": kafka.namespace,
            "GAITLINE_TRACK_STORE_URL": sqlite_url, "GAITLINE_EMBED_METRICS_PORT": "0",
            "GAITLINE_INDEX_METRICS_PORT": str(index_metrics_port), "GAITLINE_TRACK_METRICS_PORT": "0"}


@pytest.fixture
def stages(kafka: KafkaSettings, sqlite_url: str, tmp_path: Path):
    env = _stage_env(kafka, sqlite_url)
    procs = StageProcs(tmp_path)
    for stage in ("embed", "index", "track"):
        procs.start(stage, env)
    yield procs
    procs.stop()


def _read_all(kafka: KafkaSettings, topic: str, expected: int, timeout_s: float = 30) -> list[Received]:
    """``topic`` from the beginning, read until it holds ``expected`` records or ``timeout_s`` passes."""
    tail = TopicTail(kafka, topic, "test-read-all")
    out: list[Received] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(out) < expected and time.monotonic() < deadline:
            out.extend(tail.to_end())
            if len(out) < expected:
                time.sleep(0.5)
    finally:
        tail.close()
    return out


def test_windows_flow_to_sightings_and_bad_records_to_deadletter(kafka, stages, sqlite_url):
    tracklets = TRACKLETS.full_name(kafka.namespace)
    windows = [_window(p, 1, s) for p in (0, 1) for s in (0, 15, 30)]
    records: list[tuple[bytes | None, bytes | None]] = []
    for i, w in enumerate(windows):
        records.append((f"{w.camera_id}/{w.track_id}".encode(), w.to_bytes()))
        if i == 2:  # a broken body in the middle of good records
            records += [(b"cam9/9", b"GL\x01\x00\x00\x00\x09{not json"), (b"cam9/8", b"\x00garbage")]
    send_records(kafka, tracklets, records)

    wait_drained(kafka, stages, timeout_s=120)

    letters = [DeadLetter.from_bytes(m.value) for m in _read_all(kafka, DEADLETTER.full_name(kafka.namespace), 2)]
    assert len(letters) == 2
    assert {dl.stage for dl in letters} == {"embed"}
    assert all(dl.reason and dl.source_topic == tracklets and dl.offset is not None for dl in letters)
    assert any("JSON" in dl.reason for dl in letters) and any("magic" in dl.reason for dl in letters)
    assert {dl.original for dl in letters} == {b"GL\x01\x00\x00\x00\x09{not json", b"\x00garbage"}

    embeddings = [Embedding.from_bytes(m.value) for m in _read_all(kafka, EMBEDDINGS.full_name(kafka.namespace), 6)]
    assert sorted(e.window_id for e in embeddings) == sorted(w.window_id for w in windows)
    # the agents run the learned default model through its fitted projection unless told otherwise
    assert all(e.model == "default" and len(e.vector) == 48 and abs(np.linalg.norm(e.vector) - 1) < 1e-2
               for e in embeddings)

    sightings = [Sighting.from_bytes(m.value) for m in _read_all(kafka, SIGHTINGS.full_name(kafka.namespace), 6)]
    assert len(sightings) == 6
    # each track keeps one identity, and the first window of each track enrolled it
    by_track = {}
    for s in sightings:
        by_track.setdefault(s.camera_id, set()).add(s.identity_id)
    assert all(len(ids) == 1 for ids in by_track.values())
    assert sum(s.enrolled for s in sightings) >= 1

    store = Store(sqlite_url)
    assert store.count() == 6
    idents = store.identities()
    assert {i.identity_id for i in idents} == {s.identity_id for s in sightings}
    rows = store.where(idents[0].identity_id)
    assert rows and all(r.t_start <= r.t_end for r in rows)
    assert message_count(kafka, tracklets) == 8


def _metric(port: int, name: str) -> float:
    import urllib.request

    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()  # noqa: S310
    return sum(float(ln.rsplit(" ", 1)[1]) for ln in text.splitlines() if ln.startswith(name))


def test_forget_removes_a_person_from_gallery_store_and_running_index(kafka, sqlite_url, tmp_path):
    import subprocess
    import sys

    from index.replay import replay_gallery

    from .conftest import _free_port

    port = _free_port()
    env = _stage_env(kafka, sqlite_url, port)
    procs = StageProcs(tmp_path)
    for stage in ("embed", "index", "track"):
        procs.start(stage, env)
    try:
        tracklets = TRACKLETS.full_name(kafka.namespace)
        send_records(kafka, tracklets, [(f"{w.camera_id}/{w.track_id}".encode(), w.to_bytes())
                                        for w in [_window(p, 1, 0) for p in (0, 1)]])
        wait_drained(kafka, procs, timeout_s=120)
        store = Store(sqlite_url)
        gone = next(r.identity_id for r in store.all_sightings() if r.camera_id == "cam0")
        res = subprocess.run([sys.executable, "-m", "gaitline", "forget", "--identity", gone, "--reason",
                              "erasure request 1", "--actor", "dpo", "--store", sqlite_url],
                             capture_output=True, text=True, timeout=120, env=env)
        assert res.returncode == 0, res.stderr
        assert store.where(gone) == [] and store.is_forgotten(gone)
        assert store.audit_log(subject=gone)[0].action == "forget"
        # a replay of the compacted gallery log no longer has the person ...
        replayed, last_seen = replay_gallery(kafka)
        assert replayed is not None and gone not in replayed and gone not in last_seen
        # ... and the running index dropped it from memory (its metric says so)
        deadline = time.monotonic() + 60
        while _metric(port, 'gaitline_index_removed_total{why="forgotten"}') < 1:
            assert time.monotonic() < deadline, "the running index never applied the tombstone"
            time.sleep(0.5)
        # the same walker on the same track again: a new profile, never the forgotten identity
        w = _window(0, 1, 30)
        send_records(kafka, tracklets, [(b"cam0/1", w.to_bytes())])
        wait_drained(kafka, procs, timeout_s=120)
        later = [Sighting.from_bytes(m.value) for m in _read_all(kafka, SIGHTINGS.full_name(kafka.namespace), 3)]
        last = next(s for s in later if s.sighting_id == w.window_id)
        assert last.identity_id != gone
    finally:
        procs.stop()


def test_new_topics_have_leaders_when_ensure_topics_returns(kafka_broker, caplog):
    import logging
    import uuid

    from streams.admin import end_offsets, ensure_topics
    from streams.clients import Producer

    fresh = KafkaSettings(bootstrap=kafka_broker.bootstrap, namespace=f"t{uuid.uuid4().hex[:10]}")
    with caplog.at_level(logging.WARNING, logger="kafka"):
        names = ensure_topics(fresh, partitions=3)
        for name, spec in zip(names, ALL_TOPICS, strict=True):  # a fresh client's metadata has every partition
            # the override applies to multi-partition topics: gallery.v1 and deadletter.v1 keep their one
            assert set(end_offsets(fresh, name)) == ({0, 1, 2} if spec.partitions > 1 else {0}), name
        producer = Producer(fresh, "test-first-write")
        producer.send_and_wait(names[0], None, b"x", timeout_s=10)
        producer.close()
    assert not [r for r in caplog.records if "not found in cluster metadata" in r.getMessage()]
