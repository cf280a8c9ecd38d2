"""Agents keep their browser softphone's credential (cc/seat/createSdkAuthentication), hashed,
and the call offered to it

Revision ID: 0027
Revises: 0026
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from voxcast.storage.types import JSONText, UTCDateTime

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("seats", sa.Column("sdk_token_hash", sa.String(64), nullable=True))
    op.add_column("seats", sa.Column("sdk_token_expires", UTCDateTime(), nullable=True))
    op.add_column("seats", sa.Column("browser_call", JSONText(), nullable=True))
    op.add_column(
        "seats",
        sa.Column("browser_state", sa.SmallInteger(), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    # SQLite drops columns by copying the table
    with op.batch_alter_table("seats") as batch:
        batch.drop_column("browser_state")
        batch.drop_column("browser_call")
        batch.drop_column("sdk_token_expires")
        batch.drop_column("sdk_token_hash")
