"""The faust app factory: every stream stage builds its app here, with the same settings."""

from __future__ import annotations

import ssl
import tempfile
from pathlib import Path
from typing import Any

import faust

from streams.settings import KafkaSettings
from streams.topics import TopicSpec


def make_app(stage: str, settings: KafkaSettings, web_port: int | None = None) -> faust.App:
    """A faust app for ``stage`` whose consumer group is namespaced like the topics.

    Args:
        stage: the stage name (``embed``, ``index``, ``track``); part of the group id.
        settings: broker address, namespace and security.
        web_port: faust's own web server port, or None to disable it (metrics are served
            by prometheus-client on the stage's metrics port instead).
    """
    group = group_id(stage, settings)
    datadir = Path(tempfile.gettempdir()) / "gaitline-faust" / group
    datadir.parent.mkdir(parents=True, exist_ok=True)  # faust creates only the last level
    conf: dict[str, Any] = {
        "broker": [f"kafka://{b}" for b in settings.bootstrap.split(",")],
        "value_serializer": "raw",
        "key_serializer": "raw",
        "store": "memory://",
        "consumer_auto_offset_reset": "earliest",
        "broker_session_timeout": 10.0,
        "broker_heartbeat_interval": 2.0,
        "broker_commit_interval": 1.0,
        "producer_acks": -1,
        "producer_compression_type": "zstd",
        "topic_replication_factor": settings.replication_factor,
        "web_enabled": web_port is not None,
        # faust insists on a data folder even with in-memory tables; its default is
        # "<group>-data" in the working directory, which litters wherever a user runs the demo
        "datadir": str(datadir),
    }
    if web_port is not None:
        conf["web_port"] = web_port
    if settings.security_protocol != "PLAINTEXT":
        conf["broker_credentials"] = _credentials(settings)
    return faust.App(group, **conf)


def group_id(stage: str, settings: KafkaSettings) -> str:
    """The consumer-group id of ``stage`` under the settings' namespace."""
    return f"{settings.namespace}.gaitline-{stage}" if settings.namespace else f"gaitline-{stage}"


def raw_topic(app: faust.App, spec: TopicSpec, settings: KafkaSettings) -> faust.TopicT:
    """Bind a declared topic to ``app`` as raw bytes: decoding is ours (see streams.schemas)."""
    return app.topic(spec.full_name(settings.namespace), key_type=bytes, value_type=bytes,
                     key_serializer="raw", value_serializer="raw", internal=False)


def _credentials(settings: KafkaSettings) -> Any:
    context = ssl.create_default_context(cafile=str(settings.ssl_cafile) if settings.ssl_cafile else None)
    if settings.ssl_certfile and settings.ssl_keyfile:  # mutual TLS: the broker checks this client too
        context.load_cert_chain(str(settings.ssl_certfile), str(settings.ssl_keyfile))
    if settings.security_protocol == "SSL":
        return faust.SSLCredentials(context)
    password = settings.sasl_password.get_secret_value() if settings.sasl_password else ""
    return faust.SASLCredentials(username=settings.sasl_username or "", password=password,
                                 mechanism=settings.sasl_mechanism,
                                 ssl_context=context if settings.security_protocol == "SASL_SSL" else None)
