"""preview_files.created_at index: uploaded callee lists expire (VOXCAST_PREVIEW_FILE_DAYS)

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        op.f("ix_preview_files_created_at"), "preview_files", ["created_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_preview_files_created_at"), table_name="preview_files")
