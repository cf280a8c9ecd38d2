"""An agent's status over time: a registration that runs out (the registrar's sweep) and the
wrap-up after a call (the desk's timer), on a clock the test moves. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from tests.conftest import START
from voxcast.clock import FixedClock
from voxcast.config import Settings
from voxcast.dialer.desk import DbAgentDesk
from voxcast.runtime import Runtime, open_runtime
from voxcast.services import accounts, agents
from voxcast.storage.models import Agent
from voxcast.telephony.callcenter import agent_registrar as registrar_module
from voxcast.telephony.callcenter.agent_registrar import AgentRegistrar

OFFLINE, IDLE, BUSY, WRAP_UP = 1, 2, 3, 4


class SteppedClock(FixedClock):
    """A fixed clock whose sleeps last until the test has moved it far enough."""

    def __init__(self, start: datetime) -> None:
        super().__init__(start)
        self._moved = asyncio.Condition()

    async def step(self, seconds: float) -> None:
        self.advance(seconds)
        async with self._moved:
            self._moved.notify_all()
        for _ in range(20):  # let woken sleepers run their database writes
            await asyncio.sleep(0.01)

    async def sleep(self, seconds: float) -> None:
        until = self.monotonic() + seconds
        async with self._moved:
            await self._moved.wait_for(lambda: self.monotonic() >= until)


async def new_group(
    rt: Runtime, size: int, **settings: object
) -> tuple[int, list[agents.NewAgent]]:
    now = rt.clock.now()
    async with rt.sessions.begin() as session:
        creds = await accounts.create_account(
            session, rt.secrets, now, name="cc", balance=Decimal(1)
        )
        group = await agents.add_group(session, creds.account_id, creds.app_id, "team", now)
        if settings:
            await agents.set_basic(session, creds.account_id, group.id, dict(settings))
        seats = await agents.add_agents(
            session, rt.secrets, creds.account_id, group.id, size, None, None, now
        )
    return group.id, seats


async def register(rt: Runtime, seat: agents.NewAgent, expires: int) -> None:
    async with rt.sessions.begin() as session:
        await agents.apply_binding(
            session, seat.name, f"sip:{seat.name}@127.0.0.1:5070", expires, rt.clock.now()
        )


async def state(rt: Runtime, seat: agents.NewAgent) -> tuple[int, str | None]:
    async with rt.sessions() as session:
        row = await session.get(Agent, seat.key_id)
        assert row is not None
        return row.status, row.contact


async def set_status(rt: Runtime, seat: agents.NewAgent, status: int) -> None:
    async with rt.sessions.begin() as session:
        row = await session.get(Agent, seat.key_id)
        assert row is not None
        row.status = status


# -- registration expiry ---------------------------------------------------------------------


@pytest.fixture
async def sweeping(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[AgentRegistrar]:
    """The registrar service with its expiry sweep running every 10 ms instead of 10 s."""
    monkeypatch.setattr(registrar_module, "SWEEP_SECONDS", 0.01)
    service = AgentRegistrar(rt, "127.0.0.1", 0)
    await service.start()
    yield service
    await service.close()


async def sweeps() -> None:
    await asyncio.sleep(0.2)  # twenty sweeps' worth


@pytest.mark.timeout(30)
async def test_an_idle_agent_whose_registration_runs_out_goes_offline(
    rt: Runtime, clock: FixedClock, sweeping: AgentRegistrar
) -> None:
    _, [lapsing, refreshed] = await new_group(rt, 2)
    await register(rt, lapsing, 60)
    await register(rt, refreshed, 60)
    assert await state(rt, lapsing) == (IDLE, f"sip:{lapsing.name}@127.0.0.1:5070")
    clock.advance(60)  # at the instant it expires it is still registered
    await sweeps()
    assert await state(rt, lapsing) == (IDLE, f"sip:{lapsing.name}@127.0.0.1:5070")
    await register(rt, refreshed, 60)  # a refresh in time: it now runs to START + 120 s
    clock.advance(1)
    await sweeps()
    assert await state(rt, lapsing) == (OFFLINE, None)
    assert await state(rt, refreshed) == (IDLE, f"sip:{refreshed.name}@127.0.0.1:5070")
    async with rt.sessions() as session:
        row = await session.get(Agent, lapsing.key_id)
        assert row is not None and row.status_changed_at == START + timedelta(seconds=61)
    clock.advance(60)  # START + 121 s: the refreshed one has lapsed too
    await sweeps()
    assert await state(rt, refreshed) == (OFFLINE, None)


@pytest.mark.timeout(30)
async def test_a_busy_agent_whose_registration_lapses_and_is_refreshed_stays_on_its_call(
    rt: Runtime, clock: FixedClock, sweeping: AgentRegistrar
) -> None:
    group_id, [seat] = await new_group(rt, 1)
    await register(rt, seat, 60)
    desk = DbAgentDesk(rt, virtual=False)
    agent = await desk.reserve(group_id, frozenset())
    assert agent is not None and agent.key_id == seat.key_id
    clock.advance(61)
    await sweeps()
    assert await state(rt, seat) == (BUSY, None)  # lapsed, but its call goes on
    await register(rt, seat, 60)  # the late refresh
    clock.advance(30)
    await sweeps()
    assert await state(rt, seat) == (BUSY, f"sip:{seat.name}@127.0.0.1:5070")
    await desk.release(agent, talked=True)
    assert await state(rt, seat) == (IDLE, f"sip:{seat.name}@127.0.0.1:5070")


# -- wrap-up ---------------------------------------------------------------------------------


@pytest.fixture
async def stepped_rt(settings: Settings) -> AsyncIterator[tuple[Runtime, SteppedClock]]:
    clock = SteppedClock(START)
    runtime = await open_runtime(settings, clock)
    yield runtime, clock
    await runtime.close()


@pytest.mark.timeout(30)
async def test_after_a_call_the_agent_wraps_up_for_the_groups_time_then_is_idle(
    stepped_rt: tuple[Runtime, SteppedClock],
) -> None:
    rt, clock = stepped_rt
    group_id, [seat] = await new_group(rt, 1, wrapUpTime=15)
    await register(rt, seat, 3600)
    desk = DbAgentDesk(rt, virtual=False)
    agent = await desk.reserve(group_id, frozenset())
    assert agent is not None and agent.wrap_up_s == 15.0
    assert (await state(rt, seat))[0] == BUSY
    await desk.release(agent, talked=True)
    assert (await state(rt, seat))[0] == WRAP_UP
    assert await desk.reserve(group_id, frozenset()) is None  # not offered while wrapping up
    await clock.step(14.9)
    assert (await state(rt, seat))[0] == WRAP_UP
    await clock.step(0.1)
    assert (await state(rt, seat))[0] == IDLE
    async with rt.sessions() as session:
        row = await session.get(Agent, seat.key_id)
        assert row is not None and row.status_changed_at == START + timedelta(seconds=15)
    again = await desk.reserve(group_id, frozenset())
    assert again is not None and again.key_id == seat.key_id


@pytest.mark.timeout(30)
async def test_no_wrap_up_without_talk_and_offline_after_it_when_registration_lapsed(
    stepped_rt: tuple[Runtime, SteppedClock],
) -> None:
    rt, clock = stepped_rt
    group_id, [unanswered, lapsed] = await new_group(rt, 2, wrapUpTime=5)
    desk = DbAgentDesk(rt, virtual=False)
    for seat in (unanswered, lapsed):
        await register(rt, seat, 60)
    first = await desk.reserve(group_id, frozenset())
    second = await desk.reserve(group_id, frozenset())
    assert first is not None and second is not None
    reserved = {first.key_id: first, second.key_id: second}
    await desk.release(reserved[unanswered.key_id], talked=False)  # never answered: no wrap-up
    assert (await state(rt, unanswered))[0] == IDLE
    await desk.release(reserved[lapsed.key_id], talked=True)
    async with rt.sessions.begin() as session:  # its registration runs out while wrapping up
        assert await agents.expire_registrations(session, START + timedelta(seconds=61)) == 2
    assert await state(rt, lapsed) == (WRAP_UP, None)
    assert await state(rt, unanswered) == (OFFLINE, None)
    await clock.step(5)
    assert await state(rt, lapsed) == (OFFLINE, None)
