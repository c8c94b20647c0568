"""Mutual TLS: a client certificate and its key reach both Kafka clients, and go together."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from pydantic import ValidationError

from streams.clients import aiokafka_kwargs
from streams.settings import KafkaSettings


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    assert openssl, "openssl (Debian's openssl package) makes the test certificate"
    cert, key = tmp_path / "client.crt", tmp_path / "client.key"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=embed",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True, timeout=60)
    return cert, key


def test_the_client_certificate_reaches_both_clients(pair: tuple[Path, Path], monkeypatch) -> None:  # type: ignore[no-untyped-def]
    cert, key = pair
    monkeypatch.setenv("GAITLINE_KAFKA_SECURITY_PROTOCOL", "SSL")
    monkeypatch.setenv("GAITLINE_KAFKA_SSL_CERTFILE", str(cert))
    monkeypatch.setenv("GAITLINE_KAFKA_SSL_KEYFILE", str(key))
    settings = KafkaSettings()
    kw = settings.kafka_python_kwargs()
    assert kw["ssl_certfile"] == str(cert) and kw["ssl_keyfile"] == str(key)
    # the stages' aiokafka context loads the chain: a certificate and key that do not match raise here
    assert aiokafka_kwargs(settings)["ssl_context"] is not None


def test_a_certificate_without_its_key_is_refused(pair: tuple[Path, Path], tmp_path: Path) -> None:
    cert, key = pair
    with pytest.raises(ValidationError, match="go together"):
        KafkaSettings(ssl_certfile=cert)
    other = tmp_path / "other.key"
    subprocess.run(["openssl", "genrsa", "-out", str(other), "2048"], check=True, capture_output=True, timeout=60)
    import ssl

    with pytest.raises(ssl.SSLError):  # a key that is not the certificate's
        aiokafka_kwargs(KafkaSettings(security_protocol="SSL", ssl_certfile=cert, ssl_keyfile=other))
