"""voice/sendSip over real SIP, end to end: a SIPp softphone registers at voxcast's registrar
with its seat's credentials, is rung by sendSip, answers; the callee (SIPp on a trunk) is then
dialed with displayNum as caller id and answers; RTP is relayed both ways; the callee hangs
up, the phone gets our BYE; the record (recordSip) and the three pushes say so. On SQLite and
PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from sqlalchemy import select, update

from tests.integration.receiver import Receiver
from tests.integration.test_sip_calls import sip_rig
from tests.loop_stalls import LoopStalls
from tests.sipp.runner import Sipp, free_port
from voxcast.api.app import create_app
from voxcast.client import AsyncVoxcastClient
from voxcast.config import Settings
from voxcast.runtime import Runtime
from voxcast.services import agents
from voxcast.storage.models import Agent, App, CallRecord
from voxcast.telephony.callcenter.agent_registrar import AgentRegistrar
from voxcast.webhooks.sender import PushSender

CALLEE = "8613500000000"
DISPLAY = "1008122211"


async def written(rt: Runtime, voice_id: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        async with rt.sessions() as session:
            if await session.get(CallRecord, voice_id) is not None:
                return
        await asyncio.sleep(0.05)
    raise AssertionError(f"no record of {voice_id} within {timeout} s")


async def seat_status(rt: Runtime, key_id: int) -> int:
    async with rt.sessions() as session:
        return int(await session.scalar(select(Agent.status).where(Agent.id == key_id)) or 0)


async def finished(sipp: Sipp) -> Any:
    try:
        return await sipp.wait(15)
    finally:
        sipp.cleanup()


async def test_send_sip_rings_the_registered_phone_then_bridges_the_callee(
    settings: Settings, loop_stalls: LoopStalls
) -> None:
    async with Receiver() as receiver, sip_rig(settings) as rig:
        rt, creds = rig.rt, rig.creds
        registrar = AgentRegistrar(rt, "127.0.0.1", 0)
        await registrar.start()
        rig.directory.agents_endpoint = registrar.endpoint  # as the worker does
        client = AsyncVoxcastClient(
            "http://voxcast.test",
            creds.api_key,
            creds.api_secret,
            transport=httpx.ASGITransport(app=create_app(rt)),
        )
        try:
            # the callee answers and hangs up 2.5 s after our ACK
            callee = await Sipp.start("answer_then_hangup.xml", duration_ms=2500, trace_msg=True)
            await rig.route_to(callee)
            async with rt.sessions.begin() as session:
                await session.execute(
                    update(App)
                    .where(App.app_id == creds.app_id)
                    .values(
                        push_url=f"{receiver.url}/cdr",
                        ring_push_url=f"{receiver.url}/ring",
                        cc_push_url=f"{receiver.url}/cc",
                    )
                )
                group = await agents.add_group(
                    session, creds.account_id, creds.app_id, "desk-phones", rt.clock.now()
                )
                [seat] = await agents.add_agents(
                    session, rt.secrets, creds.account_id, group.id, 1, None, None, rt.clock.now()
                )
                await session.execute(
                    update(Agent).where(Agent.id == seat.key_id).values(pet_name="front-desk")
                )
            # the softphone signs in with its seat's account and password
            phone_port = free_port()
            signing_in = await Sipp.start(
                "uac/agent_register_only.xml",
                remote=registrar.address,
                port=phone_port,
                rtp_echo=False,
                extra_args=("-s", seat.name, "-au", seat.name, "-ap", seat.password),
            )
            signed_in = await finished(signing_in)
            assert signed_in.ok, signed_in
            assert await seat_status(rt, seat.key_id) == agents.AgentStatus.IDLE
            # it answers and talks (a G.711 recording) until the call is over
            phone = await Sipp.start("phone_answer_hold.xml", port=phone_port, trace_msg=True)
            env = await client.send_sip(
                callee=CALLEE,
                displayNum=DISPLAY,
                account=seat.name,
                appId=creds.app_id,
                calledInfo="order 42",
            )
            assert env.code == "0", env.raw
            voice_id = env.data
            busy = await seat_status(rt, seat.key_id)
            await written(rt, voice_id)
            got = (await client.record_sip(voice_id)).data
            [call] = rig.calls()
            async with PushSender(rt, worker_id="t") as sender:
                await sender.deliver_due()
            phone_far, callee_far = await finished(phone), await finished(callee)
            after = await seat_status(rt, seat.key_id)
        finally:
            await client.aclose()
            await registrar.close()
    assert phone_far.ok and callee_far.ok, (phone_far, callee_far)
    assert busy == agents.AgentStatus.BUSY and after == agents.AgentStatus.IDLE
    # the phone was rung first, showing the number it is about to call; the callee then saw
    # displayNum as the caller
    assert f"From: <sip:{CALLEE}@" in phone_far.messages.split("INVITE sip:", 1)[1]
    assert f"From: <sip:{DISPLAY}@" in callee_far.messages.split("INVITE sip:", 1)[1]
    # RTP both ways through the bridge: the phone's recording to the callee, and the callee's
    # side (SIPp's echo of it) back to the phone
    assert call.stats.to_callee > 50 and call.stats.to_agent > 50
    # the callee hung up 2.5 s after our ACK of its answer, which follows the answer at once:
    # a talk of 2.5 s and a few ms, 3 s on the record (more by a stall of ours, which reads
    # the BYE late), billed as one 60 s block
    assert got["answerTime"] is not None and got["hangupTime"] is not None
    assert (got["callee"], got["displayNum"], got["type"]) == (CALLEE, DISPLAY, 3)
    seconds = loop_stalls.seconds(3, 3)
    assert got["callDuration"] in seconds, (got["callDuration"], loop_stalls.total_s)
    assert (got["chargedDuration"], got["cost"]) == (60, "0.020000")
    assert (got["terminationCode"], got["terminationReason"]) == ("200", "success")
    assert (got["sipGroupName"], got["phoneName"], got["calledInfo"]) == (
        "desk-phones",
        "front-desk",
        "order 42",
    )
    pushed = {r.path: r.json() for r in receiver.received}
    assert set(pushed) == {"/push/ring", "/push/cdr", "/push/cc"}
    [ringing] = pushed["/push/ring"]
    assert (ringing["type"], ringing["callId"], ringing["sipAccount"], ringing["called"]) == (
        3,
        voice_id,
        seat.name,
        CALLEE,
    )
    cdr = pushed["/push/cdr"]
    assert (cdr["voiceId"], cdr["type"], cdr["callDuration"], cdr["cost"]) == (
        voice_id,
        3,
        got["callDuration"],
        "0.020000",
    )
    cc = pushed["/push/cc"]
    # the callee hung up (hangingDirection 0), after an answered outgoing call (hangupReason 1)
    assert (cc["callId"], cc["callType"], cc["agentName"], cc["hangingDirection"]) == (
        voice_id,
        3,
        seat.name,
        0,
    )
    assert (cc["hangupReason"], cc["callDuration"]) == (1, got["callDuration"])
