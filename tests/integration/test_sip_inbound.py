"""Inbound calls to agent groups (issue 11), end to end with SIPp: an agent's softphone signs
in at the registrar, a SIPp caller dials one of our numbers at the registrar's address, and
voxcast answers, finds the agent, bridges RTP both ways and writes the call-center record
(callType 2) and its push. No agent: the hold tone, then our BYE after the wait. An unknown
number: 404. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select, update

from tests.integration.receiver import Receiver
from tests.integration.test_sip_calls import SipRig, sip_rig
from tests.integration.test_sip_transfer import agents_for, done, seat_status
from tests.sipp.runner import Sipp, free_port
from voxcast.config import Settings
from voxcast.services import agents, numbers
from voxcast.storage.models import App, CcRecord
from voxcast.telephony.callin import InboundSession
from voxcast.telephony.registrar import RegistrarService
from voxcast.webhooks.sender import PushSender

NUMBER = "4001"


async def with_number(rig: SipRig, phones: list[Sipp | None], **settings: Any) -> Any:
    group_id, seats = await agents_for(
        rig.rt, rig.creds.account_id, rig.creds.app_id, phones, **settings
    )
    async with rig.rt.sessions.begin() as session:
        await numbers.add_number(session, NUMBER, group_id, rig.rt.clock.now())
    return group_id, seats


async def cc_push_to(rig: SipRig, url: str) -> None:
    async with rig.rt.sessions.begin() as session:
        await session.execute(
            update(App).where(App.app_id == rig.creds.app_id).values(cc_push_url=url)
        )


async def inbound_records(rig: SipRig) -> list[CcRecord]:
    async with rig.rt.sessions() as session:
        found = await session.scalars(select(CcRecord).where(CcRecord.call_type == 2))
        return list(found)


async def the_finished_call(registrar: RegistrarService) -> InboundSession:
    assert registrar.inbound is not None
    for _ in range(100):  # bounded: 5 s
        if registrar.inbound.finished:
            [call] = registrar.inbound.finished
            return call
        await asyncio.sleep(0.05)
    raise AssertionError("the inbound call never finished")


async def test_a_caller_is_bridged_to_a_registered_agent(settings: Settings) -> None:
    async with Receiver() as pushes, sip_rig(settings) as rig:
        registrar = RegistrarService(rig.rt, "127.0.0.1", 0)
        await registrar.start()
        try:
            await cc_push_to(rig, pushes.url)
            group_id, [seat] = await with_number(rig, [None])
            phone_port = free_port()
            signing_in = await Sipp.start(
                "uac/agent_register_only.xml",
                remote=registrar.address,
                port=phone_port,
                rtp_echo=False,
                extra_args=("-s", seat.name, "-au", seat.name, "-ap", seat.password),
            )
            [signed_in] = await done(signing_in)
            assert signed_in.ok, signed_in
            # the agent's phone echoes what it hears; the caller talks (a pcap) for 3 s
            agent = await Sipp.start("answer_hold.xml", port=phone_port)
            caller = await Sipp.start(
                "uac/inbound_call.xml",
                remote=registrar.address,
                duration_ms=3000,
                rtp_echo=False,
                trace_msg=True,
                extra_args=("-s", NUMBER),
            )
            caller_far, agent_far = await done(caller, agent)
            call = await the_finished_call(registrar)
        finally:
            await registrar.close()
        [rec] = await inbound_records(rig)
        status = await seat_status(rig.rt, seat.key_id)
        async with PushSender(rig.rt, worker_id="t") as sender:
            await sender.deliver_due()
    assert caller_far.ok and agent_far.ok, (caller_far, agent_far)
    # 100 and 180 before the 200
    answers = [
        line.split()[1] for line in caller_far.messages.splitlines() if line.startswith("SIP/2.0")
    ]
    assert answers[:3] == ["100", "180", "200"], answers
    # bridged both ways: the caller's voice to the agent, the agent's (echo) to the caller
    assert call.to_agent > 50 and call.to_caller > 50, (call.to_agent, call.to_caller)
    assert (rec.call_type, rec.hangup_reason, rec.hanging_direction) == (2, 9, 0)
    assert (rec.called, rec.caller) == (NUMBER, "8613900000001")
    assert (rec.agent_name, rec.seat_id, rec.group_id) == (seat.name, seat.key_id, group_id)
    assert rec.agent_group_name == "support" and rec.task_id is None
    assert rec.hangup_code == 200 and not rec.abandoned
    assert rec.call_duration in (3, 4)
    assert status == agents.AgentStatus.IDLE  # free again after the call
    [push] = [r.json() for r in pushes.received]
    assert push["callSessionId"] == rec.call_session_id
    assert (push["callType"], push["hangupReason"], push["agentName"]) == (2, 9, seat.name)
    assert (push["called"], push["caller"]) == (NUMBER, "8613900000001")


async def test_no_agent_hears_the_hold_tone_then_our_bye(settings: Settings) -> None:
    """Chosen: the caller is answered at once (it hears the hold tone, not silence) and after
    the group's timeoutWaitSec gets our BYE; hangupReason 8."""
    async with sip_rig(settings) as rig:
        registrar = RegistrarService(rig.rt, "127.0.0.1", 0)
        await registrar.start()
        try:
            await with_number(rig, [None], timeoutWaitSec=2)  # an agent, not signed in
            caller = await Sipp.start(
                "uac/inbound_wait.xml",
                remote=registrar.address,
                rtp_echo=False,
                extra_args=("-s", NUMBER),
            )
            [far] = await done(caller)
            call = await the_finished_call(registrar)
        finally:
            await registrar.close()
        [rec] = await inbound_records(rig)
    assert far.ok, far
    assert (rec.call_type, rec.hangup_reason, rec.hanging_direction) == (2, 8, 3)
    assert rec.agent_name is None and rec.call_duration == 0 and not rec.abandoned
    assert rec.answer_time is not None and rec.call_end_time is not None
    waited = (rec.call_end_time - rec.answer_time).total_seconds()
    assert waited == pytest.approx(2.0, abs=0.6)
    # the hold tone all through the wait: 50 packets a second
    assert call.sent_to_caller == pytest.approx(50 * waited, abs=15)


async def test_an_unknown_number_gets_404(settings: Settings) -> None:
    async with sip_rig(settings) as rig:
        registrar = RegistrarService(rig.rt, "127.0.0.1", 0)
        await registrar.start()
        try:
            await with_number(rig, [None])
            caller = await Sipp.start(
                "uac/refused.xml",
                remote=registrar.address,
                keys={"sdp_port": str(free_port())},
                rtp_echo=False,
                trace_msg=True,
                extra_args=("-s", "4999"),
            )
            [far] = await done(caller)
        finally:
            await registrar.close()
        records = await inbound_records(rig)
    assert far.ok, far
    assert "SIP/2.0 404" in far.messages
    assert records == []
