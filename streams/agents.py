"""The shape every stream stage shares: read a batch of raw records, handle it, send results.

A stage is a pure handler ``list[Record] -> list[Output]`` (unit-testable without Kafka) run
by a faust agent with micro-batching. Undecodable input becomes an :class:`Output` to the
dead-letter topic, so one bad record never stops a stage nor loses the records around it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import faust
from prometheus_client import CollectorRegistry, Counter, Gauge

from gaitline.metrics import serve
from streams.exceptions import SchemaError
from streams.faust_app import raw_topic
from streams.schemas import DeadLetter, Message
from streams.settings import KafkaSettings
from streams.topics import ALL_TOPICS, DEADLETTER, TopicSpec

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Record:
    """One input record with where it came from (for dead letters and logs)."""

    key: bytes | None
    value: bytes | None
    topic: str
    partition: int | None
    offset: int | None


@dataclass(frozen=True)
class Output:
    """One record to send: to which declared topic, with which key and value (None = tombstone)."""

    topic: TopicSpec
    key: bytes
    value: bytes | None


Handler = Callable[[list[Record]], list[Output]]
M = TypeVar("M", bound=Message)


def dead_letter_output(stage: str, rec: Record, reason: str) -> Output:
    """The dead-letter output for ``rec``, which ``stage`` could not process because of ``reason``."""
    log.warning("dead-lettering %s[%s]@%s in %s: %s", rec.topic, rec.partition, rec.offset, stage, reason)
    letter = DeadLetter(stage=stage, reason=reason, source_topic=rec.topic, partition=rec.partition,
                        offset=rec.offset, key=rec.key.decode("utf-8", "replace") if rec.key else None,
                        original=rec.value or b"")
    return Output(DEADLETTER, rec.key or b"", letter.to_bytes())


def decode_all(records: list[Record], schema: type[M], stage: str,
               counter: Counter | None = None) -> tuple[list[tuple[Record, M]], list[Output]]:
    """Decode ``records`` as ``schema``: ``(record, message)`` pairs, and dead letters for the rest."""
    good: list[tuple[Record, M]] = []
    dead: list[Output] = []
    for rec in records:
        try:
            good.append((rec, schema.from_bytes(rec.value)))
        except SchemaError as exc:
            if counter is not None:
                counter.labels("schema").inc()
            dead.append(dead_letter_output(stage, rec, str(exc)))
    return good, dead


def attach_batch_agent(app: faust.App, settings: KafkaSettings, source: TopicSpec, handler: Handler,
                       max_batch: int, max_wait_s: float, lag: Gauge | None = None) -> None:
    """Run ``handler`` on batches of up to ``max_batch`` records from ``source`` (waiting at most
    ``max_wait_s`` to fill one) and send its outputs. The handler runs in a thread so the event
    loop keeps heartbeating while a model or a database works."""
    src = raw_topic(app, source, settings)
    sinks = {spec.name: raw_topic(app, spec, settings) for spec in ALL_TOPICS}

    @app.agent(src, name=f"{app.conf.id}.{source.name}")
    async def _agent(stream: faust.StreamT) -> None:
        loop = asyncio.get_running_loop()
        async for events in stream.take_events(max_batch, within=max_wait_s):  # type: ignore[attr-defined]
            records = [Record(ev.key, ev.value, ev.message.topic, ev.message.partition, ev.message.offset)
                       for ev in events]
            outputs = await loop.run_in_executor(None, handler, records)
            for out in outputs:
                # awaiting each send keeps order per key and applies broker backpressure
                await sinks[out.topic.name].send(key=out.key, value=out.value)

    if lag is not None:
        gauge = lag

        @app.timer(5.0)
        async def _consumer_lag() -> None:
            # records of the source on this worker's partitions not read yet (what autoscaling follows)
            total = 0
            for tp in app.consumer.assignment():
                if tp.topic != src.get_topic_name():
                    continue
                position = await app.consumer.position(tp)
                highwater = app.consumer.highwater(tp)
                if position is not None and highwater is not None:
                    total += max(0, highwater - position)
            gauge.set(total)


def run_worker(app: faust.App, registry: CollectorRegistry, metrics_port: int, loglevel: str = "warn") -> None:
    """Serve metrics and run the faust worker until SIGTERM/SIGINT (faust drains and commits)."""
    serve(registry, metrics_port)
    worker = faust.Worker(app, loglevel=loglevel, quiet=True)
    worker.execute_from_commandline()
