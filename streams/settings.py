"""Kafka connection settings, shared by every process (env prefix ``GAITLINE_KAFKA_``)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

KAFKA_VERSION = "4.4.0"
"""The Apache Kafka broker version fetched from Maven Central (pinned here, and only here)."""


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/gaitline`` (else ``~/.cache/gaitline``): downloaded jars and broker state, outside the
    repository."""
    import os

    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "gaitline"


class KafkaSettings(BaseSettings):
    """How to reach Kafka. Every field reads ``GAITLINE_KAFKA_<FIELD>`` from the environment."""

    model_config = SettingsConfigDict(env_prefix="GAITLINE_KAFKA_", extra="forbid")

    bootstrap: str = Field("127.0.0.1:9092",
                           description="brokers, host:port[,host:port...]; env GAITLINE_KAFKA_BOOTSTRAP")
    namespace: str = Field("", description="prefix of every topic and consumer group (demos and tests isolate "
                                           "themselves with it); env GAITLINE_KAFKA_NAMESPACE")
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="SSL or SASL_SSL for TLS, SASL_* for a login; env GAITLINE_KAFKA_SECURITY_PROTOCOL")
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        "SCRAM-SHA-512", description="the SASL login mechanism; env GAITLINE_KAFKA_SASL_MECHANISM")
    sasl_username: str | None = Field(None, description="SASL user; env GAITLINE_KAFKA_SASL_USERNAME")
    sasl_password: SecretStr | None = Field(None, description="SASL password (masked when printed); "
                                             "env GAITLINE_KAFKA_SASL_PASSWORD")
    ssl_cafile: Path | None = Field(None, description="CA certificate(s) that sign the brokers' TLS certificates "
                                     "(unset: the system's); env GAITLINE_KAFKA_SSL_CAFILE")
    ssl_certfile: Path | None = Field(None, description="this client's TLS certificate (PEM), for brokers that "
                                       "authenticate clients by certificate (mutual TLS); with "
                                       "GAITLINE_KAFKA_SSL_KEYFILE; env GAITLINE_KAFKA_SSL_CERTFILE")
    ssl_keyfile: Path | None = Field(None, description="the private key (PEM) of GAITLINE_KAFKA_SSL_CERTFILE; "
                                      "env GAITLINE_KAFKA_SSL_KEYFILE")

    replication_factor: int = Field(1, ge=1, le=16, description="replicas of every topic gaitline creates, and the "
                                    "least an existing one must have (3 in a cluster; 1 for the dev broker); "
                                    "env GAITLINE_KAFKA_REPLICATION_FACTOR")
    topic_partitions: int | None = Field(None, ge=1, le=10_000, description="partitions of every multi-partition "
                                         "topic instead of the declared counts, checked on existing topics "
                                         "(unset: declared, and existing counts are kept); "
                                         "env GAITLINE_KAFKA_TOPIC_PARTITIONS")

    @model_validator(mode="after")
    def _client_certificate_whole(self) -> KafkaSettings:
        if (self.ssl_certfile is None) != (self.ssl_keyfile is None):
            raise ValueError("GAITLINE_KAFKA_SSL_CERTFILE and GAITLINE_KAFKA_SSL_KEYFILE go together: set both or "
                             "neither")
        return self

    def topic(self, spec_name: str) -> str:
        """Full broker name of a base topic name under this namespace."""
        return f"{self.namespace}.{spec_name}" if self.namespace else spec_name

    def kafka_python_kwargs(self) -> dict[str, Any]:
        """Connection keyword arguments for kafka-python clients."""
        out: dict[str, Any] = {"bootstrap_servers": self.bootstrap.split(","),
                               "security_protocol": self.security_protocol}
        if self.security_protocol.startswith("SASL"):
            out["sasl_mechanism"] = self.sasl_mechanism
            out["sasl_plain_username"] = self.sasl_username
            out["sasl_plain_password"] = self.sasl_password.get_secret_value() if self.sasl_password else None
        if self.ssl_cafile:
            out["ssl_cafile"] = str(self.ssl_cafile)
        if self.ssl_certfile and self.ssl_keyfile:
            out["ssl_certfile"] = str(self.ssl_certfile)
            out["ssl_keyfile"] = str(self.ssl_keyfile)
        return out


class BrokerSettings(BaseSettings):
    """The local development broker started by ``gaitline kafka start`` (env ``GAITLINE_BROKER_``)."""

    model_config = SettingsConfigDict(env_prefix="GAITLINE_BROKER_", extra="forbid")

    port: int = Field(9092, ge=1, le=65535, description="plaintext listener on 127.0.0.1; env GAITLINE_BROKER_PORT")
    controller_port: int | None = Field(None, description="KRaft controller listener (unset: port + 1); "
                                          "env GAITLINE_BROKER_CONTROLLER_PORT")
    cache_dir: Path = Field(default_factory=default_cache_dir,
                            description="jars fetched from Maven Central, and the brokers' state folders; "
                                        "env GAITLINE_BROKER_CACHE_DIR")
    state_dir: Path | None = Field(None, description="data, pid and log (unset: broker-<port> in the cache folder); "
                                    "env GAITLINE_BROKER_STATE_DIR")
    heap_mb: int = Field(512, ge=128, description="the broker JVM's heap; env GAITLINE_BROKER_HEAP_MB")
    start_timeout_s: float = Field(90.0, gt=0, description="how long `gaitline kafka start` waits for the broker to "
                                   "answer; env GAITLINE_BROKER_START_TIMEOUT_S")
    secure_port: int | None = Field(
        None, ge=1, le=65535, description="also listen with SASL_SSL (SCRAM-SHA-512 over TLS) on this port; a "
        "dev CA and server certificate are made in the state folder (tls/ca.pem is the clients' "
        "ssl_cafile); env GAITLINE_BROKER_SECURE_PORT")
    sasl_users: dict[str, SecretStr] = Field(
        default_factory=dict, description="SCRAM users of the secure listener, created when the storage is "
        "first formatted, as JSON {\"name\": \"password\"}; env GAITLINE_BROKER_SASL_USERS")


class StreamsSettings(BaseSettings):
    """What every stage accepts on its topics (env prefix ``GAITLINE_STREAMS_``)."""

    model_config = SettingsConfigDict(env_prefix="GAITLINE_STREAMS_", extra="forbid")

    max_clock_skew_s: float = Field(
        300.0, ge=0, description="a message time (window timestamps, sighting and gallery times) may be at most "
        "this many seconds ahead of the reader's wall clock; later, negative or non-finite times are "
        "dead-lettered (retention runs on the newest time seen, so one far-future time would expire "
        "everything); env GAITLINE_STREAMS_MAX_CLOCK_SKEW_S")


@functools.cache
def clock_skew_s() -> float:
    """``GAITLINE_STREAMS_MAX_CLOCK_SKEW_S``, read once per process (tests clear the cache)."""
    return StreamsSettings().max_clock_skew_s
