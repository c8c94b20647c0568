"""The Kafka clients the rooms use, made in one place (kafka-python), their errors wrapped.

No other package imports ``kafka`` or ``aiokafka``: the stages get their consumer-group
loop from :mod:`streams.stage_app` and their runner from :mod:`streams.agents`; everything that
produces or reads records outside a stage goes through here, and a client error comes out
as a :class:`~streams.exceptions.BrokerError` that names the topic.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError

from streams.exceptions import BrokerError
from streams.settings import KafkaSettings


class Received(NamedTuple):
    """One record read from a topic."""

    key: bytes | None
    value: bytes | None
    partition: int
    offset: int


def aiokafka_kwargs(kafka: KafkaSettings) -> dict[str, Any]:
    """Connection keyword arguments for aiokafka clients (the stages' consumer and producer): the
    brokers, and TLS / SASL as the settings say (mutual TLS when a client certificate is set)."""
    out: dict[str, Any] = {"bootstrap_servers": kafka.bootstrap.split(","),
                           "security_protocol": kafka.security_protocol}
    if kafka.security_protocol in ("SSL", "SASL_SSL"):
        context = ssl.create_default_context(cafile=str(kafka.ssl_cafile) if kafka.ssl_cafile else None)
        if kafka.ssl_certfile and kafka.ssl_keyfile:  # mutual TLS: the broker checks this client too
            context.load_cert_chain(str(kafka.ssl_certfile), str(kafka.ssl_keyfile))
        out["ssl_context"] = context
    if kafka.security_protocol.startswith("SASL"):
        out["sasl_mechanism"] = kafka.sasl_mechanism
        out["sasl_plain_username"] = kafka.sasl_username or ""
        out["sasl_plain_password"] = kafka.sasl_password.get_secret_value() if kafka.sasl_password else ""
    return out


def make_producer(kafka: KafkaSettings, client_id: str, **options: Any) -> KafkaProducer:
    """A producer connected to ``kafka`` (``options`` are kafka-python producer settings)."""
    try:
        return KafkaProducer(client_id=client_id, **options, **kafka.kafka_python_kwargs())
    except (KafkaError, OSError) as exc:
        raise BrokerError(f"cannot reach Kafka at {kafka.bootstrap} ({exc.__class__.__name__}): {exc}") from exc


class Producer:
    """A thin producer: :meth:`send` queues a record, :meth:`send_and_wait` returns once it is acknowledged.

    ``on_ack(started)`` and ``on_error(exc)`` callbacks let a stage count latency and failures
    without touching the client.
    """

    def __init__(self, kafka: KafkaSettings, client_id: str, **options: Any) -> None:
        self.kafka = kafka
        self._producer = make_producer(kafka, client_id, **options)

    def send(self, topic: str, key: bytes | None, value: bytes | None,
             on_ack: Callable[[], None] | None = None,
             on_error: Callable[[BaseException], None] | None = None) -> None:
        """Queue one record (blocks while the producer's buffer is full)."""
        try:
            future = self._producer.send(topic, key=key, value=value)
        except KafkaError as exc:
            raise BrokerError(f"cannot send to {topic}: {exc}") from exc
        if on_ack is not None:
            future.add_callback(lambda _meta: on_ack())
        if on_error is not None:
            future.add_errback(on_error)

    def send_and_wait(self, topic: str, key: bytes | None, value: bytes | None, timeout_s: float = 15.0) -> None:
        """Send one record and wait for the broker's acknowledgement."""
        try:
            self._producer.send(topic, key=key, value=value).get(timeout=timeout_s)
        except KafkaError as exc:
            raise BrokerError(f"cannot write to {topic} ({exc.__class__.__name__}): {exc}") from exc

    def flush(self, timeout_s: float = 30.0) -> None:
        """Wait until every queued record is acknowledged or failed (:class:`BrokerError` after ``timeout_s``)."""
        try:
            self._producer.flush(timeout=timeout_s)
        except KafkaError as exc:
            raise BrokerError(f"flushing to {self.kafka.bootstrap} ({exc.__class__.__name__}): {exc}") from exc

    def close(self, timeout_s: float = 30.0) -> None:
        """Flush, then close the connection (what is still queued after ``timeout_s`` fails)."""
        try:
            self.flush(timeout_s)
        finally:
            self._producer.close(timeout=timeout_s)


def send_records(kafka: KafkaSettings, topic: str, records: Iterable[tuple[bytes | None, bytes | None]],
                 client_id: str = "gaitline-send") -> int:
    """Send ``(key, value)`` records to ``topic`` and wait for all of them; returns how many."""
    producer = Producer(kafka, client_id)
    n = 0
    try:
        for key, value in records:
            producer.send(topic, key, value)
            n += 1
    finally:
        producer.close()
    return n


def quiet_client_logs() -> None:
    """Silence the client's per-attempt connection logs (a command says what failed in one line)."""
    logging.getLogger("kafka").setLevel(logging.CRITICAL)


class TopicTail:
    """Reads every partition of one topic without a consumer group: first from the beginning, then
    only what was appended since the last read. ``consumer`` may be injected (tests); ``options`` are
    kafka-python consumer settings (e.g. ``fetch_min_bytes`` and ``fetch_max_wait_ms``, so that a
    reader that need not be prompt fetches a few times a second instead of once per record)."""

    def __init__(self, kafka: KafkaSettings, topic: str, client_id: str, consumer: Any = None,
                 **options: Any) -> None:
        self.topic = topic
        self._kafka, self._client_id = kafka, client_id
        self._consumer = consumer  # made on first use: a reader may start before the broker does
        self._options = options
        self._tps: list[TopicPartition] = []

    def _client(self) -> Any:
        if self._consumer is None:
            try:
                self._consumer = KafkaConsumer(client_id=self._client_id, enable_auto_commit=False,
                                               **self._options, **self._kafka.kafka_python_kwargs())
            except (KafkaError, OSError) as exc:
                raise BrokerError(f"cannot reach Kafka at {self._kafka.bootstrap} to read {self.topic}: "
                                  f"{exc}") from exc
        return self._consumer

    def _assigned(self, refresh: bool = False) -> bool:
        c = self._client()
        if not self._tps:  # the topic may appear after we start (nobody wrote to it yet)
            parts = c.partitions_for_topic(self.topic) or set()
            if not parts:
                if refresh:
                    c.topics()  # the client's metadata is cached: ask again for the next look
                return False
            self._tps = [TopicPartition(self.topic, p) for p in sorted(parts)]
            c.assign(self._tps)
            c.seek_to_beginning(*self._tps)
        return True

    def to_end(self) -> Iterator[Received]:
        """The records appended since the last read, up to the topic's end as of now."""
        try:
            if not self._assigned():
                return
            c = self._client()
            ends = c.end_offsets(self._tps)
            while any(c.position(tp) < ends[tp] for tp in self._tps):
                for batch in c.poll(timeout_ms=1000).values():
                    for msg in batch:
                        yield Received(msg.key, msg.value, msg.partition, msg.offset)
        except KafkaError as exc:
            raise BrokerError(f"reading {self.topic} failed: {exc}") from exc

    def poll(self, timeout_ms: int = 100) -> list[Received]:
        """What arrived within ``timeout_ms`` (empty while the topic does not exist yet)."""
        try:
            if not self._assigned(refresh=True):
                return []
            return [Received(m.key, m.value, m.partition, m.offset)
                    for batch in self._client().poll(timeout_ms=timeout_ms).values() for m in batch]
        except KafkaError as exc:
            raise BrokerError(f"reading {self.topic} failed: {exc}") from exc

    def close(self) -> None:
        """Close the connection (if one was made)."""
        if self._consumer is not None:
            self._consumer.close()


def read_since(kafka: KafkaSettings, topic: str, since_ms: int, client_id: str,
               limit: int = 1_000_000) -> Iterator[Received]:
    """Every record of ``topic`` written at or after ``since_ms`` (epoch milliseconds, the records' own
    timestamps) up to the topic's end as of now, partition by partition; at most ``limit`` records."""
    try:
        c = KafkaConsumer(client_id=client_id, enable_auto_commit=False, **kafka.kafka_python_kwargs())
    except (KafkaError, OSError) as exc:
        raise BrokerError(f"cannot reach Kafka at {kafka.bootstrap} to read {topic}: {exc}") from exc
    try:
        tps = [TopicPartition(topic, p) for p in sorted(c.partitions_for_topic(topic) or set())]
        if not tps:
            return
        starts = c.offsets_for_times({tp: since_ms for tp in tps})
        ends = c.end_offsets(tps)
        c.assign(tps)
        todo = []
        for tp in tps:
            at = starts.get(tp)
            if at is None:  # nothing written since then
                continue
            c.seek(tp, at.offset)
            todo.append(tp)
        n = 0
        while todo and n < limit:
            for batch in c.poll(timeout_ms=1000).values():
                for msg in batch:
                    if msg.offset < ends[TopicPartition(msg.topic, msg.partition)]:
                        n += 1
                        yield Received(msg.key, msg.value, msg.partition, msg.offset)
            todo = [tp for tp in todo if c.position(tp) < ends[tp]]
    except KafkaError as exc:
        raise BrokerError(f"reading {topic} since {since_ms} failed: {exc}") from exc
    finally:
        c.close()


def first_uncommitted_ms(kafka: KafkaSettings, group: str, topic: str, client_id: str) -> int | None:
    """The timestamp (epoch ms) of the oldest record of ``topic`` that consumer group ``group`` has
    not committed yet, or None when it has committed everything (or nothing is there)."""
    try:
        c = KafkaConsumer(client_id=client_id, group_id=group, enable_auto_commit=False,
                          **kafka.kafka_python_kwargs())
    except (KafkaError, OSError) as exc:
        raise BrokerError(f"cannot reach Kafka at {kafka.bootstrap} to read {topic}: {exc}") from exc
    try:
        tps = [TopicPartition(topic, p) for p in sorted(c.partitions_for_topic(topic) or set())]
        ends = c.end_offsets(tps) if tps else {}
        begins = c.beginning_offsets(tps) if tps else {}
        oldest: int | None = None
        for tp in tps:
            committed = c.committed(tp)
            at = max(committed if committed is not None else 0, begins[tp])
            if at >= ends[tp]:
                continue
            c.assign([tp])
            c.seek(tp, at)
            for batch in c.poll(timeout_ms=5000, max_records=1).values():
                for msg in batch[:1]:
                    oldest = msg.timestamp if oldest is None else min(oldest, msg.timestamp)
        return oldest
    except KafkaError as exc:
        raise BrokerError(f"reading the uncommitted records of {group} on {topic} failed: {exc}") from exc
    finally:
        c.close()
