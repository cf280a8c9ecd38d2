"""call records: the phone group and phone name of a click-to-call (voice/sendSip) record

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("call_records", sa.Column("sip_group_name", sa.String(32), nullable=True))
    op.add_column("call_records", sa.Column("phone_name", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("call_records") as batch:
        batch.drop_column("phone_name")
        batch.drop_column("sip_group_name")
