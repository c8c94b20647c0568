"""Sightings and identities, through SQLAlchemy: SQLite embedded by default, PostgreSQL in a cluster.

The track worker writes here; ``gaitline query``, ``gaitline identities`` and the evaluation
harness read here. Writes are idempotent on the sighting id (the window id), so a window
redelivered after a consumer-group rebalance is stored once.

Biometric data has rules: every search and every deletion is written to an append-only
``audit_log`` (who, what, about whom, why); ``forget`` deletes an identity's sightings and
records the identity as forgotten, so sightings still in flight on the topic are not stored
again; ``expire`` deletes sightings older than the retention period.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    Index,
    Integer,
    String,
    Text,
    create_engine,
    delete,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from store.exceptions import StoreError, StoreRefused, StoreUnavailable
from streams.schemas import Sighting

log = logging.getLogger(__name__)


class Base(DeclarativeBase):
    pass


class SightingRow(Base):
    """One sighting: an identity on a camera during a window."""

    __tablename__ = "sightings"
    # "who did camera C see between T1 and T2": one index range instead of every sighting of C
    __table_args__ = (Index("ix_sightings_camera_time", "camera_id", "t_start"),)

    sighting_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    identity_id: Mapped[str] = mapped_column(String(64), index=True)
    camera_id: Mapped[str] = mapped_column(String(100), index=True)
    # live cameras number tracks from int(time.time() * 10) (~1.7e10): 64 bits (was Integer: migration 0002)
    track_id: Mapped[int] = mapped_column(BigInteger)
    region: Mapped[str] = mapped_column(String(100))
    t_start: Mapped[float] = mapped_column(Float, index=True)
    t_end: Mapped[float] = mapped_column(Float)
    x: Mapped[float] = mapped_column(Float)
    y: Mapped[float] = mapped_column(Float)
    box_x: Mapped[int | None] = mapped_column(Integer, nullable=True)
    box_y: Mapped[int | None] = mapped_column(Integer, nullable=True)
    box_w: Mapped[int | None] = mapped_column(Integer, nullable=True)
    box_h: Mapped[int | None] = mapped_column(Integer, nullable=True)
    ground_plane: Mapped[bool] = mapped_column(Boolean)
    score: Mapped[float] = mapped_column(Float)
    enrolled: Mapped[bool] = mapped_column(Boolean)
    model: Mapped[str] = mapped_column(String(100))
    cadence_spm: Mapped[float | None] = mapped_column(Float, nullable=True)
    speed_mps: Mapped[float | None] = mapped_column(Float, nullable=True)
    step_length_m: Mapped[float | None] = mapped_column(Float, nullable=True)
    stride_length_m: Mapped[float | None] = mapped_column(Float, nullable=True)
    truth_id: Mapped[str | None] = mapped_column(String(100), nullable=True)


class AuditRow(Base):
    """One entry of the append-only audit log: who did what, about whom, and why."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[float] = mapped_column(Float, index=True)
    actor: Mapped[str] = mapped_column(String(100), index=True)
    action: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    reason: Mapped[str] = mapped_column(String(500))
    detail: Mapped[str] = mapped_column(Text, default="{}")


class ForgottenRow(Base):
    """An identity that was forgotten: its sightings are refused from then on."""

    __tablename__ = "forgotten"

    identity_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    at: Mapped[float] = mapped_column(Float)


_ROWS_PER_INSERT = 1000
_FORGET_LOCK = 0x6761_6974  # "gait": the advisory lock id that orders inserts and forgets

# tables a reader also needs (a query writes its audit entry even on a read-only path)
_ALWAYS = [AuditRow.__table__, ForgottenRow.__table__]


@dataclass(frozen=True)
class IdentitySummary:
    """One identity as ``gaitline identities`` lists it."""

    identity_id: str
    sightings: int
    cameras: int
    first_seen: float
    last_seen: float


def default_store_url() -> str:
    """SQLite file under the user's data folder (``GAITLINE_STORE_URL`` overrides)."""
    import os

    url = os.environ.get("GAITLINE_STORE_URL")
    if url:
        return url
    base = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "gaitline"
    return f"sqlite:///{base / 'gaitline.db'}"


class Store:
    """Access to the sightings store at ``url`` (any SQLAlchemy URL)."""

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
            rows = [_row(s) for s in batch if s.identity_id not in gone]
            if not rows:
                return 0
            # one statement binds 22 values a row: SQLite allows 32 766 per statement
            for i in range(0, len(rows), _ROWS_PER_INSERT):
                stmt = (ins(SightingRow).values(rows[i:i + _ROWS_PER_INSERT])
                        .on_conflict_do_nothing(index_elements=["sighting_id"]).returning(SightingRow.sighting_id))
                new += len(session.execute(stmt).all())  # rowcount is -1 on some drivers: count what came back
        return new

    def where(self, identity_id: str) -> Sequence[SightingRow]:
        """Every sighting of ``identity_id``, oldest first."""
        with Session(self.engine) as session:
            return list(session.scalars(select(SightingRow).where(SightingRow.identity_id == identity_id)
                                        .order_by(SightingRow.t_start)))

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
        """Delete every sighting of ``identity_id`` and refuse its future ones; return how many were removed."""
        ins = pg_insert if self.engine.dialect.name == "postgresql" else sqlite_insert
        with Session(self.engine) as session, session.begin():
            self._serialise_with_forget(session, forget=True)
            session.execute(ins(ForgottenRow).values(identity_id=identity_id, at=time.time())
                            .on_conflict_do_nothing(index_elements=["identity_id"]))
            res = session.execute(delete(SightingRow).where(SightingRow.identity_id == identity_id))
            return int(res.rowcount or 0)  # type: ignore[attr-defined]

    def is_forgotten(self, identity_id: str) -> bool:
        """True when ``identity_id`` was forgotten."""
        with Session(self.engine) as session:
            return session.get(ForgottenRow, identity_id) is not None

    def expire(self, older_than: float) -> int:
        """Delete sightings that ended before ``older_than`` (epoch seconds); return how many."""
        with Session(self.engine) as session, session.begin():
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
        """Empty the sightings (the demo starts from an empty store); the audit log is never dropped."""
        Base.metadata.drop_all(self.engine, tables=[SightingRow.__table__])  # type: ignore[list-item]
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


def _row(s: Sighting) -> dict[str, object]:
    return {
        "sighting_id": s.sighting_id, "identity_id": s.identity_id, "camera_id": s.camera_id,
        "track_id": s.track_id, "region": s.region, "t_start": s.t_start, "t_end": s.t_end,
        "x": s.x, "y": s.y, "ground_plane": s.ground_plane,
        "box_x": s.box[0] if s.box else None, "box_y": s.box[1] if s.box else None,
        "box_w": s.box[2] if s.box else None, "box_h": s.box[3] if s.box else None,
        "score": s.score, "enrolled": s.enrolled,
        "model": s.model, "cadence_spm": s.gait.cadence_spm, "speed_mps": s.gait.speed_mps,
        "step_length_m": s.gait.step_length_m, "stride_length_m": s.gait.stride_length_m,
        "truth_id": s.truth_id,
    }
