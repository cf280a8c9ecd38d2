"""Rendering a submitted task's prompts (text-to-speech, seconds on a busy machine) happens
outside any database transaction: on SQLite a transaction holds the one write lock, and every
other writer (the API, the recorder, pushes) would wait behind the synthesis, then fail with
"database is locked" once the busy timeout ran out (seen on a loaded CI machine)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterable
from decimal import Decimal

from tests.helpers import SQLITE_ONLY
from tests.integration.dialing import dialer_rig, insert_task, wait_for, wait_status
from voxcast.audio.render import RenderedPrompt, RenderRequest
from voxcast.config import Settings
from voxcast.domain.enums import TaskStatus
from voxcast.services import accounts, rates


@SQLITE_ONLY
async def test_a_task_whose_speech_is_rendering_holds_no_write_lock(settings: Settings) -> None:
    async with dialer_rig(settings, speed=50) as rig:
        rt = rig.rt
        async with rt.sessions.begin() as session:
            creds = await accounts.create_account(
                session, rt.secrets, rt.clock.now(), name="acme", balance=Decimal(100)
            )
            await rates.set_rate(session, creds.account_id, "", Decimal("0.02"))
        pool = rig.dialer.prompts.pool
        render_many = pool.render_many
        rendering, release = asyncio.Event(), asyncio.Event()

        async def slow_render_many(requests: Iterable[RenderRequest]) -> list[RenderedPrompt]:
            rendering.set()
            await release.wait()  # a synthesis that takes as long as the test wants
            return await render_many(requests)

        pool.render_many = slow_render_many  # type: ignore[method-assign]
        task_id = await insert_task(
            rt, creds.account_id, creds.app_id, ["8613000000000"], status=TaskStatus.SUBMITTING
        )

        async def is_rendering() -> bool:
            return rendering.is_set()

        await wait_for(is_rendering)
        # another writer, impatient (5 s, against a synthesis that would never end), in a
        # thread so the dialer's own short transactions go on meanwhile: it gets the lock
        # while the speech renders
        path = settings.database_url.removeprefix("sqlite:///")

        def write() -> None:
            other = sqlite3.connect(path, timeout=5, isolation_level=None)
            try:
                other.execute("BEGIN IMMEDIATE")
                other.execute("ROLLBACK")
            finally:
                other.close()

        try:
            await asyncio.to_thread(write)
        finally:
            release.set()
        await wait_status(rt, task_id, TaskStatus.FINISHED, timeout=60)
