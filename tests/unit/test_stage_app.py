"""The stage loop's commit rules (streams.stage_app), against a fake consumer: what is committed, when,
and what is read again after a batch is given up."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiokafka import TopicPartition

from streams.settings import KafkaSettings
from streams.stage_app import BatchAbandoned, StageApp
from streams.topics import SIGHTINGS

TOPIC = "t.sightings.v1"
P0, P1 = TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1)


@dataclass
class Rec:
    topic: str
    partition: int
    offset: int
    key: bytes = b"k"
    value: bytes = b"v"


class FakeConsumer:
    """Serves the records of its log from each partition's position; records commits and seeks."""

    def __init__(self, log: dict[TopicPartition, int], assigned: set[TopicPartition]) -> None:
        self.log = log  # partition -> number of records in it
        self.pos = {tp: 0 for tp in log}
        self.assigned = set(assigned)
        self.commits: list[dict[TopicPartition, int]] = []
        self.seeks: list[tuple[TopicPartition, int]] = []

    async def getmany(self, timeout_ms: int = 0, max_records: int | None = None) -> dict:
        await asyncio.sleep(0)
        out = {}
        for tp in sorted(self.assigned, key=lambda t: t.partition):
            n = min(self.log[tp] - self.pos[tp], max_records or 10**9)
            if n > 0:
                out[tp] = [Rec(tp.topic, tp.partition, self.pos[tp] + i) for i in range(n)]
                self.pos[tp] += n
        return out

    def assignment(self) -> set[TopicPartition]:
        return set(self.assigned)

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.commits.append(dict(offsets))

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append((tp, offset))
        self.pos[tp] = offset


def _app(consumer: FakeConsumer, handle) -> StageApp:
    app = StageApp("track", KafkaSettings(namespace="t"))
    app.attach(SIGHTINGS, handle, max_batch=10, max_wait_s=0.01)
    app.consumer = consumer  # type: ignore[assignment]
    return app


def _run(app: StageApp, until) -> None:
    async def main() -> None:
        app._batch_lock = asyncio.Lock()
        assert app.agent is not None
        task = asyncio.create_task(app._consume(app.agent))
        for _ in range(400):
            if until():
                break
            await asyncio.sleep(0.005)
        app.stopping = True
        await task
        await app._commit(final=True)

    asyncio.run(main())


def test_offsets_are_committed_only_after_the_batch_was_handled_and_past_its_last_record():
    consumer = FakeConsumer({P0: 3, P1: 2}, {P0, P1})
    handled: list[list[int]] = []

    async def handle(records) -> None:
        assert consumer.commits == [] or all(
            c.get(TopicPartition(r.topic, r.partition), 0) <= r.offset for c in consumer.commits for r in records)
        handled.append([r.offset for r in records])

    app = _app(consumer, handle)
    _run(app, lambda: bool(handled))
    assert sorted(o for batch in handled for o in batch) == [0, 0, 1, 1, 2]
    last = {}
    for c in consumer.commits:
        last.update(c)
    assert last == {P0: 3, P1: 2}  # the next offset to read, never one not handled


def test_a_batch_given_up_in_a_rebalance_is_not_committed_and_is_read_again():
    consumer = FakeConsumer({P0: 2}, {P0})
    attempts: list[list[int]] = []

    async def handle(records) -> None:
        attempts.append([r.offset for r in records])
        if len(attempts) == 1:  # the partitions are being revoked while this batch still fails
            raise BatchAbandoned("revoked")

    app = _app(consumer, handle)
    _run(app, lambda: len(attempts) >= 2)
    assert attempts[:2] == [[0, 1], [0, 1]]  # read again from its first record
    assert (P0, 0) in consumer.seeks
    assert all(c.get(P0, 0) in (0, 2) for c in consumer.commits)
    assert any(c.get(P0) == 2 for c in consumer.commits)  # committed once it went through


def test_records_of_a_partition_taken_away_are_left_to_its_new_owner():
    consumer = FakeConsumer({P0: 1, P1: 1}, {P0, P1})
    handled: list[tuple[int, int]] = []

    async def handle(records) -> None:
        handled.extend((r.partition, r.offset) for r in records)

    real_getmany = consumer.getmany

    async def getmany_then_lose_p1(timeout_ms: int = 0, max_records: int | None = None) -> dict:
        got = await real_getmany(timeout_ms, max_records)
        consumer.assigned.discard(P1)  # a rebalance between the fetch and the batch
        return got

    consumer.getmany = getmany_then_lose_p1  # type: ignore[method-assign]
    app = _app(consumer, handle)
    _run(app, lambda: bool(handled))
    assert handled == [(0, 0)]
    assert all(P1 not in c for c in consumer.commits)


def test_a_revocation_waits_for_the_batch_in_flight_then_commits_what_was_delivered():
    consumer = FakeConsumer({P0: 1}, {P0})
    order: list[str] = []

    async def handle(records) -> None:
        order.append("batch started")
        await asyncio.sleep(0.05)
        order.append("batch delivered")

    app = _app(consumer, handle)

    async def main() -> None:
        app._batch_lock = asyncio.Lock()
        assert app.agent is not None
        task = asyncio.create_task(app._consume(app.agent))
        while "batch started" not in order:
            await asyncio.sleep(0.001)
        app._committed_at = 1e18  # the periodic commit would not come for a long time
        await app.on_revoked({P0})
        order.append(f"revoked, committed {consumer.commits[-1] if consumer.commits else None}")
        app.stopping = True
        await task

    asyncio.run(main())
    assert order == ["batch started", "batch delivered", f"revoked, committed { {P0: 1} }"]
