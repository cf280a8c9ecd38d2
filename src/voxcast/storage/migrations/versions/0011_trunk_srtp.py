"""SRTP with SDES keys on trunks: off, optional or mandatory (off for existing trunks)

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "trunks",
        sa.Column("srtp", sa.String(length=16), nullable=False, server_default="off"),
    )


def downgrade() -> None:
    with op.batch_alter_table("trunks") as batch:
        batch.drop_column("srtp")
