"""The control room's reads of the sightings table: identities by id prefix, camera and time, one
sighting, what was stored since a moment (the live feed), and the cameras that saw anyone."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from store.models import SightingRow


@dataclass(frozen=True)
class IdentitySummary:
    """One identity as ``gaitline identities`` and the API list it: its number of sightings and of
    cameras, first and last time seen, and (from :meth:`SightingQueries.search_identities`) which cameras."""

    identity_id: str
    sightings: int
    cameras: int
    first_seen: float
    last_seen: float
    camera_ids: tuple[str, ...] = ()


def _time_filters(since: float | None, until: float | None) -> list[ColumnElement[bool]]:
    """Sightings that started within ``[since, until]`` (either end open when None): a range of the time
    indexes, where an overlap test would read every sighting that ended after ``since``."""
    conds: list[ColumnElement[bool]] = []
    if since is not None:
        conds.append(SightingRow.t_start >= since)
    if until is not None:
        conds.append(SightingRow.t_start <= until)
    return conds


def _filters(prefix: str | None, camera: str | None, since: float | None, until: float | None,
             dialect: str) -> list[ColumnElement[bool]]:
    conds = _time_filters(since, until)
    if prefix:
        # exact and case-sensitive on both dialects (SQLite's LIKE ignores case); ">=" lets the identity
        # index skip what sorts before the prefix, which holds in any collation, and SQLite's binary
        # collation bounds the range above too
        conds += [SightingRow.identity_id >= prefix,
                  func.substr(SightingRow.identity_id, 1, len(prefix)) == prefix]
        if dialect == "sqlite" and ord(prefix[-1]) < 0x10FFFF:
            conds.append(SightingRow.identity_id < prefix[:-1] + chr(ord(prefix[-1]) + 1))
    if camera is not None:
        seen_there = select(SightingRow.identity_id).where(SightingRow.camera_id == camera,
                                                           *_time_filters(since, until))
        conds.append(SightingRow.identity_id.in_(seen_there))
    return conds


class SightingQueries:
    """The search methods of :class:`store.db.Store`."""

    engine: Engine

    def search_identities(self, prefix: str | None = None, camera: str | None = None, since: float | None = None,
                          until: float | None = None, limit: int = 50, offset: int = 0) -> list[IdentitySummary]:
        """Identities, most recently seen first (by the start of their last sighting in the range, ties by
        id), with what they did in the time range.

        Args:
            prefix: only identity ids starting with this (case-sensitive).
            camera: only identities ``camera`` saw in the time range (their summary still counts every camera).
            since, until: epoch seconds; only sightings that started in the range count (None: open).
            limit, offset: the page.
        """
        limit, offset = max(0, limit), max(0, offset)
        tf = _time_filters(since, until)
        q = (select(SightingRow.identity_id, func.count(), func.count(SightingRow.camera_id.distinct()),
                    func.min(SightingRow.t_start), func.max(SightingRow.t_end), func.max(SightingRow.t_start))
             .group_by(SightingRow.identity_id))
        with Session(self.engine) as session:
            if prefix or camera is not None or since is not None or until is not None:
                q = (q.where(*_filters(prefix, camera, since, until, self.engine.dialect.name))
                     .order_by(func.max(SightingRow.t_start).desc(), SightingRow.identity_id)
                     .limit(limit).offset(offset))
                rows = session.execute(q).all()
            else:
                # the whole store: grouping a million sightings takes seconds, reading the newest ones
                # down the time index until the page is full takes milliseconds
                page = _latest_identities(session, offset + limit)[offset:]
                rows = sorted(session.execute(q.where(SightingRow.identity_id.in_(page))).all() if page else [],
                              key=lambda r: (-r[5], r[0]))
            cams: dict[str, list[str]] = {}
            if rows:
                pairs = (select(SightingRow.identity_id, SightingRow.camera_id).distinct()
                         .where(SightingRow.identity_id.in_([r[0] for r in rows]), *tf))
                for ident, cam in session.execute(pairs):
                    cams.setdefault(ident, []).append(cam)
        return [IdentitySummary(str(i), int(n), int(c), float(a), float(b), tuple(sorted(cams.get(i, []))))
                for i, n, c, a, b, _ in rows]

    def count_identities(self, prefix: str | None = None, camera: str | None = None, since: float | None = None,
                         until: float | None = None) -> int:
        """How many identities :meth:`search_identities` finds with the same filters, over all pages."""
        q = select(func.count(SightingRow.identity_id.distinct())).where(
            *_filters(prefix, camera, since, until, self.engine.dialect.name))
        with Session(self.engine) as session:
            return int(session.scalar(q) or 0)

    def sighting(self, sighting_id: str) -> SightingRow | None:
        """The sighting ``sighting_id``, or None."""
        with Session(self.engine) as session:
            return session.get(SightingRow, sighting_id)

    def stored_since(self, after: float, limit: int = 500) -> list[SightingRow]:
        """Sightings written after ``after`` (epoch seconds of ``stored_at``), in the order they were written;
        at most ``limit``. A poller passes the last row's ``stored_at`` back as ``after``: rows of one batch
        have distinct times, so a page boundary never splits a tie."""
        q = (select(SightingRow).where(SightingRow.stored_at > after)
             .order_by(SightingRow.stored_at, SightingRow.sighting_id).limit(max(0, limit)))
        with Session(self.engine) as session:
            return list(session.scalars(q))

    def cameras_seen(self) -> list[str]:
        """The distinct camera ids of the stored sightings, sorted."""
        with Session(self.engine) as session:
            # one index seek per camera (a loose index scan) instead of reading every sighting's camera
            return [c for c in session.scalars(text(_CAMERAS_SEEN)) if c is not None]


_CAMERAS_SEEN = """
WITH RECURSIVE cams(id) AS (
    SELECT min(camera_id) FROM sightings
    UNION ALL
    SELECT (SELECT min(camera_id) FROM sightings WHERE camera_id > cams.id) FROM cams WHERE cams.id IS NOT NULL
)
SELECT id FROM cams
"""


def _latest_identities(session: Session, want: int) -> list[str]:
    """The ``want`` identities whose latest sighting started last, newest first, read from the newest
    sightings down the time index (an identity's first appearance there is its latest sighting)."""
    found: dict[str, None] = {}
    # a walker leaves a run of windows: start small and double, so a first page reads a few hundred rows
    step, offset = max(4 * want, 256), 0
    while len(found) < want:
        batch = session.scalars(select(SightingRow.identity_id).order_by(SightingRow.t_start.desc())
                                .offset(offset).limit(step)).all()
        for ident in batch:
            found.setdefault(ident, None)
        if len(batch) < step:
            break
        offset += step
        step = min(2 * step, 200_000)
    return list(found)[:want]
