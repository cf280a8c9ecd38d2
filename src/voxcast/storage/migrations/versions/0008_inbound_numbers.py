"""inbound calls: the numbers callers dial (DIDs) and the agent group each one rings

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import voxcast.storage.types

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inbound_numbers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("app_id", sa.String(length=32), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("created_at", voxcast.storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.ForeignKeyConstraint(["group_id"], ["seat_groups.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("number"),
    )
    op.create_index(
        op.f("ix_inbound_numbers_account_id"), "inbound_numbers", ["account_id"], unique=False
    )
    op.create_index(
        op.f("ix_inbound_numbers_group_id"), "inbound_numbers", ["group_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_inbound_numbers_group_id"), table_name="inbound_numbers")
    op.drop_index(op.f("ix_inbound_numbers_account_id"), table_name="inbound_numbers")
    op.drop_table("inbound_numbers")
