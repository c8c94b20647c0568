"""TLS + SASL end to end: the stages talk to a real broker only over SASL_SSL (SCRAM-SHA-512)."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from store.db import Store
from streams.admin import ensure_topics
from streams.broker import LocalBroker
from streams.clients import send_records
from streams.exceptions import BrokerError
from streams.settings import BrokerSettings, KafkaSettings
from streams.topics import TRACKLETS
from workers.demo import StageProcs

from .conftest import _USED, _free_port
from .test_stages import _window

pytestmark = pytest.mark.integration

PASSWORD = "s3cret-" + uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def secure_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBroker]:
    settings = BrokerSettings(port=_free_port(), controller_port=_free_port(), secure_port=_free_port(),
                              state_dir=tmp_path_factory.mktemp("kafka-secure"), start_timeout_s=120,
                              sasl_users={"gaitline": SecretStr(PASSWORD)})
    broker = LocalBroker(settings)
    broker.start()
    _USED.append(f"real Apache Kafka broker with a SASL_SSL listener (SCRAM-SHA-512, TLS) on "
                 f"127.0.0.1:{settings.secure_port}")
    yield broker
    broker.stop()


def _secure(broker: LocalBroker, **over: object) -> KafkaSettings:
    base = {"bootstrap": f"127.0.0.1:{broker.settings.secure_port}", "namespace": f"s{uuid.uuid4().hex[:8]}",
            "security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512", "sasl_username": "gaitline",
            "sasl_password": PASSWORD, "ssl_cafile": broker.state_dir / "tls" / "ca.pem"}
    return KafkaSettings(**(base | over))  # type: ignore[arg-type]


def test_pipeline_runs_over_sasl_ssl(secure_broker: LocalBroker, tmp_path: Path) -> None:
    kafka = _secure(secure_broker)
    ensure_topics(kafka, partitions=1)
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    env = {**os.environ, "GAITLINE_KAFKA_BOOTSTRAP": kafka.bootstrap, "GAITLINE_KAFKA_NAMESPACE": kafka.namespace,
           "GAITLINE_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "GAITLINE_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
           "GAITLINE_KAFKA_SASL_USERNAME": "gaitline", "GAITLINE_KAFKA_SASL_PASSWORD": PASSWORD,
           "GAITLINE_KAFKA_SSL_CAFILE": str(kafka.ssl_cafile), "GAITLINE_TRACK_STORE_URL": store_url,
           "GAITLINE_EMBED_METRICS_PORT": "0", "GAITLINE_INDEX_METRICS_PORT": "0", "GAITLINE_TRACK_METRICS_PORT": "0"}
    procs = StageProcs(tmp_path)
    for stage in ("embed", "index", "track"):
        procs.start(stage, env)
    try:
        windows = [_window(p, 1, s) for p in range(2) for s in (0, 30)]
        send_records(kafka, TRACKLETS.full_name(kafka.namespace),
                     [(f"{w.camera_id}/1".encode(), w.to_bytes()) for w in windows])
        store = Store(store_url)
        deadline = time.monotonic() + 120
        while store.count() < len(windows) and time.monotonic() < deadline:
            procs.check()
            time.sleep(1)
        # every window went tracklets -> embed -> index -> track over TLS with a SCRAM login
        assert store.count() == len(windows)
        assert {s.camera_id for s in store.all_sightings()} == {"cam0", "cam1"}
        store.close()
    finally:
        procs.stop()


def test_wrong_credentials_and_plaintext_are_refused(secure_broker: LocalBroker) -> None:
    with pytest.raises(BrokerError, match="SASL_PASSWORD"):  # the message says what to check
        ensure_topics(_secure(secure_broker, sasl_password="not-the-password"), partitions=1)
    with pytest.raises(BrokerError):
        ensure_topics(_secure(secure_broker, security_protocol="PLAINTEXT"), partitions=1)
    # and the broker's certificate is checked: without the dev CA the TLS handshake fails
    with pytest.raises(BrokerError):
        ensure_topics(_secure(secure_broker, ssl_cafile=None), partitions=1)
