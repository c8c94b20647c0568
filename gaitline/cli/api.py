"""``gaitline api``: serve the control-room API and web page, and issue access tokens."""

from __future__ import annotations

import logging
from pathlib import Path

import typer

from gaitline.cli.common import one_line_errors

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="The control-room query API and web page (authenticated, role-checked, audited).")

TokensOpt = typer.Option(..., "--tokens", envvar="GAITLINE_API_TOKENS",
                         help="token file (JSON of SHA-256 digests, users and roles)")


@app.command("serve")
@one_line_errors
def serve(tokens: Path = TokensOpt,
          store: str | None = typer.Option(None, "--store", help="store URL (default: GAITLINE_STORE_URL or the "
                                           "local SQLite file)"),
          host: str = typer.Option("127.0.0.1", "--host", envvar="GAITLINE_API_HOST",
                                   help="address to listen on (0.0.0.0 in a pod)"),
          port: int = typer.Option(8080, "--port", envvar="GAITLINE_API_PORT", min=0, max=65535,
                                   help="port to listen on"),
          metrics_port: int = typer.Option(0, "--metrics-port", envvar="GAITLINE_API_METRICS_PORT", min=0,
                                           max=65535, help="Prometheus /metrics port (0 = off)"),
          kafka: bool = typer.Option(False, "--kafka/--no-kafka", envvar="GAITLINE_API_KAFKA",
                                     help="search by clip against the gallery replayed from gallery.v1 "
                                          "(GAITLINE_KAFKA_* settings)"),
          max_clip_mb: int = typer.Option(50, "--max-clip-mb", min=1, max=2000, help="largest probe clip")) -> None:
    """Serve the API and the web page until SIGTERM (requests in flight are finished)."""
    from api.probe import ProbeSettings, kafka_gallery
    from api.server import run
    from store.db import default_store_url, mask_url
    from streams.settings import KafkaSettings

    logging.getLogger("api").setLevel(logging.INFO)
    run(store or default_store_url(), tokens, host, port, metrics_port,
        ready=lambda url: typer.echo(f"control room on {url} (store {mask_url(store or default_store_url())})",
                                     err=True),
        gallery=kafka_gallery(KafkaSettings()) if kafka else None,
        probe=ProbeSettings(max_bytes=max_clip_mb * 2**20))


@app.command("token")
@one_line_errors
def token(user: str = typer.Option(..., "--user", help="the person the token belongs to (named in the audit log)"),
          role: str = typer.Option(..., "--role", help="operator (search), auditor (audit log) or admin (both)"),
          tokens: Path = TokensOpt) -> None:
    """Create an access token: printed once, only its digest is kept in the token file."""
    from api.auth import issue_token

    typer.echo(issue_token(tokens, user, role))
