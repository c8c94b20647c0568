"""The gallery log's rules, and a follower that reads only what was appended (fake consumer)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from kafka import TopicPartition

from index.replay import GalleryFollower, GalleryLog
from streams.schemas import GalleryEntry
from streams.settings import KafkaSettings
from tests.factories import gallery_entry


def _entry(ident: str, seed: int, version: str = "1", camera: str | None = "c1") -> bytes:
    return gallery_entry(seed=seed, identity_id=ident, model_version=version, last_camera_id=camera,
                         last_seen=5.0 if camera else None).to_bytes()


def test_latest_record_wins_tombstones_remove_and_strangers_are_skipped() -> None:
    log = GalleryLog()
    log.apply(b"p-1", _entry("p-1", 1), 0)
    log.apply(b"p-2", _entry("p-2", 2), 1)
    log.apply(b"p-1", _entry("p-1", 3, camera="c9"), 2)  # update
    log.apply(b"p-3", _entry("p-3", 4, version="2"), 3)  # another model version: does not compare
    log.apply(b"p-4", b"\x00garbage", 4)
    log.apply(b"p-2", None, 5)  # forgotten
    g = log.gallery
    assert g is not None and len(g) == 1 and "p-1" in g and "p-2" not in g and "p-3" not in g
    assert log.last_seen == {"p-1": ("c9", 5.0)}
    probe = np.frombuffer(GalleryEntry.from_bytes(_entry("p-1", 3)).vector.tobytes(), np.float32)
    assert g.search(probe, k=1)[0][0] == "p-1"


class FakeConsumer:
    """One partition of an append-only log; counts the records it hands out."""

    def __init__(self) -> None:
        self.records: list[tuple[bytes, bytes | None]] = []
        self.pos = 0
        self.delivered = 0
        self.tp: TopicPartition | None = None

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        return {0} if self.records else None  # no topic until something is written

    def assign(self, tps: list[TopicPartition]) -> None:
        self.tp = tps[0]

    def seek_to_beginning(self, *tps: TopicPartition) -> None:
        self.pos = 0

    def end_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: len(self.records) for tp in tps}

    def position(self, tp: TopicPartition) -> int:
        return self.pos

    def poll(self, timeout_ms: int) -> dict[TopicPartition, list[SimpleNamespace]]:
        batch = [SimpleNamespace(key=k, value=v, partition=0, offset=i)
                 for i, (k, v) in enumerate(self.records[self.pos:self.pos + 2], start=self.pos)]
        self.pos += len(batch)
        self.delivered += len(batch)
        return {self.tp: batch} if batch else {}

    def close(self) -> None:
        pass


def test_follower_reads_only_what_was_appended_since_the_last_look() -> None:
    fake = FakeConsumer()
    follower = GalleryFollower(KafkaSettings(), consumer=fake)
    with follower.current() as g:
        assert g is None  # nothing enrolled, no topic yet
    fake.records += [(f"p-{i}".encode(), _entry(f"p-{i}", i)) for i in range(5)]
    with follower.current() as g:
        assert g is not None and len(g) == 5
    assert fake.delivered == 5
    fake.records += [(b"p-0", None), (b"p-9", _entry("p-9", 9))]
    with follower.current() as g:
        assert g is not None and len(g) == 5 and "p-0" not in g and "p-9" in g
    assert fake.delivered == 7  # two new records read, not the whole log again
    with follower.current() as g:
        assert g is not None and len(g) == 5
    assert fake.delivered == 7
