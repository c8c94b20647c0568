"""The store's control-room reads and the watchlist, on SQLite: identity search with filters and pages,
one sighting, the live feed's cursor, the cameras seen, watch / unwatch, and one alert per sighting."""

from __future__ import annotations

from pathlib import Path

import pytest

from store.db import Store
from store.exceptions import StoreError
from store.watchlist import WatchRow
from tests.factories import sighting


@pytest.fixture
def store(tmp_path: Path) -> Store:
    st = Store(f"sqlite:///{tmp_path / 's.db'}")
    yield st
    st.close()


def _fill(store: Store) -> None:
    # p-a1: cam1 at 10 and cam2 at 100; p-a2: cam2 at 50; p-b1: cam1 at 200
    store.add_sightings([
        sighting(sighting_id="cam1/1/0", identity_id="p-a1", camera_id="cam1", track_id=1, t_start=10.0),
        sighting(sighting_id="cam2/1/0", identity_id="p-a1", camera_id="cam2", track_id=1, t_start=100.0),
        sighting(sighting_id="cam2/2/0", identity_id="p-a2", camera_id="cam2", track_id=2, t_start=50.0),
        sighting(sighting_id="cam1/3/0", identity_id="p-b1", camera_id="cam1", track_id=3, t_start=200.0),
    ])


def test_search_identities_most_recent_first_with_cameras_and_pages(store: Store) -> None:
    _fill(store)
    found = store.search_identities()
    assert [i.identity_id for i in found] == ["p-b1", "p-a1", "p-a2"]
    a1 = found[1]
    assert (a1.sightings, a1.cameras, a1.camera_ids, a1.first_seen, a1.last_seen) == (2, 2, ("cam1", "cam2"),
                                                                                    10.0, 103.0)
    assert [i.identity_id for i in store.search_identities(limit=2, offset=1)] == ["p-a1", "p-a2"]
    assert store.search_identities(limit=2, offset=3) == []
    assert store.count_identities() == 3


def test_search_identities_by_prefix_is_exact_and_case_sensitive(store: Store) -> None:
    _fill(store)
    assert [i.identity_id for i in store.search_identities(prefix="p-a")] == ["p-a1", "p-a2"]
    assert store.search_identities(prefix="P-A") == []  # SQLite's LIKE would have matched
    assert store.search_identities(prefix="p-a%") == []  # a wildcard is a character, not a pattern
    assert store.count_identities(prefix="p-a") == 2


def test_search_identities_by_camera_and_time_range(store: Store) -> None:
    _fill(store)
    # cam1 saw p-a1 and p-b1; p-a1's summary still counts its cam2 sighting
    on_cam1 = store.search_identities(camera="cam1")
    assert [i.identity_id for i in on_cam1] == ["p-b1", "p-a1"] and on_cam1[1].camera_ids == ("cam1", "cam2")
    # between 40 and 120 s: p-a1's cam2 sighting and p-a2; only the sightings in range are counted
    ranged = store.search_identities(since=40.0, until=120.0)
    assert [(i.identity_id, i.sightings, i.camera_ids) for i in ranged] == [("p-a1", 1, ("cam2",)),
                                                                          ("p-a2", 1, ("cam2",))]
    assert store.search_identities(camera="cam1", since=40.0, until=120.0) == []
    assert store.count_identities(camera="cam2", since=40.0) == 2
    assert store.count_identities(camera="nowhere") == 0


def test_where_keeps_its_old_call_and_filters_and_pages(store: Store) -> None:
    _fill(store)
    assert [r.t_start for r in store.where("p-a1")] == [10.0, 100.0]
    assert [r.t_start for r in store.where("p-a1", since=50.0)] == [100.0]
    assert [r.t_start for r in store.where("p-a1", until=50.0)] == [10.0]
    assert [r.t_start for r in store.where("p-a1", limit=1, offset=1)] == [100.0]


def test_one_sighting_the_cameras_seen_and_the_live_cursor(store: Store) -> None:
    _fill(store)
    row = store.sighting("cam2/2/0")
    assert row is not None and row.identity_id == "p-a2"
    assert store.sighting("nope") is None
    assert store.cameras_seen() == ["cam1", "cam2"]
    first = store.stored_since(0.0)
    assert len(first) == 4 and len({r.stored_at for r in first}) == 4  # distinct: a cursor splits no tie
    assert [r.stored_at for r in first] == sorted(r.stored_at for r in first)
    # a poller reading two at a time sees every row once
    page = store.stored_since(0.0, limit=2)
    rest = store.stored_since(page[-1].stored_at or 0.0, limit=2)
    assert [r.sighting_id for r in page + rest] == [r.sighting_id for r in first]
    assert store.stored_since(first[-1].stored_at or 0.0) == []
    store.add_sightings([sighting(sighting_id="cam3/9/0", identity_id="p-c", camera_id="cam3", track_id=9)])
    assert [r.sighting_id for r in store.stored_since(first[-1].stored_at or 0.0)] == ["cam3/9/0"]
    # a redelivered sighting is not new: it keeps its first stored_at and is not fed again
    store.add_sightings([sighting(sighting_id="cam1/1/0", identity_id="p-a1", camera_id="cam1", t_start=10.0)])
    assert [r.sighting_id for r in store.stored_since(first[-1].stored_at or 0.0)] == ["cam3/9/0"]


def test_watch_unwatch_and_list(store: Store) -> None:
    row = store.watch("p-a1", "alice", "case 17")
    assert isinstance(row, WatchRow) and (row.identity_id, row.actor, row.reason) == ("p-a1", "alice", "case 17")
    again = store.watch("p-a1", "bob", "other case")  # already watched: the first entry stands
    assert again == row
    store.watch("p-b1", "bob", "case 18")
    assert [w.identity_id for w in store.watchlist()] == ["p-b1", "p-a1"]
    assert set(store.watched(["p-a1", "p-a2", "p-b1"])) == {"p-a1", "p-b1"}
    assert store.unwatch("p-a1") and not store.unwatch("p-a1")
    assert list(store.watched(["p-a1"])) == []
    with pytest.raises(StoreError):
        store.watch("p-a1", "alice", "  ")


def test_a_watch_hit_is_recorded_once_for_the_first_caller(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    one, two = Store(url), Store(url)  # two API replicas on one store
    assert one.record_watch_hit("cam1/1/0", "p-a1", "cam1", 10.0) is True
    assert two.record_watch_hit("cam1/1/0", "p-a1", "cam1", 10.0) is False
    assert one.record_watch_hit("cam1/1/0", "p-a1", "cam1", 10.0) is False
    assert two.record_watch_hit("cam2/1/0", "p-a1", "cam2", 100.0) is True
    one.close()
    two.close()


def test_the_whole_store_s_fast_listing_pages_as_the_filtered_query_does(store: Store) -> None:
    import numpy as np

    rng = np.random.default_rng(3)
    store.add_sightings([sighting(sighting_id=f"c{i % 3}/{i}/0", identity_id=f"p-{int(rng.integers(0, 40)):02d}",
                                  camera_id=f"c{i % 3}", track_id=i, t_start=float(rng.uniform(0, 1000)))
                         for i in range(400)])
    fast = [store.search_identities(limit=7, offset=o) for o in range(0, 42, 7)]  # read down the time index
    grouped = [store.search_identities(since=-1.0, limit=7, offset=o) for o in range(0, 42, 7)]  # GROUP BY
    assert fast == grouped and sum(len(p) for p in fast) == store.count_identities() == 40
    flat = [i for p in fast for i in p]
    assert len({i.identity_id for i in flat}) == 40  # no identity on two pages
    assert all(a.last_seen >= b.last_seen - 3.0 for a, b in zip(flat, flat[1:], strict=False))  # newest first


def test_a_store_at_0002_is_migrated_with_its_rows_given_their_end_as_stored_at(tmp_path: Path) -> None:
    import sqlalchemy as sa
    from alembic import command

    from store import migrate

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        command.upgrade(migrate._config(conn), "0002")
        conn.execute(sa.text("INSERT INTO sightings VALUES ('cam/7/0', 'p-old', 'cam', 7, 'r', 100, 101, 1, 2, "
                             "NULL, NULL, NULL, NULL, 1, 0.9, 0, 'default', NULL, NULL, NULL, NULL, NULL)"))
    st = Store(url)  # a writer upgrades the store it opens
    assert migrate.current(engine) == migrate.head()
    assert [(r.sighting_id, r.stored_at) for r in st.stored_since(0.0)] == [("cam/7/0", 101.0)]
    assert st.evidence(["cam/7/0"]) == {} and st.forget("p-old") == 1
    st.close()
