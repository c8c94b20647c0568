"""``sightings.track_id`` becomes 64-bit: live cameras number tracks from ``int(time.time() * 10)``
(about 1.7e10). Stores older than the camera-time index get it too.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if "ix_sightings_camera_time" not in {i["name"] for i in sa.inspect(bind).get_indexes("sightings")}:
        op.create_index("ix_sightings_camera_time", "sightings", ["camera_id", "t_start"])
    if bind.dialect.name == "sqlite":
        return  # SQLite's INTEGER holds 64 bits already
    with op.batch_alter_table("sightings") as batch:
        batch.alter_column("track_id", type_=sa.BigInteger(), existing_type=sa.Integer(), existing_nullable=False)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    with op.batch_alter_table("sightings") as batch:
        batch.alter_column("track_id", type_=sa.Integer(), existing_type=sa.BigInteger(), existing_nullable=False)
