"""callinStrategy state: each agent's calls taken today (fewest calls) and each group's last
offered agent (round robin), kept in the database so every worker chooses alike

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "seats", sa.Column("calls_today", sa.Integer(), nullable=False, server_default="0")
    )
    op.add_column("seats", sa.Column("calls_day", sa.Date(), nullable=True))
    op.add_column("seat_groups", sa.Column("last_offered_seat_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("seat_groups") as batch:
        batch.drop_column("last_offered_seat_id")
    with op.batch_alter_table("seats") as batch:
        batch.drop_column("calls_day")
        batch.drop_column("calls_today")
