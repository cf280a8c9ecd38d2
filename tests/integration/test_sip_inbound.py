"""Inbound calls to agent groups (issue 11), end to end with SIPp: an agent's softphone signs
in at the registrar, a SIPp caller dials one of our numbers at the registrar's address, and
voxcast answers, finds the agent, bridges RTP both ways and writes the call-center record
(callType 2) and its push. No agent: the hold tone, then our BYE after the wait. An unknown
number: 404. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from tests.integration.receiver import Receiver
from tests.integration.test_sip_calls import SipRig, sip_rig
from tests.integration.test_sip_transfer import done, seat_status
from tests.loop_stalls import LoopStalls
from tests.sipp.runner import Sipp, free_port
from voxcast.config import Settings
from voxcast.runtime import Runtime
from voxcast.services import agents, numbers
from voxcast.storage.models import Agent, App, CcRecord
from voxcast.telephony.callcenter.agent_registrar import AgentRegistrar
from voxcast.telephony.callcenter.callin import InboundSession
from voxcast.webhooks.sender import PushSender

NUMBER = "4001"


def utc8(at: datetime | None) -> str:
    """How the vendor's pushes show a time: UTC+8, to the second."""
    assert at is not None
    return (at.astimezone(UTC) + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M:%S")


async def agents_for(
    rt: Runtime, account_id: int, app_id: str, phones: list[Sipp | None], **settings: Any
) -> tuple[int, list[agents.NewAgent]]:
    """A group whose agents are bound to these SIPp softphones (None: offline), written as
    the registrar records a REGISTER (signing in through it is tested in test_sip_transfer
    and test_sip_phone_register); the first is the longest idle."""
    now = rt.clock.now()
    async with rt.sessions.begin() as session:
        group = await agents.add_group(session, account_id, app_id, "support", now)
        await agents.set_basic(session, account_id, group.id, settings)
        made = await agents.add_agents(
            session, rt.secrets, account_id, group.id, len(phones), None, None, now
        )
        for i, (seat, phone) in enumerate(zip(made, phones, strict=True)):
            if phone is None:
                continue
            await session.execute(
                update(Agent)
                .where(Agent.id == seat.key_id)
                .values(
                    contact=f"sip:{seat.name}@{phone.host}:{phone.port}",
                    contact_expires=now + timedelta(hours=1),
                    status=agents.AgentStatus.IDLE,
                    status_changed_at=now - timedelta(minutes=10 - i),
                )
            )
    return group.id, made


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


async def the_finished_call(registrar: AgentRegistrar) -> InboundSession:
    assert registrar.inbound is not None
    for _ in range(100):  # bounded: 5 s
        if registrar.inbound.finished:
            [call] = registrar.inbound.finished
            return call
        await asyncio.sleep(0.05)
    raise AssertionError("the inbound call never finished")


async def test_a_caller_is_bridged_to_a_registered_agent(
    settings: Settings, loop_stalls: LoopStalls
) -> None:
    async with Receiver() as pushes, sip_rig(settings) as rig:
        registrar = AgentRegistrar(rig.rt, "127.0.0.1", 0)
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
    # (a stall of ours reads the caller's BYE with the last packets: the agent's echo of those
    # comes after the call, up to 50 packets a second of stall)
    echoed = 50 - 50 * loop_stalls.total_s
    assert call.to_agent > 50 and call.to_caller > echoed, (call.to_agent, call.to_caller, echoed)
    assert (rec.call_type, rec.hangup_reason, rec.hanging_direction) == (2, 9, 0)
    assert (rec.called, rec.caller) == (NUMBER, "8613900000001")
    assert (rec.agent_name, rec.seat_id, rec.group_id) == (seat.name, seat.key_id, group_id)
    assert rec.agent_group_name == "support" and rec.task_id is None
    assert rec.hangup_code == 200 and not rec.abandoned
    # the caller talks 3 s; a stall of ours reads its BYE later
    seconds = loop_stalls.seconds(3, 4)
    assert rec.call_duration in seconds, (rec.call_duration, loop_stalls.total_s)
    assert status == agents.AgentStatus.IDLE  # free again after the call
    [push] = [r.json() for r in pushes.received]
    assert push["callSessionId"] == rec.call_session_id
    assert (push["callType"], push["hangupReason"], push["agentName"]) == (2, 9, seat.name)
    assert (push["called"], push["caller"]) == (NUMBER, "8613900000001")


async def test_no_agent_hears_the_hold_tone_then_our_bye(settings: Settings) -> None:
    """Chosen: the caller is answered at once (it hears the hold tone, not silence) and after
    the group's timeoutWaitSec gets our BYE; hangupReason 8 (and no agent rang: no ringing
    push)."""
    async with Receiver() as pushes, Receiver() as rings, sip_rig(settings) as rig:
        registrar = AgentRegistrar(rig.rt, "127.0.0.1", 0)
        await registrar.start()
        try:
            async with rig.rt.sessions.begin() as session:
                await session.execute(
                    update(App)
                    .where(App.app_id == rig.creds.app_id)
                    .values(cc_push_url=pushes.url, ring_push_url=rings.url)
                )
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
        async with PushSender(rig.rt, worker_id="t") as sender:
            await sender.deliver_due()
    assert far.ok, far
    assert (rec.call_type, rec.hangup_reason, rec.hanging_direction) == (2, 8, 3)
    [pushed] = [r.json() for r in pushes.received]
    assert (pushed["callType"], pushed["hangupReason"], pushed["hangingDirection"]) == (2, 8, 3)
    assert (pushed["agentName"], pushed["callDuration"], pushed["abandoned"]) == (None, 0, False)
    assert pushed["callSessionId"] == rec.call_session_id and pushed["called"] == NUMBER
    assert rings.received == []
    assert rec.agent_name is None and rec.call_duration == 0 and not rec.abandoned
    assert rec.answer_time is not None and rec.call_end_time is not None
    waited = (rec.call_end_time - rec.answer_time).total_seconds()
    # never before the 2 s wait; later only by a stalled machine's delay (CI once stalled the
    # loop 2.3 s here, the pacer dropping 93 frames), far from a group's default of 30 s
    assert waited >= 1.4 and waited <= 2.0 + 0.6 + 2.5, waited
    # the hold tone through the wait: 50 packets a second, less what a stall made the pacer
    # drop, never more than the wait holds
    assert 50 * 0.5 <= call.sent_to_caller <= 50 * waited + 15, (call.sent_to_caller, waited)


async def test_an_unknown_number_gets_404(settings: Settings) -> None:
    async with sip_rig(settings) as rig:
        registrar = AgentRegistrar(rig.rt, "127.0.0.1", 0)
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


#: how long the caller of the priority test talks before its BYE
CALLER_TALKS_MS = 10_000


async def test_agents_are_rung_in_priority_order_with_the_ringing_and_record_pushes(
    settings: Settings, loop_stalls: LoopStalls
) -> None:
    """callinStrategy 3 on an inbound call: three registered agents, priorities A 3, B 1,
    C 2, so B rings first (its phone is busy, 486), then C (busy too), then A, who answers;
    the longest idle (A) is not what decides. Each ring is a type 2 ringing push under the
    call's one callId, the record push is callType 2, hangupReason 9."""
    async with Receiver() as rings, Receiver() as records, sip_rig(settings) as rig:
        registrar = AgentRegistrar(rig.rt, "127.0.0.1", 0)
        await registrar.start()
        try:
            async with rig.rt.sessions.begin() as session:
                await session.execute(
                    update(App)
                    .where(App.app_id == rig.creds.app_id)
                    .values(cc_push_url=records.url, ring_push_url=rings.url)
                )
            phone_a = await Sipp.start("answer_hold.xml")
            phone_b = await Sipp.start("reject_486.xml")
            phone_c = await Sipp.start("reject_486.xml")
            _, [a, b, c] = await with_number(rig, [phone_a, phone_b, phone_c], callinStrategy=3)
            async with rig.rt.sessions.begin() as session:
                for seat, priority in ((a, 3), (b, 1), (c, 2)):
                    await session.execute(
                        update(Agent).where(Agent.id == seat.key_id).values(priority=priority)
                    )
            caller = await Sipp.start(
                "uac/inbound_call.xml",
                remote=registrar.address,
                # long enough for B, C and A to be rung even after a stall of seconds (CI
                # stalled this worker 3.9 s once: the caller's BYE at 4 s then cancelled a
                # phone that had already refused, which SIPp calls an unexpected CANCEL)
                duration_ms=CALLER_TALKS_MS,
                rtp_echo=False,
                extra_args=("-s", NUMBER),
            )
            caller_far, *phones = await done(caller, phone_a, phone_b, phone_c)
            await the_finished_call(registrar)
        finally:
            await registrar.close()
        [rec] = await inbound_records(rig)
        async with PushSender(rig.rt, worker_id="t") as sender:
            await sender.deliver_due()
        async with rig.rt.sessions() as session:
            calls = (await session.scalars(select(Agent.calls_today).order_by(Agent.id))).all()
    assert caller_far.ok and all(p.ok for p in phones), (caller_far, phones)
    assert (rec.agent_name, rec.no_answer_agents) == (a.name, [b.name, c.name])
    assert calls == [1, 0, 0]  # only A took a call
    ringing = [r.json() for r in rings.received]
    assert [len(body) for body in ringing] == [1, 1, 1]
    times = [body[0].pop("callinEventTime") for body in ringing]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", t) for t in times), times
    assert [body[0] for body in ringing] == [
        {
            "callId": rec.call_session_id,
            "called": NUMBER,
            "noAnswerSipList": tried,
            "calledInfo": None,
            "type": 2,
            "sipAccount": rung,
            "taskId": None,
            "seatGroupName": "support",
            "caller": "8613900000001",
        }
        for rung, tried in ((b.name, []), (c.name, [b.name]), (a.name, [b.name, c.name]))
    ]
    [pushed] = [r.json() for r in records.received]
    assert rec.call_start_time is not None and rec.call_end_time is not None
    assert pushed == {
        "callId": None,
        "callSessionId": rec.call_session_id,
        "called": NUMBER,
        "calledInfo": None,
        "caller": "8613900000001",
        "ccode": None,
        "ccodeName": None,
        "agentName": a.name,
        "agentGroupName": "support",
        "agentAccount": a.name,
        "callDuration": rec.call_duration,
        "callType": 2,
        "hangupCode": 200,
        "hangupReason": 9,
        "hangingDirection": 0,
        "labels": [],
        "baseCost": "0.000000",
        "cost": "0.000000",
        "remark": None,
        "callStartTime": utc8(rec.call_start_time),
        "answerTime": utc8(rec.agent_answer_time),
        "callEndTime": utc8(rec.call_end_time),
        "voiceUrl": None,
        "taskId": None,
        "abandoned": False,
        "noAnswerSipList": [b.name, c.name],
    }
    # A's talk time: what the caller's talk leaves after B and C refused (little, unless the
    # machine stalled; a stall of ours reads the caller's BYE late: CI saw 11 s)
    seconds = loop_stalls.seconds(1, CALLER_TALKS_MS // 1000)
    assert rec.call_duration in seconds, (rec.call_duration, loop_stalls.total_s)
