"""Thin kafka-python admin helpers: create the declared topics, read offsets and group lag."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from streams.exceptions import BrokerError
from streams.settings import KafkaSettings
from streams.topics import ALL_TOPICS, TopicSpec


def admin_client(settings: KafkaSettings) -> KafkaAdminClient:
    """An admin client for ``settings``; :class:`BrokerError` when the broker cannot be reached."""
    try:
        return KafkaAdminClient(client_id="gaitline-admin", request_timeout_ms=15000,
                                **settings.kafka_python_kwargs())
    except (KafkaError, OSError) as exc:
        hint = ""
        if settings.security_protocol.startswith("SASL"):
            # kafka-python reports a refused login as a version or connection error: say what to check
            hint = (f" (with {settings.security_protocol}: check GAITLINE_KAFKA_SASL_USERNAME, _SASL_PASSWORD and "
                    f"_SASL_MECHANISM={settings.sasl_mechanism}; a refused login looks like this)")
        elif settings.security_protocol == "SSL":
            hint = " (with SSL: check GAITLINE_KAFKA_SSL_CAFILE and that the port is the broker's SSL listener)"
        raise BrokerError(f"cannot reach Kafka at {settings.bootstrap}: {exc}{hint}") from exc


def ensure_topics(settings: KafkaSettings, specs: Iterable[TopicSpec] = ALL_TOPICS,
                  partitions: int | None = None, ready_s: float = 15.0) -> list[str]:
    """Create the declared topics under ``settings.namespace`` if missing; return their names.

    Returns once the broker's metadata shows a leader for every partition of the new topics (up
    to ``ready_s``): a client that writes right away would otherwise be told they do not exist
    and log errors while it retries.

    Args:
        settings: broker address and namespace.
        specs: which topics (default: all of them).
        partitions: override every topic's partition count (small dev brokers, tests).
        ready_s: how long to wait for the new topics' leaders.
    """
    admin = admin_client(settings)
    try:
        existing = set(admin.list_topics())
        names, new = [], []
        for spec in specs:
            name = spec.full_name(settings.namespace)
            names.append(name)
            if name not in existing:
                new.append(NewTopic(name, partitions or spec.partitions, 1, topic_configs=spec.configs()))
        for topic in new:
            with contextlib.suppress(TopicAlreadyExistsError):  # another worker was first: fine
                admin.create_topics([topic])
        _wait_for_leaders(admin, [t.name for t in new], ready_s)
        return names
    except KafkaError as exc:
        raise BrokerError(f"creating topics on {settings.bootstrap} failed: {exc}") from exc
    finally:
        admin.close()


def _wait_for_leaders(admin: KafkaAdminClient, topics: list[str], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while topics and time.monotonic() < deadline:
        with contextlib.suppress(KafkaError):
            meta = admin.describe_topics(topics)
            if all(not m.get("error_code") and m.get("partitions")
                   and all(p.get("leader", -1) >= 0 for p in m["partitions"]) for m in meta):
                return
        time.sleep(0.1)
    # not visible yet: carry on, clients retry by themselves (and say so in their logs)


def end_offsets(settings: KafkaSettings, topic: str) -> dict[int, int]:
    """Latest offset of each partition of ``topic`` (messages written so far)."""
    consumer = KafkaConsumer(client_id="gaitline-offsets", enable_auto_commit=False, **settings.kafka_python_kwargs())
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        return {tp.partition: int(off) for tp, off in consumer.end_offsets(tps).items()}
    finally:
        consumer.close()


def message_count(settings: KafkaSettings, topic: str) -> int:
    """Messages ever written to ``topic`` (sum of end offsets; exact for never-compacted topics)."""
    return sum(end_offsets(settings, topic).values())


def group_lag(settings: KafkaSettings, group: str, topic: str) -> int:
    """Messages of ``topic`` not yet committed by consumer group ``group``."""
    ends = end_offsets(settings, topic)
    admin = admin_client(settings)
    try:
        committed = admin.list_consumer_group_offsets(group)
    finally:
        admin.close()
    done = {tp.partition: om.offset for tp, om in committed.items() if tp.topic == topic}
    return sum(max(0, end - max(done.get(p, 0), 0)) for p, end in ends.items())


def group_lag_or_unknown(settings: KafkaSettings, group: str, topic: str) -> int | str:
    """:func:`group_lag`, or a string saying why it is unknown for now (e.g. the group
    coordinator is still loading); an error that will not pass by itself is a :class:`BrokerError`."""
    try:
        return group_lag(settings, group, topic)
    except KafkaError as exc:
        if not exc.retriable:
            raise BrokerError(f"lag of group {group} on {topic}: {exc}") from exc
        return f"unknown ({exc.__class__.__name__})"
