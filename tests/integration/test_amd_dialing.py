"""Answering-machine detection through the real API and a real sandbox dialer, on SQLite and
PostgreSQL: a task with amd=1 gets each answered call's verdict and cause on its record and in
the record's JSON (amdResult, amdCause); amdAction 0 hangs up on the machine at the verdict,
1 leaves the message after its beep; a task without amd has no such fields."""

from __future__ import annotations

from tests.conftest import Tenant, add_script
from tests.integration.dialing import records_of, wait_for, wait_status
from tests.integration.test_dnc_dialing import running, send
from voxcast.config import Settings
from voxcast.domain.enums import TaskStatus
from voxcast.services.records import record_to_push_json
from voxcast.telephony.sandbox import MACHINE_DIGIT

MACHINE = f"86130000000{MACHINE_DIGIT}0"  # second-to-last digit 9: an answering machine
PERSON = "8613000000000"


async def test_amd_hangs_up_on_machines_and_records_the_verdict(settings: Settings) -> None:
    async with running(settings) as s:
        task_id = await send(s, "amd", [MACHINE, PERSON], amd=1, amdAction=0)
        plain = await send(s, "no amd", [MACHINE])
        for task in (task_id, plain):
            await wait_status(s.rig.rt, task, TaskStatus.FINISHED, timeout=60)
        await s.rig.dialer.recorder.flushed()
        person, machine = await records_of(s.rig.rt, task_id)  # by number
        [undetected] = await records_of(s.rig.rt, plain)
        shown = (await s.client.record(machine.voice_id)).data
    assert (machine.callee, machine.amd_result) == (MACHINE, "MACHINE")
    assert machine.amd_cause is not None
    assert machine.amd_cause.startswith(("MAXWORDS", "LONGGREETING"))
    assert (person.amd_result, person.amd_cause) == ("HUMAN", "HUMAN-800-800")
    # hung up at the verdict (a few seconds in), the person heard the whole prompt
    assert machine.termination_code == "200" and machine.call_duration <= 4
    assert person.call_duration > machine.call_duration
    # the extension fields, next to the vendor's unchanged ones
    assert (shown["amdResult"], shown["amdCause"]) == ("MACHINE", machine.amd_cause)
    pushed = record_to_push_json(machine)
    assert (pushed["amdResult"], pushed["amdCause"]) == ("MACHINE", machine.amd_cause)
    # no detection asked for: the number behaves as its last digit (0: listens), no fields
    assert undetected.amd_result is None and undetected.call_duration > machine.call_duration
    assert "amdResult" not in record_to_push_json(undetected)


async def test_voicemail_drop_leaves_the_message_after_the_beep(settings: Settings) -> None:
    async with running(settings) as s:
        task_id = await send(s, "drop", [MACHINE], amd=1, amdAction=1)
        await wait_status(s.rig.rt, task_id, TaskStatus.FINISHED, timeout=60)
        await s.rig.dialer.recorder.flushed()
        [machine] = await records_of(s.rig.rt, task_id)
    assert machine.amd_result == "MACHINE"
    # the greeting (about 6 s) and its beep, then the message once (a few seconds)
    assert machine.call_duration >= 8


async def test_voice_otp_and_ai_tasks_take_amd_too(settings: Settings) -> None:
    async with running(settings) as s:
        code = await s.client.send_code(
            appId=s.creds.app_id, callee=MACHINE, text="Your code is 1234", language="EN",
            amd=1,
        )  # fmt: skip
        assert code.code == "0", code.reason
        await add_script(s.rig.rt, Tenant(s.creds, s.client), 7)
        robot = await s.client.send_group_call_ai(
            appId=s.creds.app_id, taskName="ai amd", scriptId=7, amd=1,
            numberInfoList=[{"calleeNumber": MACHINE}],
        )  # fmt: skip
        assert robot.code == "0", robot.reason

        async def code_recorded() -> bool:
            return (await s.client.record(str(code.data))).code == "0"

        await wait_for(code_recorded)
        await wait_status(s.rig.rt, int(robot.data), TaskStatus.FINISHED, timeout=60)
        await s.rig.dialer.recorder.flushed()
        otp = (await s.client.record(str(code.data))).data
        [ai] = await records_of(s.rig.rt, int(robot.data))
    assert (otp["amdResult"], ai.amd_result) == ("MACHINE", "MACHINE")
