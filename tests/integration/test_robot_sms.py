"""A robot script's `sms` action is really sent, once the call has ended, on SQLite and
PostgreSQL: an AI group call (its smsAppId/senderId) and an AiVoice task (the task's app, no
sender) through the HTTP app, the dialer, the robot and the recorder, then the SMS sender over
the sandbox transport; each text is delivered exactly once with its variables filled, and its
delivery report reaches the app's SMS push URL. A recorder retry after a lost commit
acknowledgement queues no second text."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.helpers import reminder_job, signed_headers
from tests.integration.dialing import Rig, dialer_rig, wait_for
from tests.integration.receiver import Receiver
from tests.integration.test_recorder_outage import FlakySessions, claimed_calls
from tests.integration.test_robot_calls import PROPERTIES, SPEED, START, signed_app
from voxcast.api.app import create_app
from voxcast.config import Settings
from voxcast.dialer.recorder import Recorder
from voxcast.messaging.sandbox import SandboxSmsTransport
from voxcast.messaging.sender import SmsSender
from voxcast.runtime import Runtime
from voxcast.services import accounts, scripts
from voxcast.storage.models import CallRecord, SmsMessage
from voxcast.webhooks.sender import PushSender

pytestmark = pytest.mark.timeout(240)

#: thanks the callee who says yes by SMS, with two of the group call's variables
THANKS = {
    "formatVersion": 1,
    "name": "Thanks by SMS",
    "language": "en",
    "start": "ask",
    "intents": {"yes": {"keywords": ["yes", "speaking"], "examples": ["yes speaking"]}},
    "nodes": {
        "ask": {
            "prompt": {"text": "Hello, this is Example Energy. Am I speaking with ${text1}?"},
            "retries": 0,
            "branches": [
                {
                    "intent": "yes",
                    "actions": [
                        {"type": "sms", "text": "Thanks ${text1}, your code is ${text2}."},
                        {"type": "say", "prompt": {"text": "Thank you. Goodbye."}},
                        {"type": "hangup"},
                    ],
                }
            ],
            "noMatch": [{"type": "hangup"}],
            "silence": [{"type": "hangup"}],
        }
    },
}


async def sms_of(rt: Runtime, task_id: int) -> list[SmsMessage]:
    async with rt.sessions() as session:
        return list(
            (
                await session.scalars(
                    select(SmsMessage)
                    .where(SmsMessage.task_id == task_id)
                    .order_by(SmsMessage.number)
                )
            ).all()
        )


async def records_of(rt: Runtime, task_id: int) -> dict[str, CallRecord]:
    async with rt.sessions() as session:
        rows = await session.scalars(select(CallRecord).where(CallRecord.task_id == task_id))
        return {r.callee: r for r in rows}


async def recorded(rig: Rig, task_id: int, count: int) -> dict[str, CallRecord]:
    async def done() -> bool:
        return len(await records_of(rig.rt, task_id)) >= count

    await wait_for(done, timeout=150)
    return await records_of(rig.rt, task_id)


async def send_and_report(rig: Rig, receiver: Receiver, count: int) -> SandboxSmsTransport:
    """An SMS sender on the sandbox transport until `count` texts are final, then their
    reports pushed to `receiver`; the transport, to see what was submitted."""
    rt = rig.rt
    transport = SandboxSmsTransport(rt.clock)
    stop = asyncio.Event()
    runner = asyncio.create_task(SmsSender(rt, transport, idle_seconds=0.02).run(stop))
    try:

        async def settled() -> bool:
            async with rt.sessions() as session:
                statuses = await session.scalars(select(SmsMessage.status))
                return sum(s not in ("pending", "submitted") for s in statuses) >= count

        await wait_for(settled, timeout=30)
    finally:
        stop.set()
        await runner
    async with PushSender(rt, worker_id="t") as pusher:

        async def pushed() -> bool:
            await pusher.deliver_due()
            return len(receiver.received) >= count

        await wait_for(pushed, timeout=30)
    return transport


def pushes(receiver: Receiver) -> list[dict[str, Any]]:
    return [r.json() for r in receiver.received]


async def api_post(rig: Rig, creds: Any, path: str, body: dict[str, Any]) -> dict[str, Any]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(rig.rt)), base_url="http://voxcast.test"
    ) as http:
        ts = int(rig.rt.clock.now().timestamp())
        resp = await http.post(
            path,
            content=json.dumps(body),
            headers=signed_headers(creds.api_key, creds.api_secret, ts),
        )
    answer: dict[str, Any] = resp.json()
    return answer


async def test_an_ai_group_calls_script_sms_is_sent_once_as_its_sender(
    settings: Settings,
) -> None:
    async with (
        Receiver() as voice,
        Receiver() as receiver,
        dialer_rig(settings, speed=SPEED, start=START) as rig,
    ):
        creds, _ = await signed_app(rig, voice)
        async with rig.rt.sessions.begin() as session:
            script = await scripts.add_script(session, creds.account_id, THANKS, rig.rt.clock.now())
            await accounts.set_sms_push(session, creds.app_id, url=receiver.url)
        body = {
            "appId": creds.app_id,
            "taskName": "thanks",
            "scriptId": script.id,
            "maxCalls": 300,
            # the voxcast extension: the sender of the script's texts
            "smsAppId": "sms1",
            "senderId": "ACME",
            # agrees; declines (no SMS); asks to stop (no SMS)
            "numberInfoList": [
                {"calleeNumber": "8613000000010", "text1": "Ann", "text2": "4711"},
                {"calleeNumber": "8613000000012", "text1": "Bob", "text2": "4712"},
                {"calleeNumber": "8613000000070", "text1": "Cy", "text2": "4713"},
            ],
        }
        answer = await api_post(rig, creds, "/v3/voice/group/call/send/ai", body)
        assert answer["code"] == "0", answer
        task_id = int(answer["data"])
        records = await recorded(rig, task_id, 3)
        transport = await send_and_report(rig, receiver, 1)
        stored = await sms_of(rig.rt, task_id)
    assert [(m.number, m.text) for m in transport.submitted] == [
        ("8613000000010", "Thanks Ann, your code is 4711.")
    ]
    assert transport.submitted[0].sender == "ACME"
    assert [
        (m.number, m.origin, m.trigger, m.app_id, m.sms_app_id, m.sender_id, m.status)
        for m in stored
    ] == [("8613000000010", "script", "script", creds.app_id, "sms1", "ACME", "delivered")]
    sms = stored[0]
    assert sms.voice_id == records["8613000000010"].voice_id
    # the call's record names the text it queued, and none for the others
    conversation = records["8613000000010"].conversation or {}
    assert conversation["sms"] == ["Thanks Ann, your code is 4711."]
    assert conversation["sms_msg_ids"] == [sms.msg_id]
    assert "sms_msg_ids" not in (records["8613000000012"].conversation or {})
    assert (records["8613000000070"].conversation or {})["opted_out"] is True
    assert [(p["msgid"], p["mobile"], p["status"]) for p in pushes(receiver)] == [
        (sms.msg_id, "8613000000010", 0)
    ]


async def test_an_aivoice_tasks_script_sms_goes_from_the_tasks_app(settings: Settings) -> None:
    async with (
        Receiver() as voice,
        Receiver() as receiver,
        dialer_rig(settings, speed=SPEED, start=START) as rig,
    ):
        creds, script_id = await signed_app(rig, voice)
        async with rig.rt.sessions.begin() as session:
            await accounts.set_sms_push(session, creds.app_id, url=receiver.url)

        async def call(op: str, body: dict[str, Any]) -> Any:
            got = await api_post(rig, creds, f"/v3/aivoice/{op}", body)
            assert got["status"] == "0", (op, got)
            return got["data"]

        job_id = await call("taskAdd", reminder_job(creds.app_id, script_id))
        # the example script: agrees and names a day (the payment SMS); a wrong number
        numbers = ["8613000000010", "8613000000012"]
        people = [{"name": "Jack", "phoneNumber": n, "properties": PROPERTIES} for n in numbers]
        await call(
            "importCustomer", {"appId": creds.app_id, "jobId": job_id, "customerPersons": people}
        )
        await call("taskStart", {"appId": creds.app_id, "jobId": job_id})
        records = await recorded(rig, int(job_id), 2)
        transport = await send_and_report(rig, receiver, 1)
        stored = await sms_of(rig.rt, int(job_id))
    text = "Dear Jack, thank you. Amount due: 30 euros. Pay at example.com/pay. Example Energy"
    assert [(m.number, m.text, m.sender) for m in transport.submitted] == [
        ("8613000000010", text, "")
    ]
    assert [
        (m.number, m.origin, m.app_id, m.sms_app_id, m.sender_id, m.status) for m in stored
    ] == [("8613000000010", "script", creds.app_id, None, None, "delivered")]
    assert (records["8613000000010"].conversation or {})["sms_msg_ids"] == [stored[0].msg_id]
    assert [p["msgid"] for p in pushes(receiver)] == [stored[0].msg_id]


async def test_a_retried_write_queues_the_script_sms_once(rt: Runtime) -> None:
    """The call record and its texts commit together: a retry after a commit whose
    acknowledgement was lost skips both."""
    _account_id, task_id, results = await claimed_calls(rt, "w1", ["8613000000010"])
    only = results[0]
    only.facts.conversation = {"sms": ["Hello, Ann", "Hello, Ann"], "opted_out": False}
    flaky = FlakySessions(rt.sessions)
    flaky.down, flaky.lose_ack = False, 1
    recorder = Recorder(dataclasses.replace(rt, sessions=flaky), "w1")  # type: ignore[arg-type]
    stop = asyncio.Event()
    runner = asyncio.create_task(recorder.run(stop))
    try:
        recorder.submit(only)

        async def written() -> bool:
            return not recorder.pending

        await wait_for(written, timeout=15)
    finally:
        stop.set()
        await runner
    assert flaky.failures == 1
    stored = await sms_of(rt, task_id)
    # the same text twice in one call (a node entered again) is one SMS
    assert [(m.number, m.content, m.origin) for m in stored] == [
        ("8613000000010", "Hello, Ann", "script")
    ]
