"""Agents' softphones register with voxcast's registrar: SIPp plays the softphone (digest
REGISTER, then unregister); the agent's status follows (offline → idle → offline), and a wrong
password never changes it. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from sqlalchemy import select

from tests.sipp.runner import Sipp
from voxcast.runtime import Runtime
from voxcast.services import accounts, agents
from voxcast.storage.models import Agent
from voxcast.telephony.callcenter.agent_registrar import AgentRegistrar


@pytest.fixture
async def registrar(rt: Runtime) -> AsyncIterator[AgentRegistrar]:
    service = AgentRegistrar(rt, "127.0.0.1", 0)
    await service.start()
    yield service
    await service.close()


async def new_agent(rt: Runtime) -> agents.NewAgent:
    now = rt.clock.now()
    async with rt.sessions.begin() as session:
        creds = await accounts.create_account(
            session, rt.secrets, now, name="cc", balance=Decimal(1)
        )
        group = await agents.add_group(session, creds.account_id, creds.app_id, "team", now)
        [seat] = await agents.add_agents(
            session, rt.secrets, creds.account_id, group.id, 1, None, None, now
        )
    return seat


async def seat_row(rt: Runtime, key_id: int) -> Agent:
    async with rt.sessions() as session:
        seat = (await session.execute(select(Agent).where(Agent.id == key_id))).scalar_one()
        return seat


async def softphone(
    registrar: AgentRegistrar, name: str, password: str, hold_ms: int, *, trace: bool = False
) -> Sipp:
    return await Sipp.start(
        "uac/agent_register.xml",
        remote=registrar.address,
        duration_ms=hold_ms,
        rtp_echo=False,
        trace_msg=trace,
        extra_args=("-s", name, "-au", name, "-ap", password),
    )


def responses(messages: str) -> list[str]:
    """The status lines of the responses SIPp received, in order (from its -trace_msg log)."""
    return re.findall(r"message received \[\d+\] bytes :\s+(SIP/2\.0 \d{3} [^\r\n]*)", messages)


async def test_an_agent_registers_goes_idle_and_offline_when_it_leaves(
    rt: Runtime, registrar: AgentRegistrar
) -> None:
    seat = await new_agent(rt)
    assert (await seat_row(rt, seat.key_id)).status == agents.AgentStatus.OFFLINE
    phone = await softphone(registrar, seat.name, seat.password, hold_ms=1500)
    try:
        for _ in range(100):
            row = await seat_row(rt, seat.key_id)
            if row.status == agents.AgentStatus.IDLE:
                break
            await asyncio.sleep(0.02)
        assert row.status == agents.AgentStatus.IDLE
        host, port = phone.host, phone.port
        assert row.contact == f"sip:{seat.name}@{host}:{port}"
        result = await phone.wait(15)
    finally:
        phone.cleanup()
    assert result.ok, result
    row = await seat_row(rt, seat.key_id)
    assert row.status == agents.AgentStatus.OFFLINE and row.contact is None


async def test_a_wrong_password_is_refused_and_changes_nothing(
    rt: Runtime, registrar: AgentRegistrar
) -> None:
    seat = await new_agent(rt)
    phone = await softphone(registrar, seat.name, "WrongPassword1", hold_ms=100, trace=True)
    try:
        result = await phone.wait(15)
    finally:
        phone.cleanup()
    # challenged, then refused: SIPp expected a 200 to its answer and got the 403
    assert responses(result.messages) == ["SIP/2.0 401 Unauthorized", "SIP/2.0 403 Forbidden"]
    assert (result.successful_calls, result.failed_calls) == (0, 1)
    row = await seat_row(rt, seat.key_id)
    assert row.status == agents.AgentStatus.OFFLINE and row.contact is None


async def test_an_expired_registration_leaves_a_busy_agent_busy_until_released(
    rt: Runtime,
) -> None:
    """Expiry during a call (a softphone whose refresh came late) must not turn the agent
    offline under the call: it stays busy, and goes offline only when the call is released
    without a new registration; a registration meanwhile makes it idle again."""
    from datetime import timedelta

    from voxcast.dialer.desk import DbAgentDesk
    from voxcast.ports import ReservedAgent

    late, on_time = await new_agent(rt), await new_agent(rt)
    now = rt.clock.now()
    async with rt.sessions.begin() as session:
        for seat in (late, on_time):
            await agents.apply_binding(session, seat.name, f"sip:{seat.name}@127.0.0.1:5", 60, now)
            row = await session.get(Agent, seat.key_id)
            assert row is not None
            row.status = agents.AgentStatus.BUSY
    async with rt.sessions.begin() as session:
        assert await agents.expire_registrations(session, now + timedelta(seconds=61)) == 2
    for seat in (late, on_time):
        row = await seat_row(rt, seat.key_id)
        assert (row.status, row.contact) == (agents.AgentStatus.BUSY, None)
    async with rt.sessions.begin() as session:  # one re-registers before its call ends
        await agents.apply_binding(session, on_time.name, "sip:x@127.0.0.1:6", 60, now)
    desk = DbAgentDesk(rt, virtual=False)
    for seat, after in ((late, agents.AgentStatus.OFFLINE), (on_time, agents.AgentStatus.IDLE)):
        await desk.release(ReservedAgent(seat.key_id, seat.name, "team", None, None), talked=True)
        assert (await seat_row(rt, seat.key_id)).status == after
