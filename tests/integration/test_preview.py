"""Call-center preview tasks from uploaded spreadsheets, through the API and the dialer
(sandbox, virtual agents), on SQLite and PostgreSQL: upload with a per-row report, submit,
the calls handed to agents at once, query with the preview statuses, edit and resend, and
the vendor's codes (-11, -21, -22, -24, -32, -39, -41, -42, -43, -74)."""

from __future__ import annotations

import asyncio
import base64
import io
import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import openpyxl
from sqlalchemy import select

from tests.conftest import Tenant, add_seat_group
from tests.helpers import shared_strings_bomb
from tests.integration.dialing import dialer_rig, wait_for
from voxcast.api.app import create_app
from voxcast.client import AsyncVoxcastClient
from voxcast.clock import FixedClock
from voxcast.config import Settings
from voxcast.services import accounts, agents, rates
from voxcast.storage.models import CcRecord, PreviewFile


def workbook(rows: list[list[Any]]) -> str:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return base64.b64encode(out.getvalue()).decode()


LIST = [
    ["Name", "Phone", "Plan"],
    ["Ann", 8613000000000.0, "gold"],
    [None, None, None],
    ["Bad", "12ab", "x"],
    ["Bo", "+86 130 0000 0010", "silver"],
    ["Ann again", "8613000000000", "gold"],
]


async def test_upload_submit_dial_query_and_resend(settings: Settings) -> None:
    async with dialer_rig(settings, speed=50) as rig:
        rt = rig.rt
        now = rt.clock.now()
        async with rt.sessions.begin() as session:
            creds = await accounts.create_account(
                session, rt.secrets, now, name="cc", balance=Decimal(100)
            )
            await rates.set_rate(session, creds.account_id, "", Decimal("0.02"))
            group = await agents.add_group(session, creds.account_id, creds.app_id, "desk", now)
            # a long wait: at 50x, database latency under load counts in sandbox seconds
            await agents.set_basic(session, creds.account_id, group.id, {"timeoutWaitSec": 600})
            await agents.add_agents(
                session, rt.secrets, creds.account_id, group.id, 2, None, None, now
            )
        client = AsyncVoxcastClient(
            "http://voxcast.test", creds.api_key, creds.api_secret,
            transport=httpx.ASGITransport(app=create_app(rt)),
            # signed on the server's 50x clock: on the wall clock's the signature expires
            # (-16) once the test has run six seconds
            timestamp=lambda: int(rt.clock.now().timestamp()),
        )  # fmt: skip
        up = await client.upload_callee_list("Template_voice_numFiles_cn.xlsx", workbook(LIST))
        assert up.code == "0", up.reason
        assert up.data["numberTotalCount"] == 2 and up.data["numberSameCount"] == 1
        assert up.data["errors"] == [
            {
                "row": 4,
                "column": "Phone",
                "reason": "not a phone number (7-15 digits expected): '12ab'",
            }
        ]
        sent = await client.submit_preview_task(
            filePath=up.data["filePath"], fileName="Template_voice_numFiles_cn.xlsx", type=1,
            voiceGroupId=[group.id], appId=creds.app_id, calloutRate=1, remark="follow-up",
        )  # fmt: skip
        assert sent.code == "0", sent.reason
        task_id = sent.data

        async def finished() -> bool:
            found = await client.query_preview_tasks(taskId=task_id)
            assert found.code == "0", found.reason
            return bool(found.data["records"]) and found.data["records"][0]["taskStatus"] == 12

        await wait_for(finished, timeout=60)
        [row] = (await client.query_preview_tasks(taskId=task_id)).data["records"]
        assert row["totalCount"] == 2 and row["remainCount"] == 0 and row["finishFlag"] == 1
        assert row["voiceGroupId"] == [group.id] and row["seatGroupName"] == "desk"
        assert row["taskType"] == 1 and row["remark"] == "follow-up"
        async with rt.sessions() as session:
            recs = list(
                (await session.scalars(select(CcRecord).where(CcRecord.task_id == task_id))).all()
            )
        assert sorted(r.called for r in recs) == ["8613000000000", "8613000000010"]
        assert all(r.hangup_reason == 3 and r.agent_name for r in recs)  # straight to agents
        # edit, then resend all: the numbers are called again
        assert (await client.edit_preview_task(taskId=task_id, calloutRate=3)).code == "0"
        again = await client.resend_preview_task(taskId=task_id, resendType=3, type=1)
        assert again.code == "0", again.reason
        await wait_for(finished, timeout=60)
        async with rt.sessions() as session:
            count = len(
                (await session.scalars(select(CcRecord).where(CcRecord.task_id == task_id))).all()
            )
        assert count == 4
        # resend of a task still running is -41; nothing to resend is -42
        assert (
            await client.resend_preview_task(taskId=task_id, resendType=2, type=1)
        ).code == "-42"
        await client.aclose()


async def test_resending_a_task_that_has_not_ended_is_minus_41(tenant: Tenant, rt: Any) -> None:
    await add_seat_group(rt, tenant, 5000531)
    up = await tenant.client.upload_callee_list("list.xlsx", workbook(LIST))
    sent = await tenant.client.submit_preview_task(
        filePath=up.data["filePath"], fileName="list.xlsx", type=1, voiceGroupId=[5000531]
    )
    assert sent.code == "0", sent.reason
    env = await tenant.client.resend_preview_task(taskId=sent.data, resendType=3, type=1)
    assert env.code == "-41" and "completed or canceled" in env.reason


async def test_upload_and_submit_errors_have_the_vendors_codes(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    c = tenant.client
    bad_header = workbook([["Phone", "phone"], ["8613000000000", "x"]])
    assert (await c.upload_callee_list("dup.xlsx", bad_header)).code == "-43"
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"0" * 64).decode()
    assert (await c.upload_callee_list("fake.xlsx", png)).code == "-39"
    assert (await c.upload_callee_list("list.xlsx", "not base64!")).code == "-21"
    assert (await c.upload_callee_list("abc", workbook(LIST))).code == "-22"  # 5-32 chars
    env = await c.submit_preview_task(
        filePath="/cc/upload/nope.xlsx", fileName="x.xlsx", type=1, voiceGroupId=[1]
    )
    assert env.code == "-24"
    up = await c.upload_callee_list("list.xlsx", workbook(LIST))
    theirs = await other_tenant.client.add_seat_group(other_tenant.app_id, "their-desk")
    assert theirs.code == "0"
    their_id = (await other_tenant.client.query_seat_groups()).data["records"][0]["voiceGroupId"]
    env = await c.submit_preview_task(
        filePath=up.data["filePath"], fileName="list.xlsx", type=1, voiceGroupId=[their_id]
    )
    assert env.code == "-74"
    env = await c.submit_preview_task(
        filePath=up.data["filePath"], fileName="list.xlsx", type=1, voiceGroupId=[1, 2]
    )
    assert env.code in ("-22", "-74")
    mine = await c.add_seat_group(tenant.app_id, "my-desk")
    assert mine.code == "0"
    my_id = (await c.query_seat_groups()).data["records"][0]["voiceGroupId"]
    env = await c.submit_preview_task(
        filePath=up.data["filePath"], fileName="list.xlsx", type=1, voiceGroupId=[my_id],
        appId=other_tenant.app_id,
    )  # fmt: skip
    assert (env.code, env.reason) == (
        "-32",
        f"API Key has no permission to access the current application: appId {other_tenant.app_id}",
    )
    assert (await c.query_preview_tasks(startTime="yesterday")).code == "-11"


async def test_a_path_like_file_name_keeps_only_its_base_name_in_the_file_path(
    tenant: Tenant,
) -> None:
    c = tenant.client
    for name in ("../../etc/list.xlsx", "C:\\Users\\me\\list.xlsx", "a/b\\list.xlsx"):
        env = await c.upload_callee_list(name, workbook(LIST))
        assert env.code == "0", env.reason
        path = env.data["filePath"]
        assert re.fullmatch(r"/cc/upload/[0-9]{14}[0-9]+_list\.xlsx", path), path


async def test_a_file_name_with_no_base_name_or_a_nul_is_rejected_with_minus_22(
    tenant: Tenant,
) -> None:
    c = tenant.client
    got = {}
    for name in ("lists/", "ab/..", "abc\\.", "a\x00b.xlsx"):
        env = await c.upload_callee_list(name, workbook(LIST))
        got[name] = (env.code, env.reason)
    folder = ("-22", "Parameter exception: fileName: must end with a file name, not a folder")
    assert got == {
        "lists/": folder,
        "ab/..": folder,
        "abc\\.": folder,
        "a\x00b.xlsx": ("-22", "Parameter exception: fileName: must not contain a NUL character"),
    }


async def test_a_sheet_that_needs_too_much_memory_or_time_is_refused_while_others_are_served(
    tenant: Tenant, rt: Any
) -> None:
    # the bomb needs about 5 s of CPU and 240 MB to read on a quiet core (60 MB of strings
    # took 3.4 s and 191 MB: under a 4 s limit it was refused only when the machine was slow)
    rt.settings.preview_parse_seconds = 2
    rt.settings.preview_parse_memory_mb = 300
    bomb = shared_strings_bomb(80)
    assert len(bomb) < 300_000  # a small upload...
    loop = asyncio.get_running_loop()
    started = loop.time()
    upload = asyncio.create_task(
        tenant.client.upload_callee_list("bomb.xlsx", base64.b64encode(bomb).decode())
    )
    await asyncio.sleep(0.05)  # the upload is under way
    balance = await tenant.client.get_balance()
    assert balance.code == "0"
    # ...whose reading does not hold up other requests (it did: parsed in the event loop)
    assert loop.time() - started < 2
    assert not upload.done()
    env = await upload
    assert loop.time() - started < 15  # the limit, the child's start-up and slack for load
    assert env.code == "-39"
    assert "the limit for one spreadsheet" in env.reason
    # and the next good list is read as usual
    assert (await tenant.client.upload_callee_list("list.xlsx", workbook(LIST))).code == "0"


async def test_a_too_long_cell_refuses_the_file_naming_its_row_and_column(
    tenant: Tenant, rt: Any
) -> None:
    rows = [["Name", "Phone"], ["Ann", "8613000000000"], ["x" * 1001, "8613000000001"]]
    env = await tenant.client.upload_callee_list("long.xlsx", workbook(rows))
    assert env.code == "-39"
    assert env.reason == (
        "Upload file format wrong: row 3, column 'Name' (A): a cell longer than 1000 characters"
    )
    async with rt.sessions() as session:
        assert (await session.scalars(select(PreviewFile))).all() == []


async def test_uploaded_lists_expire_after_the_configured_days(
    tenant: Tenant, rt: Any, clock: FixedClock
) -> None:
    await add_seat_group(rt, tenant, 5000531)
    old = await tenant.client.upload_callee_list("old.xlsx", workbook(LIST))
    clock.advance(timedelta(days=7, seconds=1).total_seconds())
    new = await tenant.client.upload_callee_list("new.xlsx", workbook(LIST))
    async with rt.sessions() as session:
        kept = (await session.scalars(select(PreviewFile.file_path))).all()
    assert kept == [new.data["filePath"]]
    env = await tenant.client.submit_preview_task(
        filePath=old.data["filePath"], fileName="old.xlsx", type=1, voiceGroupId=[5000531]
    )
    assert env.code == "-24" and "was not uploaded or has expired" in env.reason
    env = await tenant.client.submit_preview_task(
        filePath=new.data["filePath"], fileName="new.xlsx", type=1, voiceGroupId=[5000531]
    )
    assert env.code == "0", env.reason
