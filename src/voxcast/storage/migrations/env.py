"""Alembic environment: runs on the connection voxcast hands over (see storage.db.migrate)."""

from __future__ import annotations

from alembic import context

from voxcast.storage import console, scripts  # noqa: F401  (their tables join Base.metadata)
from voxcast.storage.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("voxcast migrations run through `voxcast.storage.db.migrate`")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
