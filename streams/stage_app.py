"""The consumer-group loop every stream stage runs: read a batch, handle it, deliver it, commit it.

One asyncio loop drives one aiokafka consumer (the stage's consumer group) and one aiokafka
producer; the handler runs in a thread (:class:`streams.agents.BatchRunner`), so heartbeats go on
while it works. The stages ran on faust agents before; the profile of a window's way through a
stage (docs/benchmarks.md) found most of a stage's CPU in faust's stream machinery and in the hops
between its consumer thread and the agent's loop, not in the stage's own work, and the batch-ack
contract the stages need (commit only what was handled *and* acknowledged) had to be forced onto
faust's ``take_events``. Here it is plain:

* a batch is what the consumer has fetched (up to ``max_batch``); the broker holds each fetch
  until about a batch of records is there or ``max_wait_s`` has passed;
* its offsets are committed only once the handler returned and the broker acknowledged every
  output, at most every :data:`COMMIT_INTERVAL_S` (1 s, as faust did), and always before partitions
  are given up in a rebalance and when the worker stops;
* a batch that still fails when its partitions are revoked or the worker stops is abandoned
  uncommitted, so the next owner reads it again (outputs may then repeat: consumers deduplicate
  by window id).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError
from prometheus_client import Gauge

from streams.clients import aiokafka_kwargs
from streams.groups import group_id
from streams.settings import KafkaSettings
from streams.topics import TopicSpec

log = logging.getLogger(__name__)

COMMIT_INTERVAL_S = 1.0
LAG_INTERVAL_S = 5.0


class BatchAbandoned(Exception):
    """The worker is stopping (or losing the batch's partitions) while a batch still fails: it is left
    unacknowledged for the next owner."""


@dataclass
class _Agent:
    source: TopicSpec
    handle_batch: Callable[[list[Any]], Awaitable[None]]  # aiokafka records; BatchAbandoned: given up
    max_batch: int
    max_wait_s: float
    lag: Gauge | None


class StageApp:
    """One stage's consumer group: ``attach`` a batch agent, then :meth:`run` until SIGTERM.

    Args:
        stage: the stage name (``embed``, ``index``, ``track``): the group is ``gaitline-<stage>``
            under the settings' namespace (:func:`streams.groups.group_id`).
        settings: broker address, namespace and security.
    """

    def __init__(self, stage: str, settings: KafkaSettings) -> None:
        self.stage = stage
        self.settings = settings
        self.group = group_id(stage, settings)
        self.agent: _Agent | None = None
        self.producer: AIOKafkaProducer | None = None
        self.consumer: AIOKafkaConsumer | None = None
        self.stopping = False  # SIGTERM: finish (or abandon) the batch, commit, close
        self.revoking = False  # a rebalance takes partitions away: the batch in flight must end now
        self._batch_lock: asyncio.Lock | None = None
        self._delivered: dict[TopicPartition, int] = {}  # next offset to commit, per partition
        self._committed_at = 0.0

    def attach(self, source: TopicSpec, handle_batch: Callable[[list[Any]], Awaitable[None]], max_batch: int,
               max_wait_s: float, lag: Gauge | None = None) -> None:
        """Read ``source`` in batches of up to ``max_batch`` records (waiting up to ``max_wait_s`` to fill one);
        ``handle_batch(records)`` (aiokafka ``ConsumerRecord``s) returns once their outputs are acknowledged,
        or raises :class:`BatchAbandoned` when :attr:`should_stop` made it give up."""
        if self.agent is not None:
            raise ValueError(f"stage {self.stage} already reads {self.agent.source.name}: one agent per stage")
        self.agent = _Agent(source, handle_batch, max_batch, max_wait_s, lag)

    @property
    def should_stop(self) -> bool:
        """True when the batch in flight must not be retried any longer (stopping, or partitions revoked)."""
        return self.stopping or self.revoking

    async def send(self, topic: str, key: bytes, value: bytes | None) -> Awaitable[object]:
        """Queue one record; the returned future resolves when the broker acknowledged it."""
        assert self.producer is not None  # started by run()
        return await self.producer.send(topic, value=value, key=key)

    def run(self) -> None:
        """Run the stage until SIGTERM/SIGINT, then drain: finish the batch, commit, leave the group."""
        asyncio.run(self._main())

    async def _main(self) -> None:
        if self.agent is None:
            raise ValueError(f"stage {self.stage} has no agent attached")
        agent = self.agent
        loop = asyncio.get_running_loop()

        def on_signal() -> None:
            self.stopping = True

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, on_signal)
        self._batch_lock = asyncio.Lock()
        kwargs = aiokafka_kwargs(self.settings)
        # no batch compression: the bulky payloads are compressed already (silhouettes by our codec,
        # evidence as PNG), and the broker decompresses every compressed batch to check it, a fixed cost
        # per batch that micro-batches of a few records pay in full (the frames stage never compressed)
        self.producer = AIOKafkaProducer(client_id=f"{self.group}-producer", acks="all", **kwargs)
        # the broker fills the batch: it holds a fetch until about a batch of records (1 KB each, at
        # least) is there or max_wait_s has passed, so a slow stream costs one fetch per max_wait_s,
        # not one per record, and the stage wakes once per batch
        self.consumer = AIOKafkaConsumer(
            client_id=f"{self.group}-consumer", group_id=self.group, enable_auto_commit=False,
            auto_offset_reset="earliest", session_timeout_ms=10_000, heartbeat_interval_ms=2_000,
            fetch_max_wait_ms=max(1, int(agent.max_wait_s * 1000)), fetch_min_bytes=agent.max_batch * 1024,
            **kwargs)
        topic = agent.source.full_name(self.settings.namespace)
        await self.producer.start()
        try:
            self.consumer.subscribe([topic], listener=_Rebalance(self))
            await self.consumer.start()
            lag_task = asyncio.create_task(self._report_lag(topic, agent.lag)) if agent.lag is not None else None
            try:
                await self._consume(agent)
            finally:
                if lag_task is not None:
                    lag_task.cancel()
                await self._commit(final=True)
                await self.consumer.stop()  # leaves the group: the partitions move on at once
        finally:
            await self.producer.stop()  # flushes what is queued

    async def _consume(self, agent: _Agent) -> None:
        assert self.consumer is not None and self._batch_lock is not None
        wait_ms = max(1, int(agent.max_wait_s * 1000))
        while not self.stopping:  # SIGTERM is seen within max_wait_s
            got = await self.consumer.getmany(timeout_ms=wait_ms, max_records=agent.max_batch)
            records = [rec for batch in got.values() for rec in batch]
            if not records:
                await self._commit()
                continue
            async with self._batch_lock:
                assigned = self.consumer.assignment()
                # fetched before a rebalance took their partition: the new owner reads them
                records = [r for r in records if TopicPartition(r.topic, r.partition) in assigned]
                if not records:
                    continue
                try:
                    await agent.handle_batch(records)
                except BatchAbandoned:
                    log.warning("%s: gave up a batch of %d from %s[%s]@%s while %s: left uncommitted", self.stage,
                                len(records), agent.source.name, records[0].partition, records[0].offset,
                                "stopping" if self.stopping else "its partitions were revoked")
                    if self.stopping:
                        break
                    self._rewind(records)
                    continue
                for r in records:
                    tp = TopicPartition(r.topic, r.partition)
                    self._delivered[tp] = max(self._delivered.get(tp, 0), r.offset + 1)
            await self._commit()

    def _rewind(self, records: list[Any]) -> None:
        """Read an abandoned batch again (its partitions stayed with this worker after the rebalance)."""
        assert self.consumer is not None
        first: dict[TopicPartition, int] = {}
        for r in records:
            tp = TopicPartition(r.topic, r.partition)
            first[tp] = min(first.get(tp, r.offset), r.offset)
        for tp, offset in first.items():
            if tp in self.consumer.assignment():
                self.consumer.seek(tp, offset)

    async def _commit(self, final: bool = False, only: set[TopicPartition] | None = None) -> None:
        """Commit the delivered offsets (every ``COMMIT_INTERVAL_S``; at once when ``final``)."""
        if self.consumer is None or not self._delivered:
            return
        now = time.monotonic()
        if not final and now - self._committed_at < COMMIT_INTERVAL_S:
            return
        offsets = {tp: off for tp, off in self._delivered.items() if only is None or tp in only}
        if not offsets:
            return
        try:
            await self.consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError) as exc:
            # the group moved on (a rebalance we were late for): the new owners read these again
            log.warning("%s: commit of %d partition(s) refused (%s): their records will be read again",
                        self.stage, len(offsets), exc)
        except KafkaError as exc:
            log.warning("%s: commit failed, retried with the next one: %s: %s", self.stage, type(exc).__name__, exc)
            return
        for tp in offsets:
            self._delivered.pop(tp, None)
        self._committed_at = now

    async def on_revoked(self, revoked: set[TopicPartition]) -> None:
        """Before partitions move: end the batch in flight (done, or abandoned), commit what was delivered."""
        assert self._batch_lock is not None
        self.revoking = True
        try:
            async with self._batch_lock:
                await self._commit(final=True)
        finally:
            self.revoking = False
        self._delivered.clear()

    async def _report_lag(self, topic: str, gauge: Gauge) -> None:
        # records of the source on this worker's partitions not read yet (what autoscaling follows)
        assert self.consumer is not None
        while True:
            await asyncio.sleep(LAG_INTERVAL_S)
            total = 0
            try:
                for tp in self.consumer.assignment():
                    if tp.topic != topic:
                        continue
                    position = await self.consumer.position(tp)
                    highwater = self.consumer.highwater(tp)
                    if position is not None and highwater is not None:
                        total += max(0, highwater - position)
            except (KafkaError, IllegalStateError):  # a rebalance in progress: the next round tells
                continue
            gauge.set(total)


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, app: StageApp) -> None:
        self.app = app

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self.app.on_revoked(set(revoked))

    async def on_partitions_assigned(self, assigned: Any) -> None:
        return None
