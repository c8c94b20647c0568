"""Two index instances at once (a rolling update runs two): every instance applies every gallery change, and
each owns the identity decisions of its regions. Real processes on the real broker."""

from __future__ import annotations

import time

import pytest
from kafka import KafkaAdminClient
from kafka.partitioner.default import murmur2

from streams.clients import send_records
from streams.groups import group_id
from streams.schemas import Sighting
from streams.settings import KafkaSettings
from streams.topics import EMBEDDINGS, SIGHTINGS
from tests.factories import embedding
from workers.demo import StageProcs

from .test_stages import _read_all, _stage_env

pytestmark = pytest.mark.integration


def _two_regions(partitions: int = 2) -> tuple[str, str]:
    """Two region names that the default partitioner puts on different partitions."""
    first = "r-a"
    p0 = (murmur2(first.encode()) & 0x7FFFFFFF) % partitions
    for i in range(100):
        other = f"r-{i}"
        if (murmur2(other.encode()) & 0x7FFFFFFF) % partitions != p0:
            return first, other
    raise AssertionError("no second region")


def _members(kafka: KafkaSettings) -> int:
    """How many members of the index group own a partition of ``embeddings.v1``."""
    admin = KafkaAdminClient(bootstrap_servers=[kafka.bootstrap])
    try:
        (desc,) = admin.describe_consumer_groups([group_id("index", kafka)])
        topic = EMBEDDINGS.full_name(kafka.namespace)
        return sum(1 for m in desc.members if m.member_assignment
                   and any(t == topic and parts for t, parts in m.member_assignment.assignment))
    except Exception:  # noqa: BLE001 - the group forms while we ask
        return 0
    finally:
        admin.close()


def test_two_index_instances_share_every_gallery_change(kafka, sqlite_url, tmp_path):
    env = {**_stage_env(kafka, sqlite_url), "GAITLINE_INDEX_MATCH_THRESHOLD": "0.9"}
    procs = StageProcs(tmp_path)
    procs.start("index", env)
    procs.start("index", env, name="index-2")
    try:
        deadline = time.monotonic() + 120
        while _members(kafka) < 2:  # both own a partition of embeddings.v1 (one region each)
            procs.check()
            assert time.monotonic() < deadline, "the two index instances never shared the partitions"
            time.sleep(1)
        r1, r2 = _two_regions()
        now = time.time() - 100
        topic = EMBEDDINGS.full_name(kafka.namespace)
        walker = [1.0, 0.0, 0.0, 0.0]
        send_records(kafka, topic, [(r1.encode(), embedding(walker, window_id="c1/1/0", camera_id="c1", region=r1,
                                                            t_start=now).to_bytes())])
        first = [Sighting.from_bytes(m.value) for m in _read_all(kafka, SIGHTINGS.full_name(kafka.namespace), 1)]
        assert len(first) == 1 and first[0].enrolled
        time.sleep(3)  # the other instance reads the enrolment off gallery.v1
        # the same walker in the other region, decided by the other instance: the same identity
        send_records(kafka, topic, [(r2.encode(), embedding([0.99, 0.05, 0, 0], window_id="c2/7/0", camera_id="c2",
                                                            track_id=7, region=r2, t_start=now + 60).to_bytes())])
        both = [Sighting.from_bytes(m.value) for m in _read_all(kafka, SIGHTINGS.full_name(kafka.namespace), 2)]
        second = next(s for s in both if s.sighting_id == "c2/7/0")
        assert not second.enrolled and second.identity_id == first[0].identity_id, \
            "the walker was split into two identities by two index instances"
        procs.check()
    finally:
        procs.stop()
