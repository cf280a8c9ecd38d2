"""SMS sending: message ids, origin, status and receipts on sms_messages; SMSC connections;
the apps' SMS push URL

Revision ID: 0017
Revises: 0016
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sms_messages", schema=None) as batch:
        batch.add_column(sa.Column("msg_id", sa.String(32), nullable=True))
        batch.add_column(sa.Column("app_id", sa.String(32), nullable=True))
        batch.add_column(sa.Column("origin", sa.String(8), nullable=False, server_default="hangup"))
        batch.add_column(sa.Column("order_id", sa.String(64), nullable=True))
        batch.add_column(
            sa.Column("status", sa.String(12), nullable=False, server_default="pending")
        )
        batch.add_column(sa.Column("segments", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("submitted_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("receive_time", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("stat", sa.String(64), nullable=True))
        batch.add_column(sa.Column("lease_until", sa.DateTime(), nullable=True))
    # messages the old sandbox sink marked sent count as delivered; each gets a message id
    op.execute("UPDATE sms_messages SET status = 'delivered' WHERE state = 1")
    op.execute("UPDATE sms_messages SET msg_id = 'L' || CAST(id AS VARCHAR(20))")
    with op.batch_alter_table("sms_messages", schema=None) as batch:
        batch.alter_column("msg_id", existing_type=sa.String(32), nullable=False)
        batch.create_unique_constraint("uq_sms_messages_msg_id", ["msg_id"])
        batch.create_index("ix_sms_status_send_at", ["status", "send_at"])
        batch.drop_column("state")
    with op.batch_alter_table("apps", schema=None) as batch:
        batch.add_column(sa.Column("sms_push_url", sa.Text(), nullable=True))
    op.create_table(
        "smsc_connections",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("system_id", sa.String(16), nullable=False),
        sa.Column("password_enc", sa.Text(), nullable=False),
        sa.Column("system_type", sa.String(13), nullable=False, server_default=""),
        sa.Column("window", sa.Integer(), nullable=False, server_default="10"),
        sa.Column("rate", sa.Integer(), nullable=False, server_default="50"),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("smsc_connections")
    with op.batch_alter_table("apps", schema=None) as batch:
        batch.drop_column("sms_push_url")
    with op.batch_alter_table("sms_messages", schema=None) as batch:
        batch.add_column(sa.Column("state", sa.SmallInteger(), nullable=False, server_default="0"))
    op.execute("UPDATE sms_messages SET state = 1 WHERE status <> 'pending'")
    with op.batch_alter_table("sms_messages", schema=None) as batch:
        batch.drop_index("ix_sms_status_send_at")
        batch.drop_constraint("uq_sms_messages_msg_id", type_="unique")
        for column in (
            "lease_until", "stat", "receive_time", "submitted_at", "segments", "status",
            "order_id", "origin", "app_id", "msg_id",
        ):  # fmt: skip
            batch.drop_column(column)
