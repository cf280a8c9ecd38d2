"""Answering-machine detection: each call record's verdict and cause (amdResult, amdCause)

Revision ID: 0018
Revises: 0017
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("call_records", sa.Column("amd_result", sa.String(8), nullable=True))
    op.add_column("call_records", sa.Column("amd_cause", sa.String(40), nullable=True))


def downgrade() -> None:
    # SQLite drops columns by copying the table
    with op.batch_alter_table("call_records") as batch:
        batch.drop_column("amd_cause")
        batch.drop_column("amd_result")
