"""An AiVoice task run end to end on the sandbox carrier (fast clock), through the HTTP app and
the dialer, on SQLite and PostgreSQL: taskAdd, importCustomer, taskStart; every customer is
called once, the task completes, and recordQuery lists each call with its resultStatus."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx

from tests.helpers import signed_headers
from tests.integration.dialing import dialer_rig, wait_for
from voxcast.api.app import create_app
from voxcast.config import Settings
from voxcast.services import accounts, rates, scripts

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

            async def call(op: str, body: dict[str, Any]) -> Any:
                # signed on the server's fast clock, as the SDK would be on the server's time
                ts = int(rt.clock.now().timestamp())
                headers = signed_headers(creds.api_key, creds.api_secret, ts)
                resp = await http.post(
                    f"/v3/AiVoice/{op}", content=json.dumps(body), headers=headers
                )
                got = resp.json()
                assert got["status"] == "0", (op, got)
                return got["data"]

            job_id = await call(
                "taskAdd",
                {
                    "appId": creds.app_id,
                    "name": "reminders",
                    "dialogFlowId": script_id,
                    "mode": "MANUAL",
                    "dailyStartDateTime": "09:00",
                    "dailyEndDateTime": "20:00",
                    "robotCount": 2,
                    "jobPhoneNumberId": 1,
                    "redial": False,
                },
            )
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
