"""SIP trunks, and the trunk each account's calls go through

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import voxcast.storage.types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "trunks",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("transport", sa.String(length=8), nullable=False),
        sa.Column("username", sa.String(length=128), nullable=True),
        sa.Column("password_enc", sa.Text(), nullable=True),
        sa.Column("realm", sa.String(length=255), nullable=True),
        sa.Column("caller_id", sa.String(length=64), nullable=True),
        sa.Column("max_channels", sa.Integer(), nullable=False),
        sa.Column("max_cps", sa.Integer(), nullable=False),
        sa.Column("codecs", sa.String(length=32), nullable=False),
        sa.Column("register", sa.Boolean(), nullable=False),
        sa.Column("created_at", voxcast.storage.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.add_column("accounts", sa.Column("trunk", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("trunk")
    op.drop_table("trunks")
