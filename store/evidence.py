"""Evidence per sighting: the gait energy image of the window matched, and optionally a key-frame crop.

The images live in their own table, keyed by the sighting, so that listing sightings (a person
view, a camera's timeline, the evaluation harness) never reads a blob; they are written in the
same transaction as their sighting and deleted with it (``forget``, ``expire``: see
:mod:`store.db`; on PostgreSQL the foreign key cascades as well).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ForeignKey, LargeBinary, String, delete, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.sql import Select

from store.models import Base
from streams.schemas import Sighting

_IDS_PER_QUERY = 500  # SQLite binds at most 32 766 values a statement; PostgreSQL plans short IN lists better


class EvidenceRow(Base):
    """The images of one sighting."""

    __tablename__ = "evidence"

    sighting_id: Mapped[str] = mapped_column(
        String(200), ForeignKey("sightings.sighting_id", ondelete="CASCADE"), primary_key=True)
    gei_png: Mapped[bytes] = mapped_column(LargeBinary)
    keyframe_jpeg: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


@dataclass(frozen=True)
class Evidence:
    """What was matched in one sighting: the gait energy image (a 64x44 grayscale PNG: a mean
    silhouette, no face, no clothing colour) and, where the key-frame crop is on, a JPEG of the person."""

    gei_png: bytes
    keyframe_jpeg: bytes | None = None


def evidence_rows(sightings: Iterable[Sighting]) -> list[dict[str, object]]:
    """The ``evidence`` rows of the sightings that carry a gait energy image."""
    return [{"sighting_id": s.sighting_id, "gei_png": s.evidence_png, "keyframe_jpeg": s.keyframe_jpeg}
            for s in sightings if s.evidence_png is not None]


def delete_evidence_of(session: Session, sightings: Select[Any]) -> int:
    """Delete the evidence of the sightings whose ids ``sightings`` selects; return how many rows."""
    res = session.execute(delete(EvidenceRow).where(EvidenceRow.sighting_id.in_(sightings)))
    return int(res.rowcount or 0)  # type: ignore[attr-defined]


class EvidenceQueries:
    """The evidence reads of :class:`store.db.Store`."""

    engine: Engine

    def evidence(self, sighting_ids: Sequence[str]) -> dict[str, Evidence]:
        """The evidence of each of ``sighting_ids`` that has any (ids without evidence are left out)."""
        ids = list(dict.fromkeys(sighting_ids))
        found: dict[str, Evidence] = {}
        with Session(self.engine) as session:
            for i in range(0, len(ids), _IDS_PER_QUERY):
                q = select(EvidenceRow.sighting_id, EvidenceRow.gei_png, EvidenceRow.keyframe_jpeg).where(
                    EvidenceRow.sighting_id.in_(ids[i:i + _IDS_PER_QUERY]))
                for sid, gei, key in session.execute(q):
                    found[sid] = Evidence(bytes(gei), None if key is None else bytes(key))
        return found
