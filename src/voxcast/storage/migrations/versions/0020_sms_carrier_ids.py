"""sms_messages.carrier_ids: the SMSC's id of each segment of a submitted text

Stored at submit so a sender started after a restart can still match the receipts of texts
submitted before it (they are re-armed with the transport at start).

Revision ID: 0020
Revises: 0019
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from voxcast.storage.types import JSONText

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sms_messages") as batch:
        batch.add_column(sa.Column("carrier_ids", JSONText(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sms_messages") as batch:
        batch.drop_column("carrier_ids")
