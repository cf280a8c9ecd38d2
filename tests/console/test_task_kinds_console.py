"""The console's AI task, call-center transfer and Voice OTP forms in a real browser against a
real `voxcast serve`: a good submission reaches its task page or call record, a bad field is
answered with the API's own code and reason, and a read-only user is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import BrowserContext, Page, expect

from tests.console.conftest import SHARED_LOOP, Console, Tenant, sign_in

pytestmark = [pytest.mark.timeout(180), SHARED_LOOP]


async def _signed_in(console: Console, context: BrowserContext, username: str) -> Page:
    page = await context.new_page()
    await sign_in(page, console, username)
    await page.wait_for_url(console.url("/dashboard"))
    return page


async def _csrf(page: Page) -> str:
    return str((await page.evaluate("document.body.getAttribute('hx-headers')")).split('"')[3])


async def _add_script(page: Page, console: Console) -> int:
    """The example script, added on the AI scripts page; its id."""
    await page.goto(console.url("/scripts"))
    await page.click("#add-script button[type=submit]")
    await expect(page.get_by_role("status")).to_have_text("Script added.")
    return int(page.url.rsplit("/", 1)[-1].split("?")[0])


async def _group(tenant: Tenant, name: str) -> int:
    """A new agent group of the tenant's app, made through the API; its id."""
    made = await tenant.api.add_seat_group(tenant.app_id, name)
    assert made.code == "0", made
    listed = await tenant.api.query_seat_groups(current=1, size=10)
    (group,) = [g for g in listed.data["records"] if g["groupName"] == name]
    return int(group["voiceGroupId"])


def _later() -> str:
    return (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")


async def test_an_ai_task_from_the_form_is_dialed_on_its_task_page(
    console: Console, context: BrowserContext
) -> None:
    page = await _signed_in(console, context, console.a.username)
    script_id = await _add_script(page, console)
    await page.goto(console.url("/tasks"))
    await page.click("#new-ai-task")
    await page.wait_for_url(console.url("/tasks/new/ai"))
    form = page.locator("#task-form")
    await form.locator("input[name=taskName]").fill("robot calls")
    await form.locator("select[name=appId]").select_option(console.a.app_id)
    # busy, and a 6-digit number only an AI task takes (a group call wants 7-15 digits)
    await form.locator("textarea[name=numbers]").fill("8613000000005\n861305\n")
    await form.locator("select[name=scriptId]").select_option(str(script_id))
    await form.locator("input[name=maxRingingTime]").fill("20")
    # the task page is requested while its first robot call starts in the same server: on a
    # loaded machine that has taken longer than one step
    await form.locator("button[value=submit]").click(timeout=60_000)
    await page.wait_for_url(console.url("/tasks/*"))
    task_id = int(page.url.rsplit("/", 1)[1])
    await expect(page.locator("h1")).to_contain_text("robot calls")
    await expect(page.locator("#task-status")).to_have_text("finished", timeout=90_000)
    await expect(page.locator("#task-called")).to_have_text("2")
    detail = await console.a.api.group_call_detail(task_id)
    assert detail.code == "0", detail
    assert (detail.data["taskType"], detail.data["scriptId"], int(detail.data["numCnt"])) == (
        2,
        script_id,
        2,
    )
    await page.goto(console.url("/audit"))
    await expect(page.locator("#audit tbody")).to_contain_text(f"task {task_id} robot calls")


async def test_an_ai_tasks_unknown_script_and_bad_number_are_answered_as_the_api_answers(
    console: Console, context: BrowserContext
) -> None:
    page = await _signed_in(console, context, console.a.username)
    await page.goto(console.url("/tasks/new/ai"))
    csrf = await _csrf(page)
    fields = {
        "csrf_token": csrf,
        "action": "submit",
        "taskName": "no such script",
        "appId": console.a.app_id,
        "numbers": "8613000000005",
        "scriptId": "987654",
    }
    answer = await page.request.post(console.url("/tasks/new/ai"), multipart=fields)
    assert answer.status == 400
    api = await console.a.api.send_group_call_ai(
        appId=console.a.app_id, taskName="no such script", scriptId=987654,
        numberInfoList=[{"calleeNumber": "8613000000005"}],
    )  # fmt: skip
    assert api.code != "0", api
    assert f"{api.code} {api.reason}" in await answer.text(), (api, await answer.text())
    # a number out of the AI model's pattern is reported as its row, with the model's reason
    answer = await page.request.post(
        console.url("/tasks/new/ai"), multipart=fields | {"numbers": "12345", "action": "check"}
    )
    assert answer.status == 400
    text = await answer.text()
    assert "calleeNumber: String should match pattern &#39;^[0-9]{6,18}$&#39;" in text, text
    got = await console.a.api.query_group_calls(current=1, size=10)
    assert got.data["records"] == [], got


async def test_a_transfer_task_names_its_agent_group_and_is_refused_without_one(
    console: Console, context: BrowserContext
) -> None:
    group_id = await _group(console.a, "front desk")
    page = await _signed_in(console, context, console.a.username)
    await page.goto(console.url("/tasks/new"))
    form = page.locator("#task-form")
    await form.locator("input[name=taskName]").fill("to the desk")
    await form.locator("textarea[name=numbers]").fill("8613000000001\n")
    await form.locator("textarea[name=text]").fill("Hold on for an agent.")
    await form.locator("input[name=sendTime]").fill(_later())
    await form.locator("input[name=toSeat]").check()
    await form.locator("input[name=calloutRate]").fill("3")
    await form.locator("button[value=submit]").click()
    # no group chosen: the service's -22 naming the field, nothing created
    await expect(page.get_by_role("alert")).to_have_text(
        "-22 Parameter exception: sipGroupId: is required when toSeat=1"
    )
    form = page.locator("#task-form")
    await expect(form.locator("input[name=toSeat]")).to_be_checked()
    await form.locator("select[name=sipGroupId]").select_option(str(group_id))
    await form.locator("button[value=submit]").click()
    await page.wait_for_url(console.url("/tasks/*"))
    task_id = int(page.url.rsplit("/", 1)[1])
    await expect(page.locator("#task-status")).to_have_text("waiting")
    detail = await console.a.api.group_call_detail(task_id)
    assert detail.code == "0", detail
    assert (detail.data["taskName"], detail.data["calloutRate"]) == ("to the desk", 3)
    # another account's group posted by hand: the API's -74
    other = await _group(console.b, "their desk")
    answer = await page.request.post(
        console.url("/tasks/new"),
        multipart={
            "csrf_token": await _csrf(page), "action": "submit", "taskName": "their desk",
            "appId": console.a.app_id, "numbers": "8613000000001", "source": "3",
            "text": "Hello.", "toSeat": "1", "sipGroupId": str(other),
            "outboundControl": "1", "calloutRate": "1", "toSeatType": "1",
        },
    )  # fmt: skip
    assert answer.status == 400
    text = await answer.text()
    assert "-74 " in text, text
    assert f"sipGroupId: agent group {other} is not one of app {console.a.app_id}" in text


async def test_a_voice_otp_shows_its_voice_id_and_its_record_once_the_call_ends(
    console: Console, context: BrowserContext
) -> None:
    page = await _signed_in(console, context, console.a.username)
    await page.goto(console.url("/tasks"))
    await page.click("#otp-test")
    await page.wait_for_url(console.url("/otp"))
    form = page.locator("#otp-form")
    # a bad number first: the API's code and reason naming the field
    await form.locator("input[name=callee]").fill("12ab")
    await form.locator("input[name=text]").fill("Your code is 4 8 1 5.")
    await form.locator("button[type=submit]").click()
    api = await console.a.api.send_code(
        appId=console.a.app_id, callee="12ab", text="Your code is 4 8 1 5.", language="EN"
    )
    assert api.code != "0", api
    await expect(page.get_by_role("alert")).to_have_text(f"{api.code} {api.reason}")
    await expect(page.locator("#otp-form input[name=text]")).to_have_value("Your code is 4 8 1 5.")

    await page.locator("#otp-form input[name=callee]").fill("8613000000000")
    await page.locator("#otp-form select[name=language]").select_option("EN")
    await page.locator("#otp-form button[type=submit]").click()
    await page.wait_for_url(console.url("/otp/*"))
    voice_id = page.url.rsplit("/", 1)[1]
    await expect(page.locator("#otp-voice-id")).to_have_text(voice_id)
    await expect(page.locator("#otp-state")).to_have_text("The call has ended.", timeout=60_000)
    record = await console.a.api.record(voice_id)
    assert record.code == "0", record
    for name in ("callee", "answerTime", "hangupTime", "callDuration", "terminationReason"):
        assert str(record.data[name]) == await page.locator(f"#otp-{name}").inner_text(), name
    assert record.data["callee"] == "8613000000000" and record.data["answerTime"], record
    # another account's user cannot read it
    other = await context.browser.new_context() if context.browser else None
    assert other is not None
    try:
        theirs = await _signed_in(console, other, console.b.username)
        answer = await theirs.goto(console.url(f"/otp/{voice_id}"))
        assert answer is not None and answer.status == 404
    finally:
        await other.close()


async def test_a_readonly_user_gets_none_of_these_forms(
    console: Console, context: BrowserContext
) -> None:
    page = await _signed_in(console, context, console.readonly_user)
    await page.goto(console.url("/tasks"))
    await expect(page.locator("h1")).to_have_text("Tasks")
    assert await page.locator("#new-ai-task, #otp-test").count() == 0
    csrf = await _csrf(page)
    for path in ("/tasks/new/ai", "/otp"):
        answer = await page.goto(console.url(path))
        assert answer is not None and answer.status == 403, path
    posts = {
        "/tasks/new/ai": {"taskName": "not allowed", "numbers": "8613000000005", "scriptId": "1"},
        "/otp": {"callee": "8613000000000", "text": "Your code is 1 2 3."},
    }
    for path, fields in posts.items():
        refused = await page.request.post(
            console.url(path),
            multipart={"csrf_token": csrf, "action": "submit", "appId": console.a.app_id} | fields,
        )
        assert refused.status == 403, path
    now = datetime.now(UTC)
    got = await console.a.api.query_records(
        strTime=(now - timedelta(hours=1)).isoformat(timespec="seconds"),
        endTime=(now + timedelta(hours=1)).isoformat(timespec="seconds"),
    )
    assert got.code == "0" and got.data["records"] == [], got
    tasks = await console.a.api.query_group_calls(current=1, size=10)
    assert tasks.code == "0" and tasks.data["records"] == [], tasks
