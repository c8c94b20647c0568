"""Thin kafka-python admin helpers: create the declared topics, read offsets and group lag."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterable

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from streams.exceptions import BrokerError, TopicMismatchError
from streams.settings import KafkaSettings
from streams.topics import ALL_TOPICS, TopicSpec

log = logging.getLogger(__name__)


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


def topic_partitions(spec: TopicSpec, settings: KafkaSettings, partitions: int | None = None) -> int:
    """How many partitions ``spec`` has under ``settings``: ``partitions`` or ``settings.topic_partitions``
    override a multi-partition topic's declared count; a single-partition topic (``gallery.v1``,
    whose log order is the gallery's) always keeps one."""
    if spec.partitions == 1:
        return 1
    return partitions or settings.topic_partitions or spec.partitions


def ensure_topics(settings: KafkaSettings, specs: Iterable[TopicSpec] = ALL_TOPICS,
                  partitions: int | None = None, ready_s: float = 15.0) -> list[str]:
    """Create the declared topics under ``settings.namespace`` if missing, verify the existing ones; return
    their names.

    Every stage calls this at start, so a cluster's topics exist with their declared compaction,
    retention and replication before anything writes (broker auto-creation would give
    ``gallery.v1`` no compaction). An existing topic whose cleanup policy, retention, replication
    factor or partition count differs from the declaration is a :class:`TopicMismatchError`
    naming each difference. Partition counts are checked when a count is requested (``partitions``
    or ``GAITLINE_KAFKA_TOPIC_PARTITIONS``) and for single-partition topics; otherwise more or fewer
    partitions than declared is the operator's scaling choice and only logged.

    Returns once the broker's metadata shows a leader for every partition of the new topics (up
    to ``ready_s``): a client that writes right away would otherwise be told they do not exist
    and log errors while it retries.

    Args:
        settings: broker address, namespace and replication factor.
        specs: which topics (default: all of them).
        partitions: override every multi-partition topic's count (small dev brokers, tests).
        ready_s: how long to wait for the new topics' leaders.
    """
    specs = list(specs)
    admin = admin_client(settings)
    try:
        existing = set(admin.list_topics())
        names, new = [], []
        for spec in specs:
            name = spec.full_name(settings.namespace)
            names.append(name)
            if name not in existing:
                new.append(NewTopic(name, topic_partitions(spec, settings, partitions), settings.replication_factor,
                                    topic_configs=spec.configs(settings.replication_factor)))
        for topic in new:
            with contextlib.suppress(TopicAlreadyExistsError):  # another worker was first: fine
                admin.create_topics([topic])
        _wait_for_leaders(admin, [t.name for t in new], ready_s)
        problems = _verify(admin, settings, specs, partitions)
        if problems:
            raise TopicMismatchError(f"topics on {settings.bootstrap} differ from their declaration "
                                     f"(streams/topics.py): {'; '.join(problems)}")
        return names
    except KafkaError as exc:
        raise BrokerError(f"creating topics on {settings.bootstrap} failed: {exc}") from exc
    finally:
        admin.close()


_CHECKED_CONFIGS = ("cleanup.policy", "retention.ms", "delete.retention.ms", "min.insync.replicas")


def _verify(admin: KafkaAdminClient, settings: KafkaSettings, specs: list[TopicSpec],
            partitions: int | None) -> list[str]:
    """What differs between the broker's topics and ``specs`` (empty when nothing does)."""
    names = {spec.full_name(settings.namespace): spec for spec in specs}
    meta = {m["topic"]: m for m in admin.describe_topics(list(names))}
    resources = [ConfigResource(ConfigResourceType.TOPIC, n, configs={k: None for k in _CHECKED_CONFIGS})
                 for n in names]
    actual: dict[str, dict[str, str]] = {}
    for response in admin.describe_configs(resources):
        for _err, _msg, _type, rname, entries in response.resources:
            actual[rname] = {e[0]: e[1] for e in entries}
    problems: list[str] = []
    explicit = partitions or settings.topic_partitions
    for name, spec in names.items():
        m = meta.get(name)
        if m is None or m.get("error_code") or not m.get("partitions"):
            problems.append(f"{name} is missing")
            continue
        count = len(m["partitions"])
        want = topic_partitions(spec, settings, partitions)
        if count != want and (explicit or spec.partitions == 1):
            problems.append(f"{name} has {count} partitions, declared {want}")
        elif count != want:
            log.info("%s has %d partitions (declared %d): kept", name, count, want)
        rf = min(len(p.get("replicas", [])) for p in m["partitions"])
        if rf < settings.replication_factor:
            problems.append(f"{name} has replication factor {rf}, required {settings.replication_factor}")
        have = actual.get(name, {})
        for key, value in spec.configs(settings.replication_factor).items():
            if key in _CHECKED_CONFIGS and have.get(key) != value:
                problems.append(f"{name} has {key}={have.get(key)}, declared {value}")
    return problems


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
