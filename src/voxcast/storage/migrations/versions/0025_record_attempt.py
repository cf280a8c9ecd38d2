"""Each call record names which attempt at its number it was (AiVoice redials)

Revision ID: 0025
Revises: 0024
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("call_records", sa.Column("attempt", sa.Integer(), nullable=True))


def downgrade() -> None:
    # SQLite drops columns by copying the table
    with op.batch_alter_table("call_records") as batch:
        batch.drop_column("attempt")
