"""baresip as a call-center agent's softphone: it registers with digest at voxcast's registrar
and goes idle, is rung for a transferred call and answers at once, audio is relayed both ways
(SIPp as the callee echoes what it gets, so baresip hears its own tone back), and when baresip
quits it unregisters and the agent goes offline. On SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from tests.integration.test_sip_calls import sip_rig
from tests.integration.test_sip_inbound import agents_for
from tests.integration.test_sip_transfer import run_task, the_record
from tests.interop.conftest import StartBaresip
from tests.interop.peers import AgentAccount, Baresip, wait_for, wav_stats
from tests.sipp.runner import Sipp, SippResult
from voxcast.config import Settings
from voxcast.runtime import Runtime
from voxcast.services import agents
from voxcast.storage.models import Agent
from voxcast.telephony.callcenter.agent_registrar import AgentRegistrar

pytestmark = pytest.mark.timeout(60)

#: the callee hangs up this long after answering: the short prompt, the ring of the agent
#: and a few seconds of talk
CALLEE_HOLDS_MS = 5000
#: baresip's tone, relayed to SIPp, echoed and relayed back: well above silence
TONE_RMS = 2000


async def seat_row(rt: Runtime, key_id: int) -> Agent:
    async with rt.sessions() as session:
        return (await session.execute(select(Agent).where(Agent.id == key_id))).scalar_one()


async def finished(sipp: Sipp) -> SippResult:
    try:
        return await sipp.wait(15)
    finally:
        sipp.cleanup()


def status_is(rt: Runtime, key_id: int, status: int) -> Any:
    async def check() -> bool:
        return (await seat_row(rt, key_id)).status == status

    return check


async def test_baresip_registers_takes_a_transfer_and_unregisters(
    settings: Settings, baresip: StartBaresip
) -> None:
    phone: Baresip | None = None
    async with sip_rig(settings) as rig:
        registrar = AgentRegistrar(rig.rt, "127.0.0.1", 0)
        await registrar.start()
        rig.directory.agents_endpoint = registrar.endpoint  # as the worker does
        callee = await Sipp.start("answer_then_hangup.xml", duration_ms=CALLEE_HOLDS_MS)
        try:
            await rig.route_to(callee)
            group_id, [seat] = await agents_for(
                rig.rt, rig.creds.account_id, rig.creds.app_id, [None]
            )
            phone = await baresip(AgentAccount(registrar.address, seat.name, seat.password))
            # signed in: the digest REGISTER went through and the agent is idle
            await wait_for(
                status_is(rig.rt, seat.key_id, agents.AgentStatus.IDLE), 10,
                f"agent {seat.name} idle", phone,
            )  # fmt: skip
            registered = await seat_row(rig.rt, seat.key_id)
            assert registered.contact is not None, phone.log()
            assert f"@127.0.0.1:{phone.port}" in registered.contact, (
                registered.contact,
                phone.log(),
            )
            task_id = await run_task(rig.rt, rig.creds, group_id, "8613000000000")
            rec = await the_record(rig.rt, task_id)
            [call] = rig.calls()
            far = await finished(callee)
            after_call = (await seat_row(rig.rt, seat.key_id)).status
            # quitting unregisters: the agent goes offline
            exit_code = await phone.stop()
            await wait_for(
                status_is(rig.rt, seat.key_id, agents.AgentStatus.OFFLINE), 10,
                f"agent {seat.name} offline", phone,
            )  # fmt: skip
            left = await seat_row(rig.rt, seat.key_id)
        finally:
            callee.cleanup()
            await registrar.close()
    context = f"{far}\n{phone.log()}"
    assert far.ok, context  # our 200 to the callee's BYE arrived
    assert rec.agent_name == seat.name, context
    assert (rec.hangup_reason, rec.hanging_direction) == (3, 0), context  # callee hung up
    assert after_call == agents.AgentStatus.IDLE, context
    # relayed both ways: the agent's voice to the callee and the callee's (SIPp's echo) back
    assert call.stats.to_callee > 50 and call.stats.to_agent > 50, (call.stats, context)
    [heard] = phone.received()
    heard_stats = wav_stats(heard)
    assert heard_stats.seconds > 1.0 and heard_stats.rms > TONE_RMS, (heard_stats, context)
    assert exit_code == 0, context
    assert left.contact is None, context
