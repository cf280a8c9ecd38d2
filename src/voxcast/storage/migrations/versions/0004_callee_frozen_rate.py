"""callees.rate: the rate per minute frozen when the callee was submitted

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
    # NULL on rows made before: those are billed at the account's rate read at billing time
    op.add_column("callees", sa.Column("rate", sa.Numeric(20, 6), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("callees") as batch:
        batch.drop_column("rate")
