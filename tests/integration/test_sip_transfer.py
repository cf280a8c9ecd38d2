"""Transfers to agents over SIP, end to end, with SIPp as the callee and as the agents'
softphones: the dialer rings the agent, bridges RTP both ways (packet counts), and writes the
call-center record with the right hangupReason for each ending. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select, update

from tests.integration.dialing import insert_task, wait_status
from tests.integration.receiver import Receiver
from tests.integration.test_sip_calls import sip_rig
from tests.loop_stalls import LoopStalls
from tests.sipp.runner import Sipp, free_port
from voxcast.config import Settings
from voxcast.domain.enums import TaskStatus
from voxcast.runtime import Runtime
from voxcast.services import agents
from voxcast.storage.models import Agent, App, CcRecord
from voxcast.telephony.callcenter.agent_registrar import AgentRegistrar
from voxcast.webhooks.sender import PushSender

SHORT = "Hi."


@asynccontextmanager
async def registrar_of(rig: Any) -> AsyncIterator[AgentRegistrar]:
    """voxcast's registrar, whose socket also rings the agents (as the worker sets it up)."""
    registrar = AgentRegistrar(rig.rt, "127.0.0.1", 0)
    await registrar.start()
    rig.directory.agents_endpoint = registrar.endpoint
    try:
        yield registrar
    finally:
        await registrar.close()


async def sign_in(registrar: AgentRegistrar, seat: agents.NewAgent, port: int) -> None:
    """The agent's softphone on `port` REGISTERs (digest) with the registrar."""
    signing_in = await Sipp.start(
        "uac/agent_register_only.xml",
        remote=registrar.address,
        port=port,
        rtp_echo=False,
        extra_args=("-s", seat.name, "-au", seat.name, "-ap", seat.password),
    )
    [signed_in] = await done(signing_in)
    assert signed_in.ok, signed_in


async def agents_for(
    rt: Runtime,
    registrar: AgentRegistrar,
    account_id: int,
    app_id: str,
    phones: list[tuple[str, int | None] | None],
    **settings: Any,
) -> tuple[int, list[agents.NewAgent], list[Sipp]]:
    """A group of agents, each signing in through the registrar from a SIPp softphone that
    then takes calls with the scenario given (and its -d); None: an agent never signed in.
    They sign in in order, so the first has been idle longest and is rung first."""
    now = rt.clock.now()
    async with rt.sessions.begin() as session:
        group = await agents.add_group(session, account_id, app_id, "support", now)
        await agents.set_basic(session, account_id, group.id, settings)
        made = await agents.add_agents(
            session, rt.secrets, account_id, group.id, len(phones), None, None, now
        )
    softphones: list[Sipp] = []
    for seat, phone in zip(made, phones, strict=True):
        if phone is None:
            continue
        scenario, duration_ms = phone
        port = free_port()
        await sign_in(registrar, seat, port)
        assert await seat_status(rt, seat.key_id) == agents.AgentStatus.IDLE
        softphones.append(await Sipp.start(scenario, duration_ms=duration_ms, port=port))
    return group.id, made, softphones


async def run_task(rt: Runtime, creds: Any, group_id: int, number: str, **params: Any) -> int:
    task_params = {"toSeat": 1, "sipGroupId": group_id, "toSeatType": 1, "outboundControl": 0,
                   "calloutRate": 1}  # fmt: skip
    task_params.update(params)
    task_id = await insert_task(
        rt, creds.account_id, creds.app_id, [number], text=SHORT, params=task_params
    )
    await wait_status(rt, task_id, TaskStatus.FINISHED, timeout=60)
    return task_id


async def the_record(rt: Runtime, task_id: int) -> CcRecord:
    async with rt.sessions() as session:
        return (
            await session.execute(select(CcRecord).where(CcRecord.task_id == task_id))
        ).scalar_one()


async def seat_status(rt: Runtime, key_id: int) -> int:
    async with rt.sessions() as session:
        return int(await session.scalar(select(Agent.status).where(Agent.id == key_id)) or 0)


async def done(*farends: Sipp) -> list[Any]:
    results = []
    for sipp in farends:
        try:
            results.append(await sipp.wait(15))
        finally:
            sipp.cleanup()
    return results


async def test_agent_signs_in_then_takes_a_transfer_with_rtp_both_ways(
    settings: Settings, loop_stalls: LoopStalls
) -> None:
    """The whole path: the softphone REGISTERs with voxcast's registrar (digest), goes idle,
    is rung at the address it registered from, answers, talks and hangs up."""
    async with Receiver() as rings, sip_rig(settings) as rig:
        async with registrar_of(rig) as registrar:
            callee = await Sipp.start("answer_hold.xml")
            await rig.route_to(callee)
            async with rig.rt.sessions.begin() as session:
                await session.execute(
                    update(App)
                    .where(App.app_id == rig.creds.app_id)
                    .values(ring_push_url=rings.url)
                )
            group_id, [seat], _ = await agents_for(
                rig.rt, registrar, rig.creds.account_id, rig.creds.app_id, [None]
            )
            phone_port = free_port()
            assert await seat_status(rig.rt, seat.key_id) == agents.AgentStatus.OFFLINE
            await sign_in(registrar, seat, phone_port)
            assert await seat_status(rig.rt, seat.key_id) == agents.AgentStatus.IDLE
            agent = await Sipp.start(
                "agent_answer.xml", duration_ms=2000, port=phone_port, trace_msg=True
            )
            task_id = await run_task(rig.rt, rig.creds, group_id, "8613000000000")
            registrar_port = registrar.address[1]
        rec = await the_record(rig.rt, task_id)
        [call] = rig.calls()
        status = await seat_status(rig.rt, seat.key_id)
        async with PushSender(rig.rt, worker_id="t") as sender:
            await sender.deliver_due()
        callee_far, agent_far = await done(callee, agent)
    assert callee_far.ok and agent_far.ok, (callee_far, agent_far)
    assert rec.agent_name == seat.name and rec.hangup_reason == 3
    assert rec.hanging_direction == 1  # the agent hung up
    seconds = loop_stalls.seconds(2, 3)
    assert rec.call_duration in seconds, (rec.call_duration, loop_stalls.total_s)
    # both ways: the agent's voice to the callee, and the callee's side (SIPp's echo) back
    assert call.stats.to_callee > 50 and call.stats.to_agent > 50
    assert status == agents.AgentStatus.IDLE  # free again (no wrap-up time set)
    [ringing] = [r.json() for r in rings.received]
    assert ringing[0]["sipAccount"] == seat.name and ringing[0]["noAnswerSipList"] == []
    # rung on the flow it registered through (the registrar's socket), the only one a
    # port-restricted NAT in front of the phone lets in
    invite = agent_far.messages.split("INVITE sip:", 1)[1]
    via = next(line for line in invite.splitlines() if line.lower().startswith("via:"))
    assert f"127.0.0.1:{registrar_port};" in via, via


async def test_agent_no_answer_then_the_next_agent(settings: Settings) -> None:
    async with sip_rig(settings) as rig, registrar_of(rig) as registrar:
        callee = await Sipp.start("answer_hold.xml")
        await rig.route_to(callee)
        group_id, [first, second], [deaf, agent] = await agents_for(
            rig.rt,
            registrar,
            rig.creds.account_id,
            rig.creds.app_id,
            [("ring_until_cancel.xml", None), ("agent_answer.xml", 1000)],
            timeoutTransferSec=2,
        )
        task_id = await run_task(rig.rt, rig.creds, group_id, "8613000000000")
        rec = await the_record(rig.rt, task_id)
        results = await done(callee, deaf, agent)
    assert all(r.ok for r in results), results  # the deaf phone saw our CANCEL
    assert rec.no_answer_agents == [first.name]
    assert rec.agent_name == second.name and rec.hangup_reason == 3


async def test_callee_hanging_up_while_waiting_is_abandoned(settings: Settings) -> None:
    async with sip_rig(settings) as rig, registrar_of(rig) as registrar:
        callee = await Sipp.start("answer_then_hangup.xml", duration_ms=2500)
        await rig.route_to(callee)
        group_id, _, _ = await agents_for(
            rig.rt, registrar, rig.creds.account_id, rig.creds.app_id, [None], timeoutWaitSec=30
        )
        task_id = await run_task(rig.rt, rig.creds, group_id, "8613000000003")
        rec = await the_record(rig.rt, task_id)
        [far] = await done(callee)
    assert far.ok, far
    assert rec.abandoned and rec.agent_name is None
    assert (rec.hangup_reason, rec.hanging_direction) == (2, 0)


async def test_no_agent_free_is_hung_up_after_the_wait(
    settings: Settings, loop_stalls: LoopStalls
) -> None:
    async with sip_rig(settings) as rig, registrar_of(rig) as registrar:
        callee = await Sipp.start("answer_hold.xml")
        await rig.route_to(callee)
        group_id, _, _ = await agents_for(
            rig.rt, registrar, rig.creds.account_id, rig.creds.app_id, [None], timeoutWaitSec=2
        )
        task_id = await run_task(rig.rt, rig.creds, group_id, "8613000000000")
        rec = await the_record(rig.rt, task_id)
        [call] = rig.calls()
        [far] = await done(callee)
    assert far.ok, far
    assert rec.abandoned and (rec.hangup_reason, rec.hanging_direction) == (2, 3)
    # the callee heard the message, then the ringback tone all through the wait: packets
    # flowed at 50 a second for the whole answered time (the message alone is under 1 s); a
    # busy machine's stalls delay packets but lose none (tests/unit/rtp/test_pacer.py), unless
    # one outlasts the pacer's half-second catch-up: those frames are dropped, and counted
    assert rec.answer_time is not None
    answered_s = (rec.call_end_time - rec.answer_time).total_seconds()
    stats, stalled_s = call.stats, loop_stalls.total_s
    assert stats.rtp_sent + stats.rtp_dropped == pytest.approx(50 * answered_s, abs=15)
    assert stats.rtp_sent > 50 * (answered_s - 1.5 - stalled_s)
    assert stats.rtp_dropped <= 50 * stalled_s, (stats.rtp_dropped, stalled_s)
    assert rec.transfer_time is not None and rec.call_end_time is not None
    assert 2.0 <= (rec.call_end_time - rec.transfer_time).total_seconds() <= 3.0
    assert rec.cost == Decimal("0.02")
