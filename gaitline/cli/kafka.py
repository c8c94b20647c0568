"""``gaitline kafka start|stop|status|topics``: the local Apache Kafka broker."""

from __future__ import annotations

import json

import typer

from streams.admin import ensure_topics
from streams.broker import LocalBroker
from streams.settings import BrokerSettings, KafkaSettings

app = typer.Typer(no_args_is_help=True, help="Run a local Apache Kafka (KRaft) broker from Maven Central jars.")

PortOpt = typer.Option(None, "--port", min=1, max=65534, help="listener port (default: GAITLINE_BROKER_PORT or 9092)")


def _broker(port: int | None) -> LocalBroker:
    settings = BrokerSettings() if port is None else BrokerSettings(port=port)
    return LocalBroker(settings)


@app.command()
def start(port: int | None = PortOpt) -> None:
    """Fetch the broker jars (once), format storage (once) and start the broker; wait until it answers."""
    st = _broker(port).start()
    typer.echo(f"kafka {st.version} running, pid {st.pid}, bootstrap {st.bootstrap}, state {st.state_dir}")


@app.command()
def stop(port: int | None = PortOpt) -> None:
    """Stop the broker started by ``start`` (SIGTERM, then wait)."""
    stopped = _broker(port).stop()
    typer.echo("kafka stopped" if stopped else "kafka was not running")


@app.command()
def status(port: int | None = PortOpt, json_out: bool = typer.Option(False, "--json")) -> None:
    """Say whether the broker runs (exit code 1 when it does not)."""
    st = _broker(port).status()
    if json_out:
        typer.echo(json.dumps({"running": st.running, "pid": st.pid, "bootstrap": st.bootstrap,
                               "version": st.version, "state_dir": str(st.state_dir)}))
    else:
        typer.echo(f"kafka {st.version}: {'running' if st.running else 'not running'}"
                   f"{f', pid {st.pid}' if st.pid else ''}, bootstrap {st.bootstrap}")
    raise typer.Exit(0 if st.running else 1)


@app.command()
def topics(partitions: int | None = typer.Option(None, help="override partition counts")) -> None:
    """Create gaitline's declared topics (GAITLINE_KAFKA_BOOTSTRAP / _NAMESPACE) if missing."""
    for name in ensure_topics(KafkaSettings(), partitions=partitions):
        typer.echo(name)


@app.command()
def fetch() -> None:
    """Fetch the pinned Apache Kafka broker jars from Maven Central into the cache (once)."""
    from streams.broker import ensure_jars
    from streams.settings import KAFKA_VERSION

    libs = ensure_jars(BrokerSettings())
    typer.echo(f"kafka {KAFKA_VERSION} jars in {libs}")
