"""``gaitline api``: serve the control-room API and web page, and issue, list and revoke access tokens."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from gaitline.cli.common import one_line_errors
from gaitline.errors import GaitlineError

if TYPE_CHECKING:
    from api.settings import ApiSettings

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="The control-room query API and web page (authenticated, role-checked, audited).")

TokensOpt = typer.Option(..., "--tokens", envvar="GAITLINE_API_TOKENS",
                         help="token file (JSON of SHA-256 digests, users, roles and expiry)")


def _settings() -> ApiSettings:
    from pydantic import ValidationError

    from api.settings import ApiSettings

    try:
        return ApiSettings()
    except ValidationError as exc:
        err = exc.errors()[0]
        name = "GAITLINE_API_" + str(err["loc"][0]).upper() if err["loc"] else "GAITLINE_API_*"
        raise GaitlineError(f"{name}: {err['msg']}") from exc


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
    """Serve the API and the web page until SIGTERM (live feeds end, requests in flight are finished)."""
    from api.probe import ProbeSettings, kafka_gallery
    from api.server import run
    from store.db import default_store_url, mask_url
    from streams.settings import KafkaSettings

    settings = _settings()
    logging.getLogger("api").setLevel(logging.INFO)
    run(store or default_store_url(), tokens, host, port, metrics_port,
        ready=lambda url: typer.echo(f"control room on {url} (store {mask_url(store or default_store_url())}, "
                                     f"network {settings.network})", err=True),
        gallery=kafka_gallery(KafkaSettings()) if kafka else None,
        probe=ProbeSettings(max_bytes=max_clip_mb * 2**20), settings=settings)


@app.command("token")
@one_line_errors
def token(user: str = typer.Option(..., "--user", help="the person the token belongs to (named in the audit log)"),
          role: str = typer.Option(..., "--role", help="operator (search), auditor (audit log) or admin (both)"),
          expires: str = typer.Option("30d", "--expires", help="when it stops working: a duration (8h, 30d, 2w), "
                                      "an ISO date or date-time (UTC unless it says), or 'never'"),
          tokens: Path = TokensOpt) -> None:
    """Create an access token: printed once, only its digest is kept in the token file."""
    from api.auth import issue_token, parse_expiry

    typer.echo(issue_token(tokens, user, role, expires=parse_expiry(expires)))


def _when(t: float | None) -> str:
    return "-" if t is None else datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M UTC")


@app.command("tokens")
@one_line_errors
def list_tokens(tokens: Path = TokensOpt,
                json_out: bool = typer.Option(False, "--json", help="one JSON object per line")) -> None:
    """List the tokens of the file: id, user, role, created, expires, revoked, state (never a token)."""
    import json

    from api.auth import list_tokens as read

    now = time.time()
    entries = read(tokens)
    if json_out:
        for e in entries:
            typer.echo(json.dumps({"id": e.token_id, "user": e.user, "role": e.role, "created": e.created,
                                   "expires": e.expires, "revoked": e.revoked, "state": e.state(now)}))
        return
    typer.echo(f"{'id':<13} {'user':<20} {'role':<9} {'created':<21} {'expires':<21} {'revoked':<21} state")
    for e in entries:
        typer.echo(f"{e.token_id:<13} {e.user[:20]:<20} {e.role:<9} {_when(e.created):<21} {_when(e.expires):<21} "
                   f"{_when(e.revoked):<21} {e.state(now)}")


@app.command("revoke")
@one_line_errors
def revoke(token_id: str = typer.Argument(..., help="the token's id as `gaitline api tokens` lists it"),
           tokens: Path = TokensOpt) -> None:
    """Revoke a token: a running server refuses it from its next request on (no restart)."""
    from api.auth import revoke_token

    e = revoke_token(tokens, token_id)
    typer.echo(f"revoked {e.token_id} ({e.user}, {e.role}) at {_when(e.revoked)}")
