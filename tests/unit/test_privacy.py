"""Forget, retention and the audit log: store, index and command line (in process), without Kafka."""

import json
import time

import pytest
from typer.testing import CliRunner

from index.matcher import IdentityMatcher
from index.settings import IndexSettings
from store.db import Store
from store.exceptions import StoreError
from streams.agents import Record
from streams.schemas import Sighting
from streams.topics import GALLERY, SIGHTINGS
from tests.factories import embedding, sighting
from workers.track.agent import SightingWriter

DAY = 86400.0


def _sighting(sid: str, ident: str, t: float) -> Sighting:
    return sighting(sighting_id=sid, identity_id=ident, t_start=t)


def _emb(window_id: str, track: int, vec: list[float], t: float) -> bytes:
    return embedding(vec, window_id=window_id, track_id=track, t_start=t).to_bytes()


def test_forgotten_identity_is_deleted_and_its_late_sightings_refused(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    store.add_sightings([_sighting("w1", "p-1", 10), _sighting("w2", "p-1", 20), _sighting("w3", "p-2", 10)])
    assert store.forget("p-1") == 2 and store.is_forgotten("p-1") and not store.is_forgotten("p-2")
    # a sighting of p-1 still in flight on the topic arrives after the forget: refused
    assert store.add_sightings([_sighting("w4", "p-1", 30), _sighting("w5", "p-2", 30)]) == 1
    assert [r.sighting_id for r in store.all_sightings()] == ["w3", "w5"]
    assert store.forget("p-1") == 0  # idempotent


def test_audit_log_is_append_only_newest_first_and_survives_reset(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    store.audit("ana", "query.where", "case 1", subject="p-1", detail={"sightings": 2})
    store.audit("bo", "forget", "erasure request 7", subject="p-2")
    with pytest.raises(StoreError):
        store.audit("ana", "query.where", "  ", subject="p-1")
    store.reset()
    log = store.audit_log()
    assert [(r.actor, r.action, r.subject) for r in log] == [("bo", "forget", "p-2"), ("ana", "query.where", "p-1")]
    assert json.loads(log[1].detail) == {"sightings": 2}
    assert [r.actor for r in store.audit_log(subject="p-1")] == ["ana"]
    assert not hasattr(store, "delete_audit")


def test_track_stage_expires_by_stream_time(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    writer = SightingWriter(store, retention_days=30)
    t0 = 1_700_000_000.0  # an archive from the past: stream time, not the wall clock, ages it
    writer([Record(b"p-1", _sighting("old", "p-1", t0).to_bytes(), "s", 0, 0)])
    assert store.count() == 1
    writer([Record(b"p-2", _sighting("new", "p-2", t0 + 31 * DAY).to_bytes(), "s", 0, 1)])
    assert [r.sighting_id for r in store.all_sightings()] == ["new"]


def test_index_forgets_on_tombstone_and_expires_stale_identities():
    m = IdentityMatcher(IndexSettings(match_threshold=0.9, retention_days=30))
    t0 = 1_700_000_000.0
    out = m([Record(b"r", _emb("w1", 1, [1, 0, 0], t0), "e", 0, 0)])
    first = Sighting.from_bytes(out[0].value).identity_id
    m([Record(b"r", _emb("w2", 2, [0, 1, 0], t0 + DAY), "e", 0, 1)])
    assert len(m.gallery) == 2
    # gaitline forget's tombstone on gallery.v1; the index's own entries on that topic are ignored
    m.on_gallery_log([Record(first.encode(), None, "g", 0, 5), Record(b"p-x", b"entry", "g", 0, 6)])
    assert first not in m.gallery and len(m.gallery) == 1
    # the same track walks on: its old identity is gone, so it is a new profile, not the forgotten one
    again = Sighting.from_bytes(m([Record(b"r", _emb("w3", 1, [1, 0, 0], t0 + 2 * DAY), "e", 0, 2)])[0].value)
    assert again.enrolled and again.identity_id != first
    # 40 days later: the identities not seen for 30 days are removed and tombstoned
    out = m([Record(b"r", _emb("w4", 9, [0, 0, 1], t0 + 40 * DAY), "e", 0, 3)])
    tombs = [o for o in out if o.topic is GALLERY and o.value is None]
    assert len(tombs) == 2 and len(m.gallery) == 1
    assert [o.topic for o in out if o.value is not None] == [SIGHTINGS, GALLERY]


def _gaitline(*args: str):
    """The ``gaitline`` command line in this process (the one-line errors of a real process:
    tests/integration/test_cli_errors.py and test_privacy_cli.py)."""
    from gaitline.cli.main import app

    return CliRunner().invoke(app, list(args))


def test_forget_expire_and_audit_commands(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    st = Store(url)
    # a time from the future is refused now (GAITLINE_STREAMS_MAX_CLOCK_SKEW_S): p-2 was seen a minute ago
    st.add_sightings([_sighting("w1", "p-1", 1_000.0), _sighting("w2", "p-2", time.time() - 60)])
    res = _gaitline("forget", "--identity", "p-1", "--reason", "erasure 12", "--actor", "dpo", "--store", url,
                    "--store-only")
    assert res.exit_code == 0, res.output
    assert "1 sightings deleted" in res.stdout and "NOT touched" in res.stdout
    assert _gaitline("forget", "--identity", "p-2", "--store", url).exit_code == 2  # no reason: refused
    res = _gaitline("expire", "--days", "30", "--store", url, "--actor", "cron")
    assert res.exit_code == 0 and "expired 0 sightings" in res.stdout  # p-2's sighting is recent
    log = json.loads(_gaitline("audit", "--store", url, "--json").stdout)
    assert [(e["actor"], e["action"], e["subject"]) for e in log] == [("cron", "expire", None),
                                                                      ("dpo", "forget", "p-1")]
    assert log[1]["detail"] == {"sightings_deleted": 1, "gallery_tombstone": False}
    assert Store(url).count() == 1


def test_a_store_from_an_older_release_is_migrated_by_its_writer(tmp_path):
    import sqlalchemy as sa

    from store.migrate import BASELINE, current, head

    url = f"sqlite:///{tmp_path / 'old.db'}"
    Store(url).close()
    with sa.create_engine(url).begin() as conn:  # what a release before migrations and the index left behind
        conn.execute(sa.text("DROP INDEX ix_sightings_camera_time"))
        conn.execute(sa.text("DROP TABLE alembic_version"))
    Store(url, create=False).close()  # a reader never alters the schema
    engine = sa.create_engine(url)
    assert "ix_sightings_camera_time" not in {i["name"] for i in sa.inspect(engine).get_indexes("sightings")}
    assert current(engine) is None
    Store(url).close()  # a writer: stamped at the baseline, then upgraded
    assert "ix_sightings_camera_time" in {i["name"] for i in sa.inspect(engine).get_indexes("sightings")}
    assert current(engine) == head() != BASELINE
