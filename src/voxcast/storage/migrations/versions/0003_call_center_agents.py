"""call center: agent groups, agents, call records, push addresses, preview callee lists

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import voxcast.storage.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "accounts", sa.Column("max_seats", sa.Integer(), nullable=False, server_default="200")
    )
    op.create_table(
        "seat_groups",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("app_id", sa.String(length=32), nullable=False),
        sa.Column("group_name", sa.String(length=32), nullable=False),
        sa.Column("callin_strategy", sa.SmallInteger(), nullable=False),
        sa.Column("settings", voxcast.storage.types.JSONText(), nullable=False),
        sa.Column("created_at", voxcast.storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("app_id", "group_name", name="uq_seat_group_name"),
    )
    op.create_index(op.f("ix_seat_groups_account_id"), "seat_groups", ["account_id"], unique=False)
    op.create_table(
        "seats",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("app_id", sa.String(length=32), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("emp_no", sa.String(length=32), nullable=True),
        sa.Column("pet_name", sa.String(length=64), nullable=True),
        sa.Column("display_num", sa.String(length=20), nullable=True),
        sa.Column("ccode", sa.String(length=8), nullable=True),
        sa.Column("password_enc", sa.Text(), nullable=False),
        sa.Column("enable", sa.Boolean(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("status", sa.SmallInteger(), nullable=False),
        sa.Column("contact", sa.Text(), nullable=True),
        sa.Column("contact_expires", voxcast.storage.types.UTCDateTime(), nullable=True),
        sa.Column("status_changed_at", voxcast.storage.types.UTCDateTime(), nullable=False),
        sa.Column("created_at", voxcast.storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.ForeignKeyConstraint(["group_id"], ["seat_groups.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_index(op.f("ix_seats_account_id"), "seats", ["account_id"], unique=False)
    op.create_index(op.f("ix_seats_group_id"), "seats", ["group_id"], unique=False)
    op.add_column("apps", sa.Column("cc_push_url", sa.Text(), nullable=True))
    op.add_column("apps", sa.Column("ring_push_url", sa.Text(), nullable=True))
    op.create_table(
        "cc_records",
        sa.Column("call_session_id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("app_id", sa.String(length=32), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.Column("voice_id", sa.String(length=32), nullable=True),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("seat_id", sa.Integer(), nullable=True),
        sa.Column("called", sa.String(length=20), nullable=False),
        sa.Column("called_info", sa.Text(), nullable=True),
        sa.Column("caller", sa.String(length=32), nullable=True),
        sa.Column("ccode", sa.String(length=8), nullable=True),
        sa.Column("agent_name", sa.String(length=64), nullable=True),
        sa.Column("agent_group_name", sa.String(length=32), nullable=True),
        sa.Column("call_duration", sa.Integer(), nullable=False),
        sa.Column("call_type", sa.SmallInteger(), nullable=False),
        sa.Column("hangup_code", sa.Integer(), nullable=False),
        sa.Column("hangup_reason", sa.SmallInteger(), nullable=False),
        sa.Column("hanging_direction", sa.SmallInteger(), nullable=False),
        sa.Column("no_answer_agents", voxcast.storage.types.JSONText(), nullable=False),
        sa.Column("base_cost", sa.Numeric(precision=20, scale=6), nullable=False),
        sa.Column("cost", sa.Numeric(precision=20, scale=6), nullable=False),
        sa.Column("abandoned", sa.Boolean(), nullable=False),
        sa.Column("call_start_time", voxcast.storage.types.UTCDateTime(), nullable=False),
        sa.Column("answer_time", voxcast.storage.types.UTCDateTime(), nullable=True),
        sa.Column("transfer_time", voxcast.storage.types.UTCDateTime(), nullable=True),
        sa.Column("agent_answer_time", voxcast.storage.types.UTCDateTime(), nullable=True),
        sa.Column("call_end_time", voxcast.storage.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.PrimaryKeyConstraint("call_session_id"),
    )
    op.create_index("ix_cc_records_account_start", "cc_records", ["account_id", "call_start_time"])
    op.create_index(op.f("ix_cc_records_task_id"), "cc_records", ["task_id"], unique=False)
    op.create_table(
        "preview_files",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("file_path", sa.String(length=128), nullable=False),
        sa.Column("file_name", sa.String(length=64), nullable=False),
        sa.Column("rows", voxcast.storage.types.JSONText(), nullable=False),
        sa.Column("duplicates", sa.Integer(), nullable=False),
        sa.Column("errors", voxcast.storage.types.JSONText(), nullable=False),
        sa.Column("created_at", voxcast.storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("file_path"),
    )
    op.create_index(
        op.f("ix_preview_files_account_id"), "preview_files", ["account_id"], unique=False
    )


def downgrade() -> None:
    op.drop_table("preview_files")
    op.drop_table("cc_records")
    with op.batch_alter_table("apps") as batch:
        batch.drop_column("ring_push_url")
        batch.drop_column("cc_push_url")
    op.drop_table("seats")
    op.drop_table("seat_groups")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("max_seats")
