"""The store on a real PostgreSQL server (started by scripts/services.sh, which make test runs)."""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import text

from store.db import Store
from streams.schemas import GaitParams, Sighting
from tests.factories import sighting

from .conftest import _USED

pytestmark = pytest.mark.integration


@pytest.fixture
def pg_store():
    url = os.environ.get("GAITLINE_TEST_PG_URL")
    if not url:
        pytest.fail("GAITLINE_TEST_PG_URL is not set: run the integration suite through `make test`")
    store = Store(url)
    schema_probe = store.engine.connect()
    version = schema_probe.execute(text("select version()")).scalar()
    schema_probe.close()
    if not any("PostgreSQL" in u for u in _USED):
        _USED.append(f"real {str(version).split(',')[0]} at {url.split('@')[-1]}")
    store.reset()
    yield store
    store.reset()
    store.close()


def _s(i: int, ident: str, t: float) -> Sighting:
    return sighting(sighting_id=f"cam/{i}/{uuid.uuid4().hex[:6]}", identity_id=ident, camera_id=f"cam{i % 2}",
                    track_id=i, t_start=t, x=1.0, y=2.0, score=0.95, enrolled=i == 0,
                    gait=GaitParams(cadence_spm=105.0, speed_mps=1.3))


def test_postgres_store_is_idempotent_and_answers_where(pg_store: Store):
    # identities of their own: the database outlives the test, and a forgotten identity stays forgotten
    a, b = f"p-a{uuid.uuid4().hex[:8]}", f"p-b{uuid.uuid4().hex[:8]}"
    rows = [_s(i, a if i < 3 else b, 100.0 + i) for i in range(5)]
    assert pg_store.add_sightings(rows) == 5
    assert pg_store.add_sightings(rows[:2]) == 0  # redelivered: stored once
    assert pg_store.count() == 5
    where = pg_store.where(a)
    assert [r.t_start for r in where] == [100.0, 101.0, 102.0]
    summary = {i.identity_id: i for i in pg_store.identities()}
    assert summary[a].sightings == 3 and summary[a].cameras == 2
    assert summary[b].first_seen == 103.0
    assert pg_store.forget(a) == 3 and pg_store.count() == 2
    # forgotten on PostgreSQL too: a late sighting is refused, and the forget is idempotent
    assert pg_store.add_sightings([_s(7, a, 200.0)]) == 0 and pg_store.forget(a) == 0
    pg_store.audit("tester", "forget", "integration test", subject=a)
    assert pg_store.audit_log(subject=a)[0].actor == "tester"


def test_postgres_stores_live_camera_track_ids(pg_store: Store):
    # a live camera numbers its tracks from int(time.time() * 10): beyond a 32-bit column
    live = int(1.7e10)
    s = sighting(sighting_id=f"live/{live}/{uuid.uuid4().hex[:6]}", identity_id=f"p-l{uuid.uuid4().hex[:8]}",
                 camera_id="live", track_id=live, t_start=100.0)
    assert pg_store.add_sightings([s]) == 1
    assert pg_store.where(s.identity_id)[0].track_id == live


def test_an_older_store_with_a_32_bit_track_id_is_widened_at_start(pg_store: Store):
    url = os.environ["GAITLINE_TEST_PG_URL"]
    with pg_store.engine.begin() as conn:  # the column as releases before it was widened made it, unversioned
        conn.execute(text("alter table sightings alter column track_id type integer"))
        conn.execute(text("drop table alembic_version"))
    reopened = Store(url)
    try:
        s = sighting(sighting_id=f"live/2/{uuid.uuid4().hex[:6]}", identity_id=f"p-w{uuid.uuid4().hex[:8]}",
                     camera_id="live", track_id=2 ** 40, t_start=100.0)
        assert reopened.add_sightings([s]) == 1
    finally:
        reopened.close()


def _png() -> bytes:
    import cv2
    import numpy as np

    gei = np.zeros((64, 44), np.uint8)
    gei[5:60, 15:30] = 200
    return cv2.imencode(".png", gei)[1].tobytes()


def test_postgres_keeps_evidence_once_and_forget_and_expire_delete_it(pg_store: Store):
    a, b = f"p-e{uuid.uuid4().hex[:8]}", f"p-f{uuid.uuid4().hex[:8]}"
    png = _png()
    old = sighting(sighting_id=f"cam/1/{uuid.uuid4().hex[:6]}", identity_id=b, t_start=10.0, evidence_png=png)
    rows = [sighting(sighting_id=f"cam/2/{uuid.uuid4().hex[:6]}", identity_id=a, t_start=5000.0, evidence_png=png,
                     keyframe_jpeg=b"\xff\xd8\xff\xe0fake-but-marked-jpeg"), old]
    assert pg_store.add_sightings(rows) == 2 and pg_store.add_sightings(rows) == 0  # redelivered: once
    got = pg_store.evidence([r.sighting_id for r in rows])
    assert got[rows[0].sighting_id].gei_png == png and got[rows[0].sighting_id].keyframe_jpeg is not None
    assert got[old.sighting_id].keyframe_jpeg is None
    pg_store.watch(a, "alice", "case 9")
    assert pg_store.record_watch_hit(rows[0].sighting_id, a, "cam", 5000.0)
    assert pg_store.record_watch_hit(old.sighting_id, b, "cam", 10.0)
    assert pg_store.expire(1000.0) == 1 and list(pg_store.evidence([old.sighting_id])) == []
    assert pg_store.record_watch_hit(old.sighting_id, b, "cam", 10.0)  # its hit went with it
    assert pg_store.forget(a) == 1
    assert pg_store.evidence([rows[0].sighting_id]) == {} and a not in pg_store.watched([a])
    with pg_store.engine.connect() as conn:
        assert conn.execute(text("select count(*) from watch_hits where identity_id = :i"), {"i": a}).scalar() == 0


def test_postgres_answers_the_control_room_reads(pg_store: Store):
    tag = uuid.uuid4().hex[:8]
    a, b = f"p-{tag}a", f"p-{tag}b"
    pg_store.add_sightings([
        sighting(sighting_id=f"n/1/{tag}", identity_id=a, camera_id=f"north-{tag}", track_id=1, t_start=10.0),
        sighting(sighting_id=f"s/1/{tag}", identity_id=a, camera_id=f"south-{tag}", track_id=1, t_start=100.0),
        sighting(sighting_id=f"s/2/{tag}", identity_id=b, camera_id=f"south-{tag}", track_id=2, t_start=50.0)])
    found = pg_store.search_identities(prefix=f"p-{tag}")
    assert [(i.identity_id, i.sightings, i.camera_ids) for i in found] == [
        (a, 2, (f"north-{tag}", f"south-{tag}")), (b, 1, (f"south-{tag}",))]
    assert pg_store.count_identities(prefix=f"p-{tag}") == 2
    assert pg_store.search_identities(prefix=f"P-{tag}") == []
    assert [i.identity_id for i in pg_store.search_identities(camera=f"north-{tag}")] == [a]
    assert [i.identity_id for i in pg_store.search_identities(prefix=f"p-{tag}", since=40.0, until=60.0)] == [b]
    assert [r.t_start for r in pg_store.where(a, since=50.0)] == [100.0]
    assert {f"north-{tag}", f"south-{tag}"} <= set(pg_store.cameras_seen())
    row = pg_store.sighting(f"s/2/{tag}")
    assert row is not None and row.identity_id == b and row.stored_at is not None
    fed = pg_store.stored_since(row.stored_at - 1.0, limit=1000)
    assert {f"n/1/{tag}", f"s/1/{tag}", f"s/2/{tag}"} <= {r.sighting_id for r in fed}
    assert [r.stored_at for r in fed] == sorted(r.stored_at for r in fed)


def test_postgres_raises_one_watchlist_alert_per_sighting_across_writers(pg_store: Store):
    import threading

    url = os.environ["GAITLINE_TEST_PG_URL"]
    replicas = [Store(url) for _ in range(4)]  # four API replicas racing for the same sightings
    sids = [f"hit/{i}/{uuid.uuid4().hex[:6]}" for i in range(20)]
    wins: list[str] = []
    lock = threading.Lock()

    def poll(st: Store) -> None:
        for sid in sids:
            if st.record_watch_hit(sid, "p-watched", "cam", 1.0):
                with lock:
                    wins.append(sid)

    threads = [threading.Thread(target=poll, args=(st,)) for st in replicas]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for st in replicas:
        st.close()
    assert sorted(wins) == sorted(sids)  # every sighting alerted once: none twice, none missed
    ident = f"p-w{uuid.uuid4().hex[:8]}"
    first = pg_store.watch(ident, "alice", "case 3")
    assert pg_store.watch(ident, "bob", "again") == first and pg_store.watched([ident])[ident].actor == "alice"
    assert pg_store.unwatch(ident) and not pg_store.unwatch(ident)
