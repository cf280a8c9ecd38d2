"""AI recall flows keep their recallIntent: rounds call again by the last call's intent level

Revision ID: 0023
Revises: 0022
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("recall_flows", sa.Column("recall_intents", sa.Text(), nullable=True))


def downgrade() -> None:
    # SQLite drops columns by copying the table
    with op.batch_alter_table("recall_flows") as batch:
        batch.drop_column("recall_intents")
