"""apps: how records and pushes show terminationCode ("sip": "200" answered; "zero": "0")

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
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
