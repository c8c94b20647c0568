"""Integration fixtures: one real Apache Kafka broker per test session, fresh names per test."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.admin import ensure_topics
from streams.broker import LocalBroker
from streams.settings import KAFKA_VERSION, BrokerSettings, KafkaSettings

_USED: list[str] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say which real services the integration tests talked to."""
    for line in _USED:
        terminalreporter.write_line(f"[integration] used {line}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBroker]:
    """A real KRaft broker (Apache Kafka jars from Maven Central) on a free port, stopped at the end."""
    port = _free_port()
    settings = BrokerSettings(port=port, controller_port=_free_port(),
                              state_dir=tmp_path_factory.mktemp("kafka"), start_timeout_s=120)
    broker = LocalBroker(settings)
    broker.start()
    _USED.append(f"real Apache Kafka {KAFKA_VERSION} broker (KRaft, pid {broker.pid()}) on {broker.bootstrap}")
    yield broker
    broker.stop()


@pytest.fixture
def kafka(kafka_broker: LocalBroker) -> KafkaSettings:
    """Settings with a fresh namespace: this test's topics and consumer groups are its own."""
    settings = KafkaSettings(bootstrap=kafka_broker.bootstrap, namespace=f"t{uuid.uuid4().hex[:10]}")
    ensure_topics(settings, partitions=2)
    return settings


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite store."""
    return f"sqlite:///{tmp_path / 'store.db'}"
