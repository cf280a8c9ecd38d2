"""The SQLite database holds customers' data and encrypted secrets: it is created 0600 like
the key file, and SQLite gives its WAL and shared-memory files the same mode."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from voxcast.storage.db import make_engine, migrate


@pytest.fixture
def usual_umask() -> Iterator[None]:
    # the common default, under which a plainly created file is 0644
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("usual_umask")
async def test_a_new_sqlite_database_and_its_wal_files_are_created_0600(tmp_path: Path) -> None:
    db = tmp_path / "data" / "voxcast.db"
    engine = make_engine(f"sqlite:///{db}")
    try:
        await migrate(engine)
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE probe (x INTEGER)"))
        # while a connection is open, the WAL and its index exist beside the database
        modes = {p.name: mode(p) for p in sorted(db.parent.iterdir())}
    finally:
        await engine.dispose()
    assert modes == {"voxcast.db": 0o600, "voxcast.db-shm": 0o600, "voxcast.db-wal": 0o600}


@pytest.mark.usefixtures("usual_umask")
async def test_an_existing_sqlite_database_keeps_its_mode(tmp_path: Path) -> None:
    db = tmp_path / "voxcast.db"
    db.touch(mode=0o640)
    engine = make_engine(f"sqlite:///{db}")
    try:
        await migrate(engine)
    finally:
        await engine.dispose()
    assert mode(db) == 0o640
