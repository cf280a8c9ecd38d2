"""Several nodes on one database: recordings' audio kept in it (any node serves them), and
when an agent answered a callee's call (proportional dialing counts waiting calls globally)

Revision ID: 0026
Revises: 0025
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from voxcast.storage.types import UTCDateTime

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "recordings",
        sa.Column("name", sa.String(120), primary_key=True),
        sa.Column("channels", sa.SmallInteger(), nullable=False),
        sa.Column("audio", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_recordings_created_at", "recordings", ["created_at"])
    op.add_column("callees", sa.Column("agent_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    # SQLite drops columns by copying the table
    with op.batch_alter_table("callees") as batch:
        batch.drop_column("agent_at")
    op.drop_index("ix_recordings_created_at", table_name="recordings")
    op.drop_table("recordings")
