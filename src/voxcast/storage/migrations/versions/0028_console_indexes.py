"""Indexes for the console's pages with 100,000 records: records in page order by account (with
the number and answer time its filters read) and by task, and a task's counters read from the
callees index alone (bench/console.py)

Revision ID: 0028
Revises: 0027
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_records_account_submit", table_name="call_records")
    op.create_index(
        "ix_records_account_submit",
        "call_records",
        ["account_id", "submit_time", "voice_id", "callee", "answer_time"],
    )
    op.drop_index("ix_call_records_task_id", table_name="call_records")
    op.create_index(
        "ix_records_task_submit", "call_records", ["task_id", "submit_time", "voice_id"]
    )
    op.drop_index("ix_callees_task_state", table_name="callees")
    op.create_index("ix_callees_task_state", "callees", ["task_id", "state", "success"])


def downgrade() -> None:
    op.drop_index("ix_callees_task_state", table_name="callees")
    op.create_index("ix_callees_task_state", "callees", ["task_id", "state"])
    op.drop_index("ix_records_task_submit", table_name="call_records")
    op.create_index("ix_call_records_task_id", "call_records", ["task_id"])
    op.drop_index("ix_records_account_submit", table_name="call_records")
    op.create_index("ix_records_account_submit", "call_records", ["account_id", "submit_time"])
