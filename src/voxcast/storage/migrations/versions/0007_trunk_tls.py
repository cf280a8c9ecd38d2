"""SIP over TLS trunks: a CA file to trust, an insecure testing switch, a client certificate

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("trunks", sa.Column("tls_ca", sa.Text(), nullable=True))
    op.add_column(
        "trunks",
        sa.Column("tls_insecure", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column("trunks", sa.Column("tls_cert", sa.Text(), nullable=True))
    op.add_column("trunks", sa.Column("tls_key", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("trunks") as batch:
        batch.drop_column("tls_key")
        batch.drop_column("tls_cert")
        batch.drop_column("tls_insecure")
        batch.drop_column("tls_ca")
