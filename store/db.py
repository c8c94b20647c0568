"""Sightings and identities, through SQLAlchemy: SQLite embedded by default, PostgreSQL in a cluster.

The track worker writes here; ``gaitline query``, ``gaitline identities`` and the evaluation
harness read here. Writes are idempotent on the sighting id (the window id), so a window
redelivered after a consumer-group rebalance is stored once.

Biometric data has rules: every search and every deletion is written to an append-only
``audit_log`` (who, what, about whom, why); ``forget`` deletes an identity's sightings with their
evidence images, its watchlist entry and alerts, and records the identity as forgotten, so
sightings still in flight on the topic are not stored again; ``expire`` deletes sightings older
than the retention period, with their evidence and alerts.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, delete, func, inspect, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from store.evidence import EvidenceQueries, EvidenceRow, delete_evidence_of, evidence_rows
from store.exceptions import StoreError, StoreRefused, StoreUnavailable
from store.models import AuditRow, Base, ForgottenRow, SightingRow
from store.search import IdentitySummary, SightingQueries
from store.watchlist import WatchHitRow, WatchlistQueries, WatchlistRow
from streams.schemas import Sighting

log = logging.getLogger(__name__)


_ROWS_PER_INSERT = 1000
_FORGET_LOCK = 0x6761_6974  # "gait": the advisory lock id that orders inserts and forgets

# tables a reader also needs (a query writes its audit entry even on a read-only path)
_ALWAYS = [AuditRow.__table__, ForgottenRow.__table__]


__all__ = ["AuditRow", "Base", "ForgottenRow", "IdentitySummary", "SightingRow", "Store"]


def default_store_url() -> str:
    """SQLite file under the user's data folder (``GAITLINE_STORE_URL`` overrides)."""
    import os

    url = os.environ.get("GAITLINE_STORE_URL")
    if url:
        return url
    base = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "gaitline"
    return f"sqlite:///{base / 'gaitline.db'}"


class Store(SightingQueries, EvidenceQueries, WatchlistQueries):
    """Access to the sightings store at ``url`` (any SQLAlchemy URL).

    The control room's reads are in :mod:`store.search`, :mod:`store.evidence` and :mod:`store.watchlist`."""

    def __init__(self, url: str, create: bool = True) -> None:
        self.url = url
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        try:
            self.engine: Engine = create_engine(driver_url(url), future=True, pool_pre_ping=True)
            if create:
                from store.migrate import upgrade

                upgrade(self.engine)  # a new store at the newest schema, an older one migrated (store/migrate.py)
            elif not inspect(self.engine).has_table(SightingRow.__tablename__):
                raise StoreError(f"store {self.safe_url} holds no sightings yet (run the pipeline or `gaitline demo`)")
            else:
                Base.metadata.create_all(self.engine, tables=_ALWAYS)  # type: ignore[arg-type]
        except (SQLAlchemyError, ImportError) as exc:
            raise StoreError(f"cannot open store {self.safe_url}: {exc.__class__.__name__}: "
                             f"{str(exc).splitlines()[0] if str(exc) else ''}") from exc

    def add_sightings(self, sightings: Iterable[Sighting]) -> int:
        """Insert sightings, ignoring ids already stored and forgotten identities; return how many were new.

        Raises :class:`StoreUnavailable` when the database cannot be reached (retry: the sightings are
        fine) and :class:`StoreRefused` when it refuses a row (the record is at fault)."""
        batch = list(sightings)
        if not batch:
            return 0
        try:
            return self._add(batch)
        except (DataError, IntegrityError) as exc:
            raise StoreRefused(f"store {self.safe_url} refused a sighting: {exc.__class__.__name__}: "
                               f"{str(exc.orig or exc).splitlines()[0]}") from exc
        except SQLAlchemyError as exc:
            raise StoreUnavailable(f"store {self.safe_url} unavailable: {exc.__class__.__name__}: "
                                   f"{str(getattr(exc, 'orig', None) or exc).splitlines()[0]}") from exc

    @property
    def safe_url(self) -> str:
        """The store's URL with any password masked (for logs and errors)."""
        return mask_url(self.url)

    def _add(self, batch: list[Sighting]) -> int:
        ins = pg_insert if self.engine.dialect.name == "postgresql" else sqlite_insert
        new = 0
        with Session(self.engine) as session, session.begin():
            # the forgotten-check and the insert in one transaction (and, on PostgreSQL, under the lock
            # forget takes: see _serialise_with_forget), so a forget that commits meanwhile is never undone
            self._serialise_with_forget(session)
            gone = set(session.scalars(select(ForgottenRow.identity_id).where(
                ForgottenRow.identity_id.in_({s.identity_id for s in batch}))))
            kept = [s for s in batch if s.identity_id not in gone]
            if not kept:
                return 0
            # stored_at: distinct within a batch (1 us apart), so a reader's cursor never splits a tie
            now = time.time()
            rows = [_row(s, now + i * 1e-6) for i, s in enumerate(kept)]
            # one statement binds 23 values a row: SQLite allows 32 766 per statement
            for i in range(0, len(rows), _ROWS_PER_INSERT):
                stmt = (ins(SightingRow).values(rows[i:i + _ROWS_PER_INSERT])
                        .on_conflict_do_nothing(index_elements=["sighting_id"]).returning(SightingRow.sighting_id))
                new += len(session.execute(stmt).all())  # rowcount is -1 on some drivers: count what came back
            # insert-if-absent as the sightings: a redelivered window adds no second image
            images = evidence_rows(kept)
            for i in range(0, len(images), _ROWS_PER_INSERT):
                session.execute(ins(EvidenceRow).values(images[i:i + _ROWS_PER_INSERT])
                                .on_conflict_do_nothing(index_elements=["sighting_id"]))
        return new

    def where(self, identity_id: str, since: float | None = None, until: float | None = None,
              limit: int | None = None, offset: int = 0) -> Sequence[SightingRow]:
        """Sightings of ``identity_id``, oldest first: every one, or those overlapping ``[since, until]``
        (epoch seconds, either end open when None), at most ``limit`` from ``offset`` on."""
        q = select(SightingRow).where(SightingRow.identity_id == identity_id)
        if since is not None:
            q = q.where(SightingRow.t_end >= since)
        if until is not None:
            q = q.where(SightingRow.t_start <= until)
        q = q.order_by(SightingRow.t_start, SightingRow.sighting_id)
        if limit is not None:
            q = q.limit(max(0, limit))
        if offset:
            q = q.offset(offset)
        with Session(self.engine) as session:
            return list(session.scalars(q))

    def seen_by(self, camera_id: str, since: float, until: float, limit: int | None = None) -> Sequence[SightingRow]:
        """Sightings on ``camera_id`` overlapping ``[since, until]`` (epoch seconds), oldest first."""
        q = select(SightingRow).where(SightingRow.camera_id == camera_id, SightingRow.t_end >= since)
        if math.isfinite(until):
            q = q.where(SightingRow.t_start <= until)
        q = q.order_by(SightingRow.t_start)
        with Session(self.engine) as session:
            return list(session.scalars(q.limit(limit) if limit else q))

    def identities(self, limit: int | None = None, recent_first: bool = False) -> list[IdentitySummary]:
        """Identities with their number of sightings, cameras and first/last time seen.

        Oldest first, or with ``recent_first`` the most recently seen first; at most ``limit``.
        """
        q = (select(SightingRow.identity_id, func.count(), func.count(SightingRow.camera_id.distinct()),
                    func.min(SightingRow.t_start), func.max(SightingRow.t_end))
             .group_by(SightingRow.identity_id)
             .order_by(func.max(SightingRow.t_end).desc() if recent_first else func.min(SightingRow.t_start)))
        if limit and recent_first:
            # the newest sightings name the newest identities: summarise only those, not the whole table
            q = q.where(SightingRow.identity_id.in_(self._latest_identities(limit)))
        if limit:
            q = q.limit(limit)
        with Session(self.engine) as session:
            return [IdentitySummary(str(i), int(n), int(c), float(a), float(b))
                    for i, n, c, a, b in session.execute(q)]

    def _latest_identities(self, limit: int) -> list[str]:
        """The ``limit`` identities seen last, read from the newest sightings down (time index)."""
        found: dict[str, None] = {}
        step, offset = max(20 * limit, 5000), 0
        with Session(self.engine) as session:
            while len(found) < limit:
                batch = session.scalars(select(SightingRow.identity_id).order_by(SightingRow.t_start.desc())
                                        .offset(offset).limit(step)).all()
                for ident in batch:
                    found.setdefault(ident, None)
                    if len(found) == limit:
                        break
                if len(batch) < step:
                    break
                offset += step
        return list(found)

    def all_sightings(self) -> Sequence[SightingRow]:
        """Every sighting, ordered by camera and time (the evaluation harness reads this)."""
        with Session(self.engine) as session:
            return list(session.scalars(select(SightingRow).order_by(SightingRow.camera_id,
                                                                     SightingRow.t_start)))

    def has_sighting(self, sighting_id: str) -> bool:
        """Whether ``sighting_id`` is stored (:class:`StoreUnavailable` while the database is away)."""
        try:
            with Session(self.engine) as session:
                return session.get(SightingRow, sighting_id) is not None
        except SQLAlchemyError as exc:
            raise StoreUnavailable(f"store {self.safe_url} unavailable: {exc.__class__.__name__}") from exc

    def count(self) -> int:
        """Number of stored sightings."""
        with Session(self.engine) as session:
            return int(session.scalar(select(func.count()).select_from(SightingRow)) or 0)

    def _serialise_with_forget(self, session: Session, forget: bool = False) -> None:
        """Take the transaction-scoped lock that orders batches of inserts (shared: they run side by side)
        and a forget (exclusive) on PostgreSQL; SQLite serialises writers by itself. Without it, a batch
        that read the forgotten list just before a forget committed would insert sightings the forget
        had already deleted."""
        if self.engine.dialect.name == "postgresql":
            fn = "pg_advisory_xact_lock" if forget else "pg_advisory_xact_lock_shared"
            session.execute(text(f"SELECT {fn}(:k)"), {"k": _FORGET_LOCK})

    def forget(self, identity_id: str) -> int:
        """Delete every sighting of ``identity_id`` with its evidence, its watchlist entry and alerts, and refuse
        its future sightings; return how many sightings were removed."""
        ins = pg_insert if self.engine.dialect.name == "postgresql" else sqlite_insert
        with Session(self.engine) as session, session.begin():
            self._serialise_with_forget(session, forget=True)
            session.execute(ins(ForgottenRow).values(identity_id=identity_id, at=time.time())
                            .on_conflict_do_nothing(index_elements=["identity_id"]))
            delete_evidence_of(session, select(SightingRow.sighting_id).where(SightingRow.identity_id == identity_id))
            session.execute(delete(WatchHitRow).where(WatchHitRow.identity_id == identity_id))
            session.execute(delete(WatchlistRow).where(WatchlistRow.identity_id == identity_id))
            res = session.execute(delete(SightingRow).where(SightingRow.identity_id == identity_id))
            return int(res.rowcount or 0)  # type: ignore[attr-defined]

    def is_forgotten(self, identity_id: str) -> bool:
        """True when ``identity_id`` was forgotten."""
        with Session(self.engine) as session:
            return session.get(ForgottenRow, identity_id) is not None

    def expire(self, older_than: float) -> int:
        """Delete sightings that ended before ``older_than`` (epoch seconds), with their evidence and the
        alerts they raised; return how many sightings."""
        with Session(self.engine) as session, session.begin():
            delete_evidence_of(session, select(SightingRow.sighting_id).where(SightingRow.t_end < older_than))
            session.execute(delete(WatchHitRow).where(WatchHitRow.t < older_than))
            res = session.execute(delete(SightingRow).where(SightingRow.t_end < older_than))
            return int(res.rowcount or 0)  # type: ignore[attr-defined]

    def audit(self, actor: str, action: str, reason: str, subject: str | None = None,
              detail: dict[str, Any] | None = None) -> None:
        """Append an entry to the audit log (there is no method to change or delete one)."""
        if not actor.strip() or not reason.strip():
            raise StoreError("an audit entry needs an actor and a reason")
        with Session(self.engine) as session, session.begin():
            session.add(AuditRow(at=time.time(), actor=actor[:100], action=action[:40], subject=subject,
                                 reason=reason[:500], detail=json.dumps(detail or {}, sort_keys=True)))

    def audit_log(self, subject: str | None = None, limit: int | None = None) -> Sequence[AuditRow]:
        """Audit entries, newest first (only those about ``subject`` when given)."""
        q = select(AuditRow).order_by(AuditRow.id.desc())
        if subject is not None:
            q = q.where(AuditRow.subject == subject)
        with Session(self.engine) as session:
            return list(session.scalars(q.limit(limit) if limit else q))

    def reset(self) -> None:
        """Empty the sightings with their evidence and alerts (the demo starts from an empty store); the audit
        log is never dropped, nor the watchlist (an operator's decision, not data about a sighting)."""
        tables = [EvidenceRow.__table__, WatchHitRow.__table__, SightingRow.__table__]
        Base.metadata.drop_all(self.engine, tables=tables)  # type: ignore[arg-type]
        Base.metadata.create_all(self.engine)

    def close(self) -> None:
        """Release pooled connections."""
        self.engine.dispose()


def driver_url(url: str) -> str:
    """``url`` with the driver SQLAlchemy should use: ``postgresql://`` means psycopg 3, not psycopg2."""
    return "postgresql+psycopg://" + url.removeprefix("postgresql://") if url.startswith("postgresql://") else url


def mask_url(url: str) -> str:
    """``url`` with the password (if any) replaced by ``***``."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except (SQLAlchemyError, ValueError):
        return url.split("@")[-1]


def _row(s: Sighting, stored_at: float) -> dict[str, object]:
    return {
        "sighting_id": s.sighting_id, "identity_id": s.identity_id, "camera_id": s.camera_id,
        "track_id": s.track_id, "region": s.region, "t_start": s.t_start, "t_end": s.t_end,
        "x": s.x, "y": s.y, "ground_plane": s.ground_plane,
        "box_x": s.box[0] if s.box else None, "box_y": s.box[1] if s.box else None,
        "box_w": s.box[2] if s.box else None, "box_h": s.box[3] if s.box else None,
        "score": s.score, "enrolled": s.enrolled,
        "model": s.model, "cadence_spm": s.gait.cadence_spm, "speed_mps": s.gait.speed_mps,
        "step_length_m": s.gait.step_length_m, "stride_length_m": s.gait.stride_length_m,
        "truth_id": s.truth_id, "stored_at": stored_at,
    }
