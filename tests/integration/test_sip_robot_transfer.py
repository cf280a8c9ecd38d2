"""A robot's script handing the call to an agent over SIP, on SQLite and PostgreSQL: SIPp as the
callee says "yes" (the recognizer hears it), the robot says its line and hands over; the
agent's softphone (SIPp, signed in through voxcast's registrar) is rung, answers, talks and
hangs up. RTP is bridged both ways; the call record says ANSWERED, hung up by the agent, and
the call-center record names the agent, as a group call's transfer writes it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.integration.dialing import insert_task, records_of, wait_status
from tests.integration.test_sip_calls import sip_rig
from tests.integration.test_sip_robot import (
    QUESTION,
    add_script,
    callee_pcap,
    script_document,
    seconds_of,
    spoken,
)
from tests.integration.test_sip_transfer import (
    agents_for,
    done,
    registrar_of,
    seat_status,
    the_record,
)
from tests.sipp.runner import Sipp
from voxcast.config import Settings
from voxcast.domain.enums import TaskKind, TaskStatus
from voxcast.services import agents

pytestmark = pytest.mark.timeout(180)

PUTTING_THROUGH = "One moment, please."


async def test_the_robot_hands_the_callee_to_an_agent_who_answers(
    settings: Settings, tmp_path: Path
) -> None:
    question_s = seconds_of(await asyncio.to_thread(spoken, QUESTION))
    pcap = await asyncio.to_thread(callee_pcap, tmp_path, "Yes, speaking.", question_s + 4.0)
    async with sip_rig(settings) as rig, registrar_of(rig) as registrar:
        group_id, [seat], [phone] = await agents_for(
            rig.rt,
            registrar,
            rig.creds.account_id,
            rig.creds.app_id,
            [("agent_answer.xml", 2000)],
            timeoutWaitSec=30,
        )
        document = script_document()
        identify = document["nodes"]["identify"]
        identify["branches"][0]["actions"] = [
            {"type": "say", "prompt": {"text": PUTTING_THROUGH}},
            {"type": "intentLevel", "level": "C"},
            {"type": "transfer", "agentGroupId": group_id},
        ]
        script_id = await add_script(rig, document)
        callee = await Sipp.start("answer_talk.xml", keys={"talk_pcap": str(pcap)}, timeout_s=90)
        await rig.route_to(callee)
        task_id = await insert_task(
            rig.rt,
            rig.creds.account_id,
            rig.creds.app_id,
            ["8613000000000"],
            kind=TaskKind.AI,
            script_id=script_id,
            max_calls=120,
        )
        await wait_status(rig.rt, task_id, TaskStatus.FINISHED, timeout=120)
        [record] = await records_of(rig.rt, task_id)
        cc = await the_record(rig.rt, task_id)
        [call] = rig.calls()
        status = await seat_status(rig.rt, seat.key_id)
        callee_far, agent_far = await done(callee, phone)
    assert callee_far.ok and agent_far.ok, (callee_far, agent_far)
    conversation = record.conversation or {}
    assert conversation["result_status"] == "ANSWERED", conversation
    assert conversation["hangup_by"] == "agent" and conversation["intent_level"] == "C"
    lines = [(t["speaker"], t["text"]) for t in conversation["turns"]]
    assert lines[0] == ("ROBOT", QUESTION) and lines[-1] == ("ROBOT", PUTTING_THROUGH), lines
    assert (cc.group_id, cc.agent_name) == (group_id, seat.name)
    assert (cc.hangup_reason, cc.hanging_direction) == (3, 1)  # transferred, the agent hung up
    assert cc.call_duration in (2, 3)
    # bridged both ways: the agent's voice to the callee, the callee's side (echo) back
    assert call.stats.to_callee > 50 and call.stats.to_agent > 50
    assert status == agents.AgentStatus.IDLE
