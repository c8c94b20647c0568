"""``gaitline query where`` and ``gaitline identities``: read the store.

A search for a person is biometric processing: ``query where`` needs a reason, and the store's
audit log records who searched for whom and why before any answer is given (a search that
finds nothing is audited too).
"""

from __future__ import annotations

import getpass
import json
import os
from datetime import UTC, datetime

import typer

from gaitline.errors import GaitlineError
from store.db import Store, default_store_url

query_app = typer.Typer(no_args_is_help=True, help="Ask the store where people were seen.")

StoreOpt = typer.Option(None, "--store", help="store URL (default: GAITLINE_STORE_URL or the local SQLite file)")
ActorOpt = typer.Option(None, "--actor", help="who asks (default: GAITLINE_ACTOR, else the login name); audited")


def actor_name(actor: str | None) -> str:
    """The audited actor: ``--actor``, else ``GAITLINE_ACTOR``, else the login name."""
    name = actor or os.environ.get("GAITLINE_ACTOR") or getpass.getuser()
    if not name.strip():
        raise GaitlineError("--actor must not be empty")
    return name.strip()


def require_reason(reason: str) -> str:
    """A non-empty reason (it goes to the audit log)."""
    if len(reason.strip()) < 3:
        raise GaitlineError("--reason must say why (at least 3 characters); it is written to the audit log")
    return reason.strip()


def fmt_time(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-4] + "Z"


@query_app.command()
def where(identity: str = typer.Option(..., "--identity", help="identity id, e.g. p-1a2b3c4d5e6f"),
          reason: str = typer.Option(..., "--reason", help="why this person is searched for (audited)"),
          actor: str | None = ActorOpt,
          store: str | None = StoreOpt, json_out: bool = typer.Option(False, "--json")) -> None:
    """Print where and when an identity was seen, oldest first (the search is audited)."""
    who, why = actor_name(actor), require_reason(reason)
    st = Store(store or default_store_url(), create=False)
    rows = st.where(identity)
    st.audit(who, "query.where", why, subject=identity, detail={"sightings": len(rows)})
    if not rows:
        raise GaitlineError(f"no sightings of identity {identity!r} in {store or default_store_url()}")
    if json_out:
        typer.echo(json.dumps([{"camera": r.camera_id, "track": r.track_id, "t_start": r.t_start,
                                "t_end": r.t_end, "x": r.x, "y": r.y, "score": r.score} for r in rows]))
        return
    typer.echo(f"{identity}: {len(rows)} sightings on {len({r.camera_id for r in rows})} camera(s)")
    for r in rows:
        unit = "m" if r.ground_plane else "px"
        typer.echo(f"  {fmt_time(r.t_start)} .. {fmt_time(r.t_end)}  camera {r.camera_id}  track {r.track_id}  "
                   f"at ({r.x:.2f}, {r.y:.2f}) {unit}  score {r.score:.2f}")


def identities(store: str | None = StoreOpt, json_out: bool = typer.Option(False, "--json")) -> None:
    """List the identities in the store with their number of sightings and when they were seen."""
    rows = Store(store or default_store_url(), create=False).identities()
    if json_out:
        typer.echo(json.dumps([vars(r) for r in rows]))
        return
    typer.echo(f"{len(rows)} identities")
    for r in rows:
        typer.echo(f"  {r.identity_id}  {r.sightings:4d} sightings  {r.cameras} camera(s)  "
                   f"{fmt_time(r.first_seen)} .. {fmt_time(r.last_seen)}")
