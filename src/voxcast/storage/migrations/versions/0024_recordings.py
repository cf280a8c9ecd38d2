"""Recorded calls (enableRecording=1) name their WAV files: both sides and the callee's alone

Revision ID: 0024
Revises: 0023
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("call_records", sa.Column("recording_full", sa.String(120), nullable=True))
    op.add_column("call_records", sa.Column("recording_customer", sa.String(120), nullable=True))


def downgrade() -> None:
    # SQLite drops columns by copying the table
    with op.batch_alter_table("call_records") as batch:
        batch.drop_column("recording_customer")
        batch.drop_column("recording_full")
