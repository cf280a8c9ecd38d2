"""Billing uses the rate frozen on each callee at submission, on SQLite and PostgreSQL: a rate
added after the worker started is charged (not 0), and a rate changed after submission does
not change the charge of callees already submitted."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal

import httpx
from sqlalchemy import select

from tests.integration.dialing import dialer_rig, insert_task, records_of, wait_status
from voxcast.api.app import create_app
from voxcast.client import AsyncVoxcastClient
from voxcast.clock import SystemClock
from voxcast.config import Settings
from voxcast.domain.billing import call_cost
from voxcast.domain.enums import TaskStatus
from voxcast.runtime import Runtime, open_runtime
from voxcast.services import accounts, rates
from voxcast.storage.models import Callee


async def new_account(rt: Runtime, prefix_rates: dict[str, str]) -> accounts.Credentials:
    async with rt.sessions.begin() as session:
        creds = await accounts.create_account(
            session, rt.secrets, rt.clock.now(), name="acme", balance=Decimal(100)
        )
        for prefix, rate in prefix_rates.items():
            await rates.set_rate(session, creds.account_id, prefix, Decimal(rate))
    return creds


async def set_rate(rt: Runtime, account_id: int, prefix: str, rate: str) -> None:
    async with rt.sessions.begin() as session:
        await rates.set_rate(session, account_id, prefix, Decimal(rate))


@asynccontextmanager
async def api(rt: Runtime, creds: accounts.Credentials) -> AsyncIterator[AsyncVoxcastClient]:
    async with AsyncVoxcastClient(
        "http://vc",
        creds.api_key,
        creds.api_secret,
        transport=httpx.ASGITransport(app=create_app(rt)),
        timestamp=lambda: int(rt.wall.now().timestamp()),
    ) as client:
        yield client


async def send(client: AsyncVoxcastClient, app_id: str, name: str, number: str) -> int:
    env = await client.send_group_call(
        appId=app_id,
        taskName=name,
        source=3,
        text="Hi",
        lan="EN",
        loopCount=1,
        maxCalls=60,
        numberInfoList=[{"calleeNumber": number}],
    )
    assert env.code == "0", env.reason
    return int(env.data)


async def test_a_rate_added_after_the_worker_started_is_charged_not_zero(
    settings: Settings,
) -> None:
    async with dialer_rig(settings, speed=50) as rig:
        creds = await new_account(rig.rt, {"86": "0.02"})
        async with api(rig.rt, creds) as client:
            # a first call makes the worker read the account's rates
            first = await send(client, creds.app_id, "first", "8613000000000")
            await wait_status(rig.rt, first, TaskStatus.FINISHED)
            await set_rate(rig.rt, creds.account_id, "44", "0.10")
            second = await send(client, creds.app_id, "second", "447700900000")
            await wait_status(rig.rt, second, TaskStatus.FINISHED)
        (rec,) = await records_of(rig.rt, second)
    assert rec.termination_code == "200" and rec.charged_duration > 0
    assert rec.rate == Decimal("0.10")
    assert rec.cost == call_cost(Decimal("0.10"), rec.charged_duration)
    assert rec.cost > 0


async def test_a_rate_changed_after_submission_does_not_change_the_charge(
    settings: Settings,
) -> None:
    # submitted (and the rate raised) before any worker runs, so the call surely comes after
    intake = await open_runtime(settings, SystemClock())
    try:
        creds = await new_account(intake, {"86": "0.02"})
        async with api(intake, creds) as client:
            task_id = await send(client, creds.app_id, "frozen", "8613000000000")
        async with intake.sessions() as session:
            frozen = await session.scalar(select(Callee.rate).where(Callee.task_id == task_id))
        assert frozen == Decimal("0.02")
        await set_rate(intake, creds.account_id, "86", "0.50")
    finally:
        await intake.close()
    async with dialer_rig(settings, speed=50) as rig:
        await wait_status(rig.rt, task_id, TaskStatus.FINISHED)
        (rec,) = await records_of(rig.rt, task_id)
    assert rec.termination_code == "200" and rec.charged_duration > 0
    assert rec.rate == Decimal("0.02")
    assert rec.cost == call_cost(Decimal("0.02"), rec.charged_duration)


async def test_a_callee_without_a_frozen_rate_is_billed_at_the_current_rate(
    settings: Settings,
) -> None:
    """Rows made before rates were frozen (rate NULL) read the rate at billing time."""
    async with dialer_rig(settings, speed=50) as rig:
        creds = await new_account(rig.rt, {"86": "0.02"})
        first = await insert_task(rig.rt, creds.account_id, creds.app_id, ["8613000000000"])
        await wait_status(rig.rt, first, TaskStatus.FINISHED)
        await set_rate(rig.rt, creds.account_id, "86", "0.30")
        second = await insert_task(rig.rt, creds.account_id, creds.app_id, ["8613000000000"])
        await wait_status(rig.rt, second, TaskStatus.FINISHED)
        (old,) = await records_of(rig.rt, first)
        (new,) = await records_of(rig.rt, second)
    assert old.rate == Decimal("0.02")
    assert new.rate == Decimal("0.30")
    assert new.cost == call_cost(Decimal("0.30"), new.charged_duration)
