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
