"""A PostgreSQL store made by the release before migrations (32-bit track ids, no version table)
is upgraded by ``gaitline store upgrade`` with its rows kept, then takes a live camera's track id."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from store import migrate
from store.db import Base, Store, driver_url
from tests.factories import sighting

pytestmark = pytest.mark.integration

# what SQLAlchemy's create_all made for the previous release's models (store/db.py at 4edaac3)
PREVIOUS_RELEASE = """
CREATE TABLE sightings (
    sighting_id VARCHAR(200) PRIMARY KEY, identity_id VARCHAR(64) NOT NULL, camera_id VARCHAR(100) NOT NULL,
    track_id INTEGER NOT NULL, region VARCHAR(100) NOT NULL, t_start FLOAT NOT NULL, t_end FLOAT NOT NULL,
    x FLOAT NOT NULL, y FLOAT NOT NULL, box_x INTEGER, box_y INTEGER, box_w INTEGER, box_h INTEGER,
    ground_plane BOOLEAN NOT NULL, score FLOAT NOT NULL, enrolled BOOLEAN NOT NULL, model VARCHAR(100) NOT NULL,
    cadence_spm FLOAT, speed_mps FLOAT, step_length_m FLOAT, stride_length_m FLOAT, truth_id VARCHAR(100));
CREATE INDEX ix_sightings_identity_id ON sightings (identity_id);
CREATE INDEX ix_sightings_camera_id ON sightings (camera_id);
CREATE INDEX ix_sightings_t_start ON sightings (t_start);
CREATE INDEX ix_sightings_camera_time ON sightings (camera_id, t_start);
CREATE TABLE audit_log (id SERIAL PRIMARY KEY, at FLOAT NOT NULL, actor VARCHAR(100) NOT NULL,
    action VARCHAR(40) NOT NULL, subject VARCHAR(200), reason VARCHAR(500) NOT NULL, detail TEXT NOT NULL);
CREATE INDEX ix_audit_log_at ON audit_log (at);
CREATE INDEX ix_audit_log_actor ON audit_log (actor);
CREATE INDEX ix_audit_log_subject ON audit_log (subject);
CREATE TABLE forgotten (identity_id VARCHAR(64) PRIMARY KEY, at FLOAT NOT NULL);
INSERT INTO sightings VALUES ('cam/7/0', 'p-old', 'cam', 7, 'r', 100, 101, 1, 2, NULL, NULL, NULL, NULL,
    true, 0.9, false, 'default', NULL, NULL, NULL, NULL, NULL);
INSERT INTO audit_log (at, actor, action, subject, reason, detail) VALUES (1, 'op', 'query.where', 'p-old', 'r', '{}');
"""


@pytest.fixture
def old_release_db():
    base = os.environ.get("GAITLINE_TEST_PG_URL")
    if not base:
        pytest.fail("GAITLINE_TEST_PG_URL is not set: run the integration suite through `make test`")
    name = f"gaitline_mig_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(driver_url(base), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = base.rsplit("/", 1)[0] + "/" + name
    engine = sa.create_engine(driver_url(url))
    with engine.begin() as conn:
        for stmt in filter(str.strip, PREVIOUS_RELEASE.split(";")):
            conn.execute(sa.text(stmt))
    yield url, engine
    engine.dispose()
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gaitline", *args], capture_output=True, text=True, timeout=120)


def test_the_previous_release_s_store_is_upgraded_with_its_rows(old_release_db):
    url, engine = old_release_db
    assert migrate.current(engine) is None
    res = _run("store", "upgrade", "--store", url)
    assert res.returncode == 0, res.stderr
    assert f"-> {migrate.head()}" in res.stdout and ":***@" in res.stdout  # the password is never printed
    assert migrate.current(engine) == migrate.head()
    cols = {c["name"]: c["type"] for c in sa.inspect(engine).get_columns("sightings")}
    assert isinstance(cols["track_id"], sa.BigInteger)
    with engine.connect() as conn:  # the schema is the models' now, types included
        assert compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata) == []
    again = _run("store", "upgrade", "--store", url)
    assert again.returncode == 0 and "nothing to do" in again.stdout
    store = Store(url)
    try:
        assert [r.track_id for r in store.where("p-old")] == [7]  # the old rows are kept
        # 0003: an old sighting's stored_at is its t_end (history to a live feed), evidence and the watchlist work
        assert [(r.sighting_id, r.stored_at) for r in store.stored_since(0.0)] == [("cam/7/0", 101.0)]
        assert store.evidence(["cam/7/0"]) == {} and store.watch("p-old", "op", "case").identity_id == "p-old"
        assert store.forget("p-old") == 1 and store.watchlist() == []
        assert store.audit_log(subject="p-old")[0].actor == "op"
        live = sighting(sighting_id="live/x/1", identity_id="p-live", camera_id="live", track_id=int(1.7e10))
        assert store.add_sightings([live]) == 1  # a live camera's track id fits now
    finally:
        store.close()


def test_a_store_that_cannot_be_reached_is_one_line_and_exit_2():
    res = _run("store", "upgrade", "--store", "postgresql://u:secret@127.0.0.1:1/none")
    assert res.returncode == 2 and "secret" not in res.stdout + res.stderr
    assert len((res.stdout + res.stderr).strip().splitlines()) == 1
