"""seats.contact_path: the Path (RFC 3327) of an agent registered through a proxy

An agent registering through Kamailio is reached back through it: the Path header values of
its REGISTER, one a line, become the preloaded Route set of every INVITE to it, from any node.

Revision ID: 0021
Revises: 0020
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("seats") as batch:
        batch.add_column(sa.Column("contact_path", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("seats") as batch:
        batch.drop_column("contact_path")
