"""``gaitline forget``, ``gaitline expire`` and ``gaitline audit``: the data-protection operations.

``forget`` removes a person everywhere gaitline keeps them: a tombstone on the compacted
``gallery.v1`` (the running index drops the identity when it reads it, and a replay never
brings it back), their sightings in the store with their evidence images and the identity's
watchlist entry and alerts, and a *forgotten* mark so sightings still in flight are refused.
The tombstone goes first: if Kafka cannot be reached, nothing has changed and the command says so.
Every operation is written to the audit log with who and why.
"""

from __future__ import annotations

import json
import time

import typer

from gaitline.cli.query import ActorOpt, StoreOpt, actor_name, fmt_time, require_reason
from gaitline.errors import GaitlineError
from store.db import Store, default_store_url
from streams.exceptions import BrokerError
from streams.settings import KafkaSettings
from streams.topics import GALLERY


def publish_tombstone(kafka: KafkaSettings, identity_id: str, timeout_s: float = 15.0) -> None:
    """Write a tombstone (null value) for ``identity_id`` to ``gallery.v1`` and wait for the ack."""
    from streams.clients import Producer, quiet_client_logs

    topic = GALLERY.full_name(kafka.namespace)
    quiet_client_logs()
    try:
        producer = Producer(kafka, "gaitline-forget", acks="all")
    except BrokerError as exc:
        raise BrokerError(f"{exc}: nothing was forgotten") from exc
    try:
        producer.send_and_wait(topic, identity_id.encode(), None, timeout_s)
    except BrokerError as exc:
        raise BrokerError(f"cannot write the tombstone: {exc}: nothing was forgotten") from exc
    finally:
        producer.close(timeout_s=5)


def forget(identity: str = typer.Option(..., "--identity", help="identity id to remove everywhere"),
           reason: str = typer.Option(..., "--reason", help="why (e.g. the erasure request's reference); audited"),
           actor: str | None = ActorOpt, store: str | None = StoreOpt,
           gallery: bool = typer.Option(True, "--gallery/--store-only",
                                        help="also tombstone the identity on gallery.v1 (needs Kafka)")) -> None:
    """Forget a person: gallery (tombstone on gallery.v1), stored sightings, and future sightings."""
    who, why = actor_name(actor), require_reason(reason)
    if not identity.strip():
        raise GaitlineError("--identity must not be empty")
    st = Store(store or default_store_url())
    if gallery:
        publish_tombstone(KafkaSettings(), identity)
    deleted = st.forget(identity)
    st.audit(who, "forget", why, subject=identity, detail={"sightings_deleted": deleted, "gallery_tombstone": gallery})
    typer.echo(f"forgot {identity}: {deleted} sightings deleted with their evidence, watchlist entry removed, "
               f"{'gallery tombstone written' if gallery else 'gallery NOT touched (--store-only)'}; "
               "future sightings are refused")


def expire(days: float = typer.Option(..., "--days", min=0.0, help="keep sightings of the last DAYS days"),
           reason: str = typer.Option("retention policy", "--reason", help="audited"),
           actor: str | None = ActorOpt, store: str | None = StoreOpt) -> None:
    """Delete sightings older than the retention period, with their evidence (the track stage also does this)."""
    who, why = actor_name(actor), require_reason(reason)
    st = Store(store or default_store_url())
    cutoff = time.time() - days * 86400
    n = st.expire(cutoff)
    st.audit(who, "expire", why, detail={"sightings_deleted": n, "older_than": cutoff})
    typer.echo(f"expired {n} sightings (with their evidence and alerts) that ended before {fmt_time(cutoff)}")


def audit(subject: str | None = typer.Option(None, "--identity", help="only entries about this identity"),
          limit: int = typer.Option(100, "--limit", min=1, help="newest entries to show"),
          store: str | None = StoreOpt, json_out: bool = typer.Option(False, "--json")) -> None:
    """Show the audit log, newest first: who searched for or forgot whom, when, and why."""
    rows = Store(store or default_store_url(), create=False).audit_log(subject, limit)
    if json_out:
        typer.echo(json.dumps([{"at": r.at, "actor": r.actor, "action": r.action, "subject": r.subject,
                                "reason": r.reason, "detail": json.loads(r.detail)} for r in rows]))
        return
    typer.echo(f"{len(rows)} audit entries")
    for r in rows:
        typer.echo(f"  {fmt_time(r.at)}  {r.actor:<16} {r.action:<12} {r.subject or '-':<16} {r.reason}  {r.detail}")
