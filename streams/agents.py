"""The shape every stream stage shares: read a batch of raw records, handle it, send results.

A stage is a pure handler ``list[Record] -> list[Output]`` (unit-testable without Kafka) run
by :class:`~streams.stage_app.StageApp`'s consumer-group loop with micro-batching. Undecodable
input becomes an :class:`Output` to the dead-letter topic, so one bad record never stops a stage
nor loses the records around it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge

from gaitline.logs import coordinates
from gaitline.metrics import serve
from streams.exceptions import SchemaError
from streams.schemas import DeadLetter, Message
from streams.settings import KafkaSettings
from streams.stage_app import BatchAbandoned, StageApp
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
    log.warning("dead-lettering %s[%s]@%s in %s: %s", rec.topic, rec.partition, rec.offset, stage, reason,
                extra=coordinates(rec.topic, rec.partition, rec.offset, rec.key))
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


Decision = Literal["retry", "split", "deadletter"]
ErrorPolicy = Callable[[BaseException], Decision]
"""Says what to do when the handler raised ``exc`` on a batch: ``retry`` it whole (the cause is outside
the records: the database is away; the batch waits), ``split`` it in halves after a few failures and
retry each (a batch too big for the GPU, or one bad record among good ones; a single record keeps
being retried), or ``deadletter``: as ``split``, and a single record is dead-lettered (the record
itself is at fault)."""


def split_then_retry(exc: BaseException) -> Decision:
    """The default :data:`ErrorPolicy`: the cause is unknown, so halve the batch, and retry a single
    record until it passes (never dropped; a record that can never pass holds its partition, which
    the lag alert shows)."""
    return "split"


@dataclass(frozen=True)
class RetryPolicy:
    """How a batch whose handler raised is retried (an error never acks a batch: see :func:`attach_batch_agent`).

    Attributes:
        decide: the :data:`ErrorPolicy`: retry whole, split, or dead-letter a single record.
        first_s: the first wait between attempts; it doubles up to ``max_s``.
        max_s: the longest wait between attempts.
        split_after: failed attempts after which a batch is handled in halves (isolating a bad
            record, or shrinking a batch that is too big for the GPU).
    """

    decide: ErrorPolicy = split_then_retry
    first_s: float = 0.5
    max_s: float = 15.0
    split_after: int = 3

    def wait_s(self, attempt: int) -> float:
        """The wait after failed attempt number ``attempt`` (1-based)."""
        return float(min(self.max_s, self.first_s * 2 ** min(attempt - 1, 30)))


class BatchRunner:
    """Handles one batch to the end: handler, then delivery of every output, retrying both until they pass.

    The handler runs in a thread (the event loop keeps heartbeating). A handler error is retried
    with backoff as ``policy.decide`` says: whole, or split in halves after ``policy.split_after``
    failures, a single record dead-lettered only when the record itself is at fault. Outputs are
    sent and their acknowledgements awaited; a failed send is retried (the handler is not run again:
    its side effects, such as an identity enrolled, happened once).
    """

    def __init__(self, stage: str, handler: Handler, send: Callable[[Output], Awaitable[Awaitable[object]]],
                 policy: RetryPolicy, retries: Counter | None = None,
                 stopping: Callable[[], bool] = lambda: False) -> None:
        self.stage, self.handler, self._send, self.policy, self.retries = stage, handler, send, policy, retries
        self.stopping = stopping

    async def _wait(self, seconds: float) -> None:
        """Sleep ``seconds``, or raise :class:`BatchAbandoned` as soon as the worker is stopping."""
        deadline = asyncio.get_running_loop().time() + seconds
        while True:
            if self.stopping():
                raise BatchAbandoned(f"{self.stage}: stopping with a batch that still fails")
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return
            await asyncio.sleep(min(left, 0.25))

    async def run(self, records: list[Record]) -> None:
        """Handle ``records`` and deliver their outputs; returns only when both are done."""
        outputs = await self.handle(records)
        await self.deliver(outputs)

    async def handle(self, records: list[Record]) -> list[Output]:
        """The handler's outputs for ``records``, retried as the policy says."""
        loop = asyncio.get_running_loop()
        attempt = 0
        while True:
            try:
                return await loop.run_in_executor(None, self.handler, records)
            except Exception as exc:  # noqa: BLE001 - every handler error is retried or dead-lettered, never acked
                attempt += 1
                decision = self.policy.decide(exc)
                if len(records) == 1 and decision == "deadletter":
                    return [dead_letter_output(self.stage, records[0], f"{type(exc).__name__}: {exc}")]
                if len(records) > 1 and decision != "retry" and attempt >= self.policy.split_after:
                    mid = len(records) // 2
                    return await self.handle(records[:mid]) + await self.handle(records[mid:])
                self._count("handler")
                wait = self.policy.wait_s(attempt)
                log.warning("%s: handling %d record(s) from %s[%s]@%s failed (attempt %d), retrying in %.1f s: "
                            "%s: %s", self.stage, len(records), records[0].topic, records[0].partition,
                            records[0].offset, attempt, wait, type(exc).__name__, exc)
                await self._wait(wait)

    async def deliver(self, outputs: list[Output]) -> None:
        """Send ``outputs`` in order and wait for the broker to acknowledge each; resend what failed."""
        attempt = 0
        pending = outputs
        while pending:
            results: list[object] = []
            try:
                futures = [await self._send(out) for out in pending]  # in order: keeps order per key
                results = list(await asyncio.gather(*futures, return_exceptions=True))
            except Exception as exc:  # noqa: BLE001 - the producer refused: resend them all
                results = [exc] * len(pending)
            failed = [out for out, res in zip(pending, results, strict=True) if isinstance(res, BaseException)]
            if not failed:
                return
            attempt += 1
            self._count("send")
            err = next(r for r in results if isinstance(r, BaseException))
            wait = self.policy.wait_s(attempt)
            log.warning("%s: %d of %d output(s) not acknowledged (attempt %d), resending in %.1f s: %s: %s",
                        self.stage, len(failed), len(pending), attempt, wait, type(err).__name__, err)
            pending = failed
            await self._wait(wait)

    def _count(self, what: str) -> None:
        if self.retries is not None:
            self.retries.labels(what).inc()


def attach_batch_agent(app: StageApp, settings: KafkaSettings, source: TopicSpec, handler: Handler,
                       max_batch: int, max_wait_s: float, lag: Gauge | None = None,
                       retries: Counter | None = None, policy: RetryPolicy | None = None,
                       stage: str | None = None) -> None:
    """Run ``handler`` on batches of up to ``max_batch`` records from ``source`` (waiting at most
    ``max_wait_s`` to fill one) and send its outputs.

    A batch is committed only once the handler returned and the broker acknowledged every output:
    a handler that raises (the store is down, the GPU ran out of memory) is retried as ``policy``
    says and the batch waits. If the worker is stopped, or loses the batch's partitions in a
    rebalance, while the batch still fails, it is left uncommitted, so the next owner of the
    partitions reads it again (outputs may then repeat: consumers deduplicate by window id).
    See :mod:`streams.stage_app` for the loop.

    Args:
        app: the stage's :class:`~streams.stage_app.StageApp`.
        settings: broker settings (namespace).
        source: the input topic.
        handler: ``list[Record] -> list[Output]``, run in a thread.
        max_batch: most records per batch.
        max_wait_s: longest wait to fill a batch.
        lag: a gauge for the records of the input not read yet (autoscaling follows it), or None.
        retries: a counter labelled by what was retried (``handler`` or ``send``), or None.
        policy: the retry policy (default :class:`RetryPolicy`: retry everything).
        stage: the name dead letters carry (default: the app's stage).
    """
    names = {spec.name: spec.full_name(settings.namespace) for spec in ALL_TOPICS}

    async def send(out: Output) -> Awaitable[object]:
        return await app.send(names[out.topic.name], out.key, out.value)

    runner = BatchRunner(stage or app.stage, handler, send, policy or RetryPolicy(), retries,
                         stopping=lambda: app.should_stop)

    async def handle_batch(records: list[Any]) -> None:
        await runner.run([Record(r.key, r.value, r.topic, r.partition, r.offset) for r in records])

    app.attach(source, handle_batch, max_batch, max_wait_s, lag)


def run_worker(app: StageApp, registry: CollectorRegistry, metrics_port: int) -> None:
    """Serve metrics and run the stage until SIGTERM/SIGINT (it drains: finishes the batch, commits, closes)."""
    serve(registry, metrics_port)
    app.run()
