"""The store's tables of sightings, the audit log and forgotten identities (the evidence and watchlist
tables are in :mod:`store.evidence` and :mod:`store.watchlist`); every table is declared on :class:`Base`."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Float, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


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
    # expire deletes what ended before a time, every minute of stream time: an index range, not a table scan
    t_end: Mapped[float] = mapped_column(Float, index=True)
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
    # when the row was written (epoch seconds; the live feed reads what is new): migration 0003 gave older
    # rows their t_end
    stored_at: Mapped[float | None] = mapped_column(Float, nullable=True, index=True)


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
