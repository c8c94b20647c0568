"""Delivery guarantees against the real broker and a real PostgreSQL: what a failure must never do.

Each test here failed before its fix (issue 20): a store outage dropped the batch in flight, a
decode bomb was decoded before its shape was checked, and one far-future time wiped the gallery
and the store.
"""

from __future__ import annotations

import json
import struct
import time

import pytest

from bench.pgcluster import PrivatePostgres
from index.replay import replay_gallery
from store.db import Store
from streams.admin import group_lag_or_unknown
from streams.clients import send_records
from streams.groups import group_id
from streams.schemas import DeadLetter, Embedding
from streams.settings import KafkaSettings
from streams.topics import DEADLETTER, EMBEDDINGS, SIGHTINGS, TRACKLETS
from tests.factories import sighting
from workers.demo import StageProcs, wait_drained

from .test_stages import _read_all, _stage_env, _window

pytestmark = pytest.mark.integration


@pytest.fixture
def private_pg():
    pg = PrivatePostgres().init()
    yield pg
    pg.destroy()


def _wait(cond, timeout_s: float, what: str, procs: StageProcs | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        if procs is not None:
            procs.check()
        assert time.monotonic() < deadline, what
        time.sleep(0.5)


def test_a_store_outage_delays_sightings_and_never_drops_them(kafka: KafkaSettings, private_pg, tmp_path):
    store = Store(private_pg.url)
    procs = StageProcs(tmp_path)
    procs.start("track", _stage_env(kafka, private_pg.url))
    topic = SIGHTINGS.full_name(kafka.namespace)
    now = time.time()

    def batch(first: int, n: int) -> list[tuple[bytes | None, bytes | None]]:
        return [(b"p-1", sighting(sighting_id=f"c/1/{i}", t_start=now - 60 + i).to_bytes())
                for i in range(first, first + n)]

    try:
        send_records(kafka, topic, batch(0, 5))
        _wait(lambda: store.count() == 5, 90, "the track stage never stored the first sightings", procs)
        private_pg.stop("immediate")
        send_records(kafka, topic, batch(5, 5))
        time.sleep(8)  # the stage reads them, fails to write, and (before the fix) committed them anyway
        lag = group_lag_or_unknown(kafka, group_id("track", kafka), topic)
        assert lag != 0, "sightings that were never stored were committed"
        private_pg.start()
        _wait(lambda: store.count() == 10, 90, "sightings read during the outage were lost", procs)
        wait_drained(kafka, procs, timeout_s=60)
        assert store.count() == 10
    finally:
        procs.stop()
        store.close()


def _with_payload(window_bytes: bytes, payload: bytes) -> bytes:
    hlen = int.from_bytes(window_bytes[3:7], "big")
    return window_bytes[:7 + hlen] + payload


def _with_header(window_bytes: bytes, **changes) -> bytes:
    hlen = int.from_bytes(window_bytes[3:7], "big")
    header = json.loads(window_bytes[7:7 + hlen])
    header.update(changes)
    raw = json.dumps(header).encode()
    return window_bytes[:3] + len(raw).to_bytes(4, "big") + raw + window_bytes[7 + hlen:]


def test_a_decode_bomb_is_dead_lettered_by_its_declared_shape_and_the_embed_stage_carries_on(kafka, tmp_path):
    import zstandard

    procs = StageProcs(tmp_path)
    procs.start("embed", _stage_env(kafka, f"sqlite:///{tmp_path / 's.db'}"))
    try:
        good = _window(0, 1, 0)
        body = zstandard.ZstdCompressor(level=19, write_content_size=False).compress(bytes(1 << 20))
        bomb = _with_payload(good.to_bytes(), struct.pack(">BHHH", 1, 4096, 1024, 1024) + body)
        assert len(bomb) < 4096
        send_records(kafka, TRACKLETS.full_name(kafka.namespace), [(b"cam9/1", bomb), (b"cam0/1", good.to_bytes())])
        letters = [DeadLetter.from_bytes(m.value) for m in _read_all(kafka, DEADLETTER.full_name(kafka.namespace), 1,
                                                                       timeout_s=120)]
        assert len(letters) == 1 and letters[0].stage == "embed"
        assert "declared" in letters[0].reason, letters[0].reason
        embs = [Embedding.from_bytes(m.value) for m in _read_all(kafka, EMBEDDINGS.full_name(kafka.namespace), 1)]
        assert [e.window_id for e in embs] == [good.window_id]
    finally:
        procs.stop()


def test_a_far_future_time_is_dead_lettered_and_wipes_neither_gallery_nor_store(kafka, sqlite_url, tmp_path):
    env = _stage_env(kafka, sqlite_url)
    procs = StageProcs(tmp_path)
    for stage in ("embed", "index", "track"):
        procs.start(stage, env)
    tracklets = TRACKLETS.full_name(kafka.namespace)
    now = time.time()
    try:
        good = [_window(p, 1, 0).model_copy(update={"timestamps": [now - 100 + i / 10 for i in range(30)]})
                for p in (0, 1)]
        send_records(kafka, tracklets, [(f"{w.camera_id}/1".encode(), w.to_bytes()) for w in good])
        wait_drained(kafka, procs, timeout_s=180)
        store = Store(sqlite_url)
        assert store.count() == 2
        future = _with_header(_window(2, 1, 0).to_bytes(), timestamps=[now + 1e9 + i / 10 for i in range(30)])
        send_records(kafka, tracklets, [(b"cam2/1", future)])
        # and one more good window after it: the stages still work
        later = _window(0, 1, 30).model_copy(update={"timestamps": [now - 50 + i / 10 for i in range(30)]})
        send_records(kafka, tracklets, [(b"cam0/1", later.to_bytes())])
        wait_drained(kafka, procs, timeout_s=120)
        letters = [DeadLetter.from_bytes(m.value) for m in _read_all(kafka, DEADLETTER.full_name(kafka.namespace), 1)]
        assert len(letters) == 1 and "timestamps" in letters[0].reason, [d.reason for d in letters]
        assert store.count() == 3, "sightings were expired by a time from the future"
        gallery, _ = replay_gallery(kafka)
        known = {r.identity_id for r in store.all_sightings()}
        assert gallery is not None and all(i in gallery for i in known), \
            "the gallery was tombstoned by a time from the future"
    finally:
        procs.stop()


def test_a_stage_stopped_while_the_store_is_down_leaves_its_batch_for_the_next_one(kafka, private_pg, tmp_path):
    import signal

    store = Store(private_pg.url)
    procs = StageProcs(tmp_path)
    env = _stage_env(kafka, private_pg.url)
    procs.start("track", env)
    topic = SIGHTINGS.full_name(kafka.namespace)
    now = time.time()
    try:
        send_records(kafka, topic, [(b"p-1", sighting(sighting_id="c/1/0", t_start=now - 60).to_bytes())])
        _wait(lambda: store.count() == 1, 90, "the track stage never stored the first sighting", procs)
        private_pg.stop("immediate")
        send_records(kafka, topic, [(b"p-1", sighting(sighting_id=f"c/1/{i}", t_start=now - 50 + i).to_bytes())
                                    for i in range(1, 6)])
        time.sleep(5)  # read, and retrying against the absent database
        procs.kill("track", signal.SIGTERM)  # drains: the batch it could not write must stay uncommitted
        private_pg.start()
        procs.start("track", env)
        _wait(lambda: store.count() == 6, 90, "the batch in flight at SIGTERM was committed unwritten", procs)
    finally:
        procs.stop()
        store.close()
