"""apps: how records and pushes show terminationCode ("sip": "200" answered; "zero": "0")

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "apps",
        sa.Column("termination_style", sa.String(length=8), nullable=False, server_default="sip"),
    )


def downgrade() -> None:
    with op.batch_alter_table("apps") as batch:
        batch.drop_column("termination_style")
