"""The console's New task form in a real browser against a real `voxcast serve`: pasted numbers
checked row by row before submit, a CSV upload spoken by TTS and dialed by the sandbox to the
end, a read-only user without the form, and an appId posted by hand answered as the API does."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import BrowserContext, FilePayload, Page, expect

from tests.console.conftest import SHARED_LOOP, Console, Shot, sign_in

pytestmark = [pytest.mark.timeout(180), SHARED_LOOP]

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def _owner(console: Console, context: BrowserContext, username: str) -> Page:
    page = await context.new_page()
    await sign_in(page, console, username)
    await page.wait_for_url(console.url("/dashboard"))
    return page


async def _task_names(console: Console) -> list[str]:
    got = await console.a.api.query_group_calls(current=1, size=50)
    assert got.code == "0", got
    return [str(r["taskName"]) for r in got.data["records"]]


async def test_a_bad_pasted_line_is_reported_and_submit_is_refused_until_it_is_fixed(
    console: Console, context: BrowserContext
) -> None:
    page = await _owner(console, context, console.a.username)
    await page.goto(console.url("/tasks"))
    await page.click("text=New task")
    await page.wait_for_url(console.url("/tasks/new"))
    form = page.locator("#task-form")
    await form.locator("input[name=taskName]").fill("pasted numbers")
    await form.locator("select[name=appId]").select_option(console.a.app_id)
    await form.locator("textarea[name=numbers]").fill(
        "8613000000010\n12ab-oops\n8613000000021,Ann\n"
    )
    await form.locator("input[name=source][value='3']").check()
    await form.locator("textarea[name=text]").fill("Hello ${text1}, your parcel is here.")
    later = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    await form.locator("input[name=sendTime]").fill(later)
    await form.locator("input[name=strTime1]").fill("09:00")
    await form.locator("input[name=endTime1]").fill("18:00")
    await form.locator("input[name=allowSendTimeZone]").fill("Asia/Shanghai")
    await form.locator("button[value=check]").click()

    report = page.locator("#row-report tbody tr")
    await expect(report).to_have_count(1)
    cells = await report.first.locator("td").all_inner_texts()
    assert cells[0] == "2" and cells[1] == "12ab-oops"
    assert cells[2].startswith("calleeNumber: "), cells
    await expect(page.locator("#check-summary")).to_contain_text("2 numbers read, 1 row refused")

    # submit with the bad line still there: nothing is created
    await page.locator("#task-form button[value=submit]").click()
    await expect(page.get_by_role("alert")).to_contain_text("Nothing submitted")
    await expect(page.locator("#row-report tbody tr")).to_have_count(1)
    assert "pasted numbers" not in await _task_names(console)

    # fixed: the check is clean and the task is created, scheduled for later
    await page.locator("#task-form textarea[name=numbers]").fill(
        "8613000000010,Bo\n8613000000033,Cy\n8613000000021,Ann\n"
    )
    await page.locator("#task-form button[value=check]").click()
    await expect(page.locator("#check-summary")).to_contain_text("3 numbers read, 0 rows refused")
    await expect(page.locator("#row-report")).to_have_count(0)
    await page.locator("#task-form button[value=submit]").click()
    await page.wait_for_url(console.url("/tasks/*"))
    task_id = int(page.url.rsplit("/", 1)[1])
    await expect(page.locator("#task-status")).to_have_text("waiting")
    detail = await console.a.api.group_call_detail(task_id)
    assert detail.code == "0", detail
    assert detail.data["taskName"] == "pasted numbers"
    assert int(detail.data["numCnt"]) == 3


async def test_an_uploaded_csv_spoken_by_tts_is_submitted_and_dialed_to_the_end(
    console: Console, context: BrowserContext, shot: Shot
) -> None:
    page = await _owner(console, context, console.a.username)
    await page.goto(console.url("/tasks/new"))
    form = page.locator("#task-form")
    await form.locator("input[name=taskName]").fill("from a sheet")
    await form.locator("select[name=appId]").select_option(console.a.app_id)
    sheet = b"phone,name\n8613000000010,Ann\n8613000000021,Bo\n+86 130 0000 0045,Cy\n"
    payload: FilePayload = {"name": "callees.csv", "mimeType": "text/csv", "buffer": sheet}
    await form.locator("input[name=sheet]").set_input_files(files=[payload])
    await form.locator("input[name=source][value='3']").check()
    await form.locator("textarea[name=text]").fill("Hello ${text1}, this is a test call.")
    await form.locator("select[name=lan]").select_option("EN")
    await form.locator("input[name=maxRingingTime]").fill("20")
    await shot(page, "task-new")
    await form.locator("button[value=submit]").click()
    await page.wait_for_url(console.url("/tasks/*"))
    task_id = int(page.url.rsplit("/", 1)[1])
    await expect(page.locator("h1")).to_contain_text("from a sheet")
    await expect(page.locator("#task-status")).to_have_text("finished", timeout=90_000)
    await expect(page.locator("#task-called")).to_have_text("3")
    detail = await console.a.api.group_call_detail(task_id)
    assert detail.code == "0" and int(detail.data["numCnt"]) == 3, detail
    await page.goto(console.url("/audit"))
    await expect(page.locator("#audit tbody")).to_contain_text(f"task {task_id} from a sheet")


def _xlsx(rows: list[list[object]]) -> bytes:
    import openpyxl  # type: ignore[import-untyped]

    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def test_a_sheets_refused_row_is_reported_by_its_row_and_check_moves_its_numbers_to_the_box(
    console: Console, context: BrowserContext
) -> None:
    page = await _owner(console, context, console.a.username)
    await page.goto(console.url("/tasks/new"))
    form = page.locator("#task-form")
    await form.locator("input[name=taskName]").fill("from excel")
    sheet = _xlsx(
        [["Phone", "Name"], [8613000000010, "Ann"], ["abc", "Bo"], ["8613000000021", "Cy"]]
    )
    payload: FilePayload = {"name": "callees.xlsx", "mimeType": XLSX, "buffer": sheet}
    await form.locator("input[name=sheet]").set_input_files(files=[payload])
    await form.locator("textarea[name=text]").fill("Hello ${text1}.")
    later = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    await form.locator("input[name=sendTime]").fill(later)
    await form.locator("button[value=check]").click()
    await expect(page.locator("#check-summary")).to_contain_text(
        "2 numbers read, 1 row refused from callees.xlsx"
    )
    cells = await page.locator("#row-report tbody tr").first.locator("td").all_inner_texts()
    assert cells[0] == "3" and "not a phone number" in cells[2] and "abc" in cells[2], cells
    await expect(page.locator("#task-form textarea[name=numbers]")).to_have_value(
        "8613000000010,Ann\n8613000000021,Cy\n"
    )
    # Submit takes the box: the sheet need not be chosen again
    await page.locator("#task-form button[value=submit]").click()
    await page.wait_for_url(console.url("/tasks/*"))
    detail = await console.a.api.group_call_detail(int(page.url.rsplit("/", 1)[1]))
    assert detail.code == "0" and int(detail.data["numCnt"]) == 2, detail


async def test_a_readonly_user_gets_no_form_and_its_post_is_refused(
    console: Console, context: BrowserContext
) -> None:
    page = await _owner(console, context, console.readonly_user)
    await page.goto(console.url("/tasks"))
    await expect(page.locator("h1")).to_have_text("Tasks")
    assert await page.locator("text=New task").count() == 0
    answer = await page.goto(console.url("/tasks/new"))
    assert answer is not None and answer.status == 403
    assert await page.locator("#task-form").count() == 0
    csrf = (await page.evaluate("document.body.getAttribute('hx-headers')")).split('"')[3]
    refused = await page.request.post(
        console.url("/tasks/new"),
        multipart={
            "csrf_token": csrf,
            "action": "submit",
            "taskName": "not allowed",
            "appId": console.a.app_id,
            "numbers": "8613000000010",
            "source": "3",
            "text": "Hello.",
        },
    )
    assert refused.status == 403
    assert "not allowed" not in await _task_names(console)


async def test_an_app_id_posted_by_hand_is_answered_with_the_apis_code_and_reason(
    console: Console, context: BrowserContext
) -> None:
    page = await _owner(console, context, console.a.username)
    await page.goto(console.url("/tasks/new"))
    csrf = (await page.evaluate("document.body.getAttribute('hx-headers')")).split('"')[3]
    for app_id in ("unknown-app-1", console.b.app_id):
        answer = await page.request.post(
            console.url("/tasks/new"),
            multipart={
                "csrf_token": csrf,
                "action": "submit",
                "taskName": f"sneaky {app_id}",
                "appId": app_id,
                "numbers": "8613000000010",
                "source": "3",
                "text": "Hello.",
                "lan": "EN",
            },
        )
        assert answer.status == 400
        text = await answer.text()
        assert "-32" in text and f"appId {app_id}" in text, text
    # a field out of the API model's range: -22 naming it, as the API's own answer names it
    answer = await page.request.post(
        console.url("/tasks/new"),
        multipart={
            "csrf_token": csrf, "action": "check", "taskName": "too short a ring",
            "appId": console.a.app_id, "numbers": "8613000000010", "source": "3",
            "text": "Hello.", "maxRingingTime": "5",
        },
    )  # fmt: skip
    assert answer.status == 400
    assert (
        "-22 Parameter exception: maxRingingTime: Input should be greater than or equal to 20"
        in (await answer.text())
    )
    # the API answers the same request alike
    api = await console.a.api.send_group_call(
        appId=console.b.app_id, taskName="sneaky api", source=3, text="Hello.", lan="EN",
        maxCalls=60, loopCount=1, numberInfoList=[{"calleeNumber": "8613000000010"}],
    )  # fmt: skip
    assert api.code == "-32" and f"appId {console.b.app_id}" in str(api.raw), api
    assert not any(n.startswith("sneaky") for n in await _task_names(console))
