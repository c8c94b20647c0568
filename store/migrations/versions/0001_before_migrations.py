"""The store as the releases before migrations made it (``create_all``): the baseline.

A store without Alembic's version table is stamped at this revision, then upgraded.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sightings",
        sa.Column("sighting_id", sa.String(200), primary_key=True),
        sa.Column("identity_id", sa.String(64), nullable=False, index=True),
        sa.Column("camera_id", sa.String(100), nullable=False, index=True),
        sa.Column("track_id", sa.Integer(), nullable=False),
        sa.Column("region", sa.String(100), nullable=False),
        sa.Column("t_start", sa.Float(), nullable=False, index=True),
        sa.Column("t_end", sa.Float(), nullable=False),
        sa.Column("x", sa.Float(), nullable=False),
        sa.Column("y", sa.Float(), nullable=False),
        sa.Column("box_x", sa.Integer(), nullable=True),
        sa.Column("box_y", sa.Integer(), nullable=True),
        sa.Column("box_w", sa.Integer(), nullable=True),
        sa.Column("box_h", sa.Integer(), nullable=True),
        sa.Column("ground_plane", sa.Boolean(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("enrolled", sa.Boolean(), nullable=False),
        sa.Column("model", sa.String(100), nullable=False),
        sa.Column("cadence_spm", sa.Float(), nullable=True),
        sa.Column("speed_mps", sa.Float(), nullable=True),
        sa.Column("step_length_m", sa.Float(), nullable=True),
        sa.Column("stride_length_m", sa.Float(), nullable=True),
        sa.Column("truth_id", sa.String(100), nullable=True),
    )
    op.create_index("ix_sightings_camera_time", "sightings", ["camera_id", "t_start"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", sa.Float(), nullable=False, index=True),
        sa.Column("actor", sa.String(100), nullable=False, index=True),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("subject", sa.String(200), nullable=True, index=True),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
    )
    op.create_table(
        "forgotten",
        sa.Column("identity_id", sa.String(64), primary_key=True),
        sa.Column("at", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    for table in ("forgotten", "audit_log", "sightings"):
        op.drop_table(table)
