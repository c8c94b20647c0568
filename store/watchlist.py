"""The watchlist: identities an operator asked to be told about, and the sightings that told them.

``watch_hits`` holds one row per sighting of a watched identity that raised an alert. Recording
a hit is an insert-if-absent on the sighting id, so of several API replicas polling the same
store exactly one raises each alert. ``forget`` removes an identity's watch and its hits (see
:mod:`store.db`); ``expire`` removes hits as old as the sightings it removes. The audit entries
(who put whom on the list, and why) are the API's to write, through ``Store.audit``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Float, String, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped, Session, mapped_column

from store.exceptions import StoreError
from store.models import Base

_IDS_PER_QUERY = 500


class WatchlistRow(Base):
    """An identity on the watchlist: who put it there, why and when."""

    __tablename__ = "watchlist"

    identity_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[float] = mapped_column(Float)


class WatchHitRow(Base):
    """A sighting of a watched identity that raised an alert."""

    __tablename__ = "watch_hits"

    sighting_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    identity_id: Mapped[str] = mapped_column(String(64), index=True)
    camera_id: Mapped[str] = mapped_column(String(100))
    t: Mapped[float] = mapped_column(Float, index=True)
    hit_at: Mapped[float] = mapped_column(Float)


@dataclass(frozen=True)
class WatchRow:
    """One watchlist entry as the store hands it out."""

    identity_id: str
    actor: str
    reason: str
    created_at: float


def _watch_row(r: WatchlistRow) -> WatchRow:
    return WatchRow(r.identity_id, r.actor, r.reason, r.created_at)


class WatchlistQueries:
    """The watchlist methods of :class:`store.db.Store`."""

    engine: Engine

    def _insert(self):  # type: ignore[no-untyped-def]
        return pg_insert if self.engine.dialect.name == "postgresql" else sqlite_insert

    def watch(self, identity_id: str, actor: str, reason: str) -> WatchRow:
        """Put ``identity_id`` on the watchlist; an identity already there keeps its first entry, which is
        returned. :class:`StoreError` without an actor or a reason."""
        if not identity_id.strip() or not actor.strip() or not reason.strip():
            raise StoreError("a watchlist entry needs an identity, an actor and a reason")
        with Session(self.engine) as session, session.begin():
            session.execute(self._insert()(WatchlistRow).values(
                identity_id=identity_id, actor=actor[:100], reason=reason[:500], created_at=time.time())
                .on_conflict_do_nothing(index_elements=["identity_id"]))
            row = session.get(WatchlistRow, identity_id)
            assert row is not None  # inserted, or there already, in this transaction
            return _watch_row(row)

    def unwatch(self, identity_id: str) -> bool:
        """Take ``identity_id`` off the watchlist; False when it was not on it. Its past hits stay (they
        are sightings' history, removed by ``forget`` and ``expire``)."""
        with Session(self.engine) as session, session.begin():
            res = session.execute(delete(WatchlistRow).where(WatchlistRow.identity_id == identity_id))
            return bool(res.rowcount)  # type: ignore[attr-defined]

    def watchlist(self) -> list[WatchRow]:
        """Every watchlist entry, newest first."""
        with Session(self.engine) as session:
            return [_watch_row(r) for r in session.scalars(
                select(WatchlistRow).order_by(WatchlistRow.created_at.desc(), WatchlistRow.identity_id))]

    def watched(self, identity_ids: Sequence[str]) -> dict[str, WatchRow]:
        """The watchlist entries of those of ``identity_ids`` that are watched."""
        ids = list(dict.fromkeys(identity_ids))
        out: dict[str, WatchRow] = {}
        with Session(self.engine) as session:
            for i in range(0, len(ids), _IDS_PER_QUERY):
                for r in session.scalars(select(WatchlistRow).where(
                        WatchlistRow.identity_id.in_(ids[i:i + _IDS_PER_QUERY]))):
                    out[r.identity_id] = _watch_row(r)
        return out

    def record_watch_hit(self, sighting_id: str, identity_id: str, camera_id: str, t: float) -> bool:
        """Record that ``sighting_id`` of a watched identity raised an alert; True only for the first
        caller (the one that should alert), False when any caller recorded it before."""
        with Session(self.engine) as session, session.begin():
            stmt = (self._insert()(WatchHitRow).values(sighting_id=sighting_id, identity_id=identity_id,
                                                       camera_id=camera_id, t=t, hit_at=time.time())
                    .on_conflict_do_nothing(index_elements=["sighting_id"]).returning(WatchHitRow.sighting_id))
            return session.execute(stmt).first() is not None
