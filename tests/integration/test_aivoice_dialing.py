"""An AiVoice task run end to end on the sandbox carrier (fast clock), through the HTTP app and
the dialer, on SQLite and PostgreSQL: taskAdd, importCustomer, taskStart; every customer is
called once, the task completes, and recordQuery lists each call with its resultStatus. A task
with redial on calls a number again while its result is in redialCondition, each attempt
pushed and listed with the attempts it counts."""

from __future__ import annotations

import asyncio
import itertools
import json
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest

from tests.helpers import aivoice_caller, reminder_job
from tests.integration.dialing import dialer_rig, wait_for
from tests.integration.receiver import Receiver
from voxcast.api.app import create_app
from voxcast.config import Settings
from voxcast.services import accounts, rates, scripts
from voxcast.webhooks.sender import PushSender

#: the sandbox's outcome by last digit (docs/sandbox.md) and the resultStatus it is
EXPECTED = {
    "8613000000010": ("ANSWERED", True),
    "8613000000014": ("NO_ANSWER", False),
    "8613000000015": ("BUSY", False),
    "8613000000016": ("REFUSED", False),
    "8613000000017": ("VACANT_NUMBER", False),
    "8613000000018": ("CAN_NOT_CONNECT", False),
}
START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


async def test_a_started_task_calls_every_customer_and_records_each_call(
    settings: Settings,
) -> None:
    async with dialer_rig(settings, speed=100, start=START) as rig:
        rt = rig.rt
        async with rt.sessions.begin() as session:
            creds = await accounts.create_account(
                session, rt.secrets, rt.clock.now(), name="robot", balance=Decimal(100)
            )
            await rates.set_rate(session, creds.account_id, "", Decimal("0.02"))
            script = await scripts.add_script(
                session, creds.account_id, scripts.example_document(), rt.clock.now()
            )
            script_id = script.id
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(rt)), base_url="http://voxcast.test"
        ) as http:
            call = aivoice_caller(http, rt.clock, creds.api_key, creds.api_secret, "AiVoice")

            job_id = await call("taskAdd", reminder_job(creds.app_id, script_id))
            people = [
                {
                    "name": f"C{i}",
                    "phoneNumber": number,
                    "properties": {"name": f"C{i}", "amount": "30 euros", "dueDate": "May 5"},
                }
                for i, number in enumerate(EXPECTED)
            ]
            assert (
                await call(
                    "importCustomer",
                    {"appId": creds.app_id, "jobId": job_id, "customerPersons": people},
                )
                == []
            )
            listing = {"current": 1, "size": 10, "params": {"appId": creds.app_id}}
            assert (await call("taskList", listing))["records"][0]["status"] == "NOT_STARTED"
            # a stopped task is not dialed: a minute of sandbox time passes without a call
            await asyncio.sleep(0.6)
            pending = {"current": 1, "size": 20, "params": {"appId": creds.app_id, "jobId": job_id}}
            waiting = await call("taskNoCall", pending)
            assert [r["status"] for r in waiting["records"]] == ["CAN_NOT_START"] * 6
            await call("taskStart", {"appId": creds.app_id, "jobId": job_id})

            async def completed() -> bool:
                task = (await call("taskList", listing))["records"][0]
                return bool(task["status"] == "COMPLETED")

            await wait_for(completed, timeout=120)
            task = (await call("taskList", listing))["records"][0]
            assert (task["taskTotal"], task["taskCompleted"]) == (6, 1)
            assert (await call("taskNoCall", pending))["total"] == 0
            query = {
                "current": 1,
                "size": 100,
                "params": {
                    "appId": creds.app_id,
                    "startTime": "2026-03-02 00:00:00",
                    "endTime": "2026-03-02 23:59:59",
                },
            }
            page = await call("recordQuery", query)
            assert (page["total"], page["pages"]) == (6, 1)
            records = {r["calledPhoneNumber"]: r for r in page["records"]}
            assert {n: r["resultStatus"] for n, r in records.items()} == {
                n: status for n, (status, _) in EXPECTED.items()
            }
            for i, (number, (_, answered)) in enumerate(EXPECTED.items()):
                rec = records[number]
                assert (rec["callJobId"], rec["dialogFlowId"], rec["tenantPhoneNumberId"]) == (
                    str(job_id),
                    str(script_id),
                    "1",
                )
                assert rec["customerPersonName"] == f"C{i}" and rec["robotCount"] == 2
                assert json.loads(rec["properties"]) == people[i]["properties"]
                assert (
                    rec["startTime"].startswith("2026-03-02 10:")
                    and rec["endTime"] >= rec["startTime"]
                )
                assert (int(rec["chatDuration"]) > 0) is answered
                assert rec["keyId"] == rec["callId"] == rec["callRecordId"]
                assert rec["redialTimes"] == "0"
                assert rec["fullAudioUrl"] is None
                # the robot talked with the one who answered (at this speed its recognizer's
                # real time is long on the call's clock: what it made of it, test_robot_calls)
                talked = ("hangupBy", "chatRound")
                assert all(rec[f] is not None for f in talked) is answered, {
                    f: rec[f] for f in talked
                }
                assert all(rec[f] is None for f in talked) is not answered, rec
            # a window that ends before the calls holds none of them
            query["params"]["endTime"] = "2026-03-02 09:59:59"
            assert (await call("recordQuery", query))["total"] == 0


#: the sandbox's no-answer and busy numbers (docs/sandbox.md)
NO_ANSWER, BUSY = "8613000000014", "8613000000015"
#: a minute of the task's clock is 3 s: a redial's wait is long enough to see it pending
REDIAL_SPEED = 20


@pytest.mark.timeout(150)
async def test_a_redialing_task_calls_again_only_the_results_it_names(settings: Settings) -> None:
    async with Receiver() as receiver, dialer_rig(settings, speed=REDIAL_SPEED, start=START) as rig:
        rt = rig.rt
        async with rt.sessions.begin() as session:
            creds = await accounts.create_account(
                session, rt.secrets, rt.clock.now(), name="robot", balance=Decimal(100)
            )
            await rates.set_rate(session, creds.account_id, "", Decimal("0.02"))
            script = await scripts.add_script(
                session, creds.account_id, scripts.example_document(), rt.clock.now()
            )
            await accounts.set_push(
                session, rt.secrets, creds.app_id, url=receiver.url, batch=False, secret=None
            )
        async with (
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=create_app(rt)), base_url="http://voxcast.test"
            ) as http,
            PushSender(rt, worker_id="t") as sender,
        ):
            call = aivoice_caller(http, rt.clock, creds.api_key, creds.api_secret)

            async def pushed(count: int) -> None:
                async def arrived() -> bool:
                    await sender.deliver_due()
                    return len(receiver.received) >= count

                await wait_for(arrived, timeout=60)

            job_id = await call(
                "taskAdd",
                {
                    "appId": creds.app_id,
                    "name": "reminders",
                    "dialogFlowId": script.id,
                    "mode": "MANUAL",
                    "dailyStartDateTime": "09:00",
                    "dailyEndDateTime": "20:00",
                    "robotCount": 2,
                    "jobPhoneNumberId": 1,
                    "redial": True,
                    "redialCondition": ["NO_ANSWER"],
                    "redialInterval": 1,
                    "redialTimes": 2,
                },
            )
            props = {"name": "C", "amount": "30 euros", "dueDate": "May 5"}
            people = [
                {"name": "C", "phoneNumber": n, "properties": props} for n in (NO_ANSWER, BUSY)
            ]
            imported = {"appId": creds.app_id, "jobId": job_id, "customerPersons": people}
            assert await call("importCustomer", imported) == []
            await call("taskStart", {"appId": creds.app_id, "jobId": job_id})
            # both first calls are over: the busy number is done, the unanswered one waits for
            # its redial (a minute of sandbox time, 0.6 s: on a loaded machine the pushes can
            # take longer, and the redial is then already under way)
            await pushed(2)
            pending = {"current": 1, "size": 20, "params": {"appId": creds.app_id, "jobId": job_id}}
            waiting = (await call("taskNoCall", pending))["records"]
            assert [r["calledPhoneNumber"] for r in waiting] == [NO_ANSWER]
            assert waiting[0]["status"] in ("CAN_START", "IN_PROCESS")
            listing = {"current": 1, "size": 10, "params": {"appId": creds.app_id}}

            async def completed() -> bool:
                task = (await call("taskList", listing))["records"][0]
                return bool(task["status"] == "COMPLETED")

            await wait_for(completed, timeout=90)
            await pushed(4)
            await asyncio.sleep(0.5)  # a fifth push (a call too many) would have arrived by now
            await sender.deliver_due()
            assert (await call("taskNoCall", pending))["total"] == 0
            query = {
                "current": 1,
                "size": 100,
                "params": {
                    "appId": creds.app_id,
                    "startTime": "2026-03-02 00:00:00",
                    "endTime": "2026-03-02 23:59:59",
                },
            }
            page = await call("recordQuery", query)
    pushes = [r.json() for r in receiver.received]
    assert len(pushes) == 4, pushes
    busy = [p for p in pushes if p["calledPhoneNumber"] == BUSY]
    assert [(p["resultStatus"], p["callCount"], p["redialTimes"]) for p in busy] == [("BUSY", 1, 0)]
    again = sorted(
        (p for p in pushes if p["calledPhoneNumber"] == NO_ANSWER), key=lambda p: p["startTime"]
    )
    assert [(p["resultStatus"], p["callCount"], p["redialTimes"]) for p in again] == [
        ("NO_ANSWER", 1, 0),
        ("NO_ANSWER", 2, 1),
        ("NO_ANSWER", 3, 2),
    ]
    assert len({p["callId"] for p in pushes}) == 4  # each call its own callId
    # each redial waited its redialInterval (a minute of the task's clock) after the last call
    for before, after in itertools.pairwise(again):
        assert after["startTime"] - before["endTime"] >= 60
    # recordQuery lists every call, each with the redials before it
    assert page["total"] == 4
    rows = sorted(page["records"], key=lambda r: (r["calledPhoneNumber"], r["startTime"]))
    assert [(r["calledPhoneNumber"], r["resultStatus"], r["redialTimes"]) for r in rows] == [
        (NO_ANSWER, "NO_ANSWER", "0"),
        (NO_ANSWER, "NO_ANSWER", "1"),
        (NO_ANSWER, "NO_ANSWER", "2"),
        (BUSY, "BUSY", "0"),
    ]
