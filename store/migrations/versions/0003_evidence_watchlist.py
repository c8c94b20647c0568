"""The control room (issue 22): evidence per sighting, the watchlist and its alerts, and when each
sighting was stored (``sightings.stored_at``, the live feed's cursor). Sightings stored before this
revision get their ``t_end`` as ``stored_at``: they are history to a live feed either way. An index
on ``t_end`` lets retention delete what ended before a time without reading the whole table.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # what is there already is kept: a store stamped at the baseline may come from any earlier release
    insp = sa.inspect(op.get_bind())
    if "stored_at" not in {c["name"] for c in insp.get_columns("sightings")}:
        op.add_column("sightings", sa.Column("stored_at", sa.Float(), nullable=True))
    op.execute("UPDATE sightings SET stored_at = t_end WHERE stored_at IS NULL")
    indexes = {i["name"] for i in insp.get_indexes("sightings")}
    if "ix_sightings_stored_at" not in indexes:
        op.create_index("ix_sightings_stored_at", "sightings", ["stored_at"])
    if "ix_sightings_t_end" not in indexes:  # retention deletes by end time every minute
        op.create_index("ix_sightings_t_end", "sightings", ["t_end"])
    tables = set(insp.get_table_names())
    if "evidence" not in tables:
        _create_evidence()
    if "watchlist" not in tables:
        _create_watchlist()
    if "watch_hits" not in tables:
        _create_watch_hits()


def _create_evidence() -> None:
    op.create_table(
        "evidence",
        sa.Column("sighting_id", sa.String(200), sa.ForeignKey("sightings.sighting_id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("gei_png", sa.LargeBinary(), nullable=False),
        sa.Column("keyframe_jpeg", sa.LargeBinary(), nullable=True),
    )


def _create_watchlist() -> None:
    op.create_table(
        "watchlist",
        sa.Column("identity_id", sa.String(64), primary_key=True),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
    )


def _create_watch_hits() -> None:
    op.create_table(
        "watch_hits",
        sa.Column("sighting_id", sa.String(200), primary_key=True),
        sa.Column("identity_id", sa.String(64), nullable=False, index=True),
        sa.Column("camera_id", sa.String(100), nullable=False),
        sa.Column("t", sa.Float(), nullable=False, index=True),
        sa.Column("hit_at", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    for table in ("watch_hits", "watchlist", "evidence"):
        op.drop_table(table)
    op.drop_index("ix_sightings_t_end", table_name="sightings")
    op.drop_index("ix_sightings_stored_at", table_name="sightings")
    with op.batch_alter_table("sightings") as batch:
        batch.drop_column("stored_at")
