"""seats.held_by / held_until: the worker holding a busy or wrapping-up seat, and its lease

A seat a worker reserved (a transfer, an inbound call) or left wrapping up is that worker's
until it frees it; the lease lets another worker give back the seats of one that died.

Revision ID: 0019
Revises: 0018
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from voxcast.storage.types import UTCDateTime

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("seats") as batch:
        batch.add_column(sa.Column("held_by", sa.String(length=96), nullable=True))
        batch.add_column(sa.Column("held_until", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("seats") as batch:
        batch.drop_column("held_until")
        batch.drop_column("held_by")
