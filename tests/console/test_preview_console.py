"""The console's Preview tasks page in a real browser against a real `voxcast serve`: a callee
sheet with a bad row uploaded and submitted (the API's upload report and its task, seen by
`cc/preview/query`), the API's refusal for a bad field, a finished task called again, a
read-only user refused and another account's task out of reach."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, Page, expect

from tests.console.conftest import SHARED_LOOP, Console, sign_in

pytestmark = [pytest.mark.timeout(180), SHARED_LOOP]

SHEET = "phone,name\n8613000000010,Ann\n8613000000021,Bob\nnot-a-number,Cy\n8613000000033,Di\n"


@pytest.fixture(scope="module")
def sandbox_speed() -> float:
    """A slow sandbox clock (2x): a task called again is seen unfinished for the second or so
    its first ring takes, not the 20 ms it takes at 50x (a stalled test process missed it)."""
    return 2


async def _signed_in(console: Console, context: BrowserContext, username: str) -> Page:
    page = await context.new_page()
    await sign_in(page, console, username)
    await page.wait_for_url(console.url("/dashboard"))
    return page


async def _preview(console: Console, task_id: int) -> dict[str, object]:
    got = await console.a.api.query_preview_tasks(current=1, size=10, taskId=task_id)
    assert got.code == "0", got
    (row,) = got.data["records"]
    return dict(row)


async def test_a_sheet_becomes_a_preview_task_and_a_finished_one_is_called_again(
    console: Console, context: BrowserContext, tmp_path: Path
) -> None:
    made = await console.a.api.add_seat_group(console.a.app_id, "Preview desk")
    assert made.code == "0", made
    groups = await console.a.api.query_seat_groups(current=1, size=10)
    group_id = int(groups.data["records"][0]["voiceGroupId"])
    sheet = tmp_path / "callees.csv"
    sheet.write_text(SHEET)
    page = await _signed_in(console, context, console.a.username)
    await page.click("nav >> text=Preview tasks")
    await page.wait_for_url(console.url("/preview"))
    await expect(page.locator("#preview-tasks tbody")).to_contain_text("No preview task yet")

    # a rate the API refuses: its code and reason, nothing created
    await page.set_input_files("#new-preview input[name=sheet]", str(sheet))
    await page.select_option("#new-preview select[name=type]", "0")
    await page.fill("#new-preview input[name=calloutRate]", "0")
    await page.click("#new-preview button[type=submit]")
    await expect(page.get_by_role("alert")).to_contain_text("-22 Parameter exception: calloutRate")
    listed = await console.a.api.query_preview_tasks(current=1, size=10)
    assert listed.code == "0" and listed.data["total"] == 0, listed

    await page.set_input_files("#new-preview input[name=sheet]", str(sheet))
    await page.select_option("#new-preview select[name=type]", "0")
    await page.fill("#new-preview input[name=calloutRate]", "2")
    await page.fill("#new-preview input[name=remark]", "from the console")
    await page.click("#new-preview button[type=submit]")
    await expect(page.get_by_role("status")).to_contain_text(
        "created from callees.csv: 3 numbers, 0 repeated, 1 rows refused."
    )
    notice = await page.get_by_role("status").inner_text()
    task_id = int(notice.split()[1])
    await expect(page.locator("#refused-rows tbody tr")).to_have_count(1)
    await expect(page.locator("#refused-rows tbody tr td").first).to_have_text("4")
    row = await _preview(console, task_id)
    assert (row["totalCount"], row["voiceGroupId"], row["remark"], row["taskType"]) == (
        3,
        [group_id],
        "from the console",
        0,
    )

    # the sandbox calls the three; then the task can be called again from the page
    deadline = time.monotonic() + 90
    while (await _preview(console, task_id))["finishFlag"] != 1:
        assert time.monotonic() < deadline, "the preview task did not finish"
        await asyncio.sleep(0.3)
    await page.goto(console.url("/preview"))
    task_row = page.locator(f"#preview-tasks tr[data-task='{task_id}']")
    await expect(task_row.locator(".status")).to_have_text("completed")
    await task_row.locator("select[name=resendType]").select_option("3")
    await task_row.locator("button:text('Call again')").click()
    await expect(page.get_by_role("status")).to_have_text(f"Task {task_id} will call again.")
    assert (await _preview(console, task_id))["finishFlag"] == 0

    # a task that is not finished cannot be resent: the API's -41, by hand-made post
    token = await page.evaluate("document.body.getAttribute('hx-headers')")
    csrf = str(json.loads(token)["X-CSRF-Token"])
    again = await page.request.post(
        console.url(f"/preview/{task_id}/resend"),
        form={"csrf_token": csrf, "resendType": "3", "type": "0"},
    )
    assert again.status == 400
    assert "-41 " in await again.text()

    # bob cannot resend alice's task; the read-only user gets no form and a 403
    bob = await _signed_in(console, context, console.b.username)
    bob_token = await bob.evaluate("document.body.getAttribute('hx-headers')")
    theirs = await bob.request.post(
        console.url(f"/preview/{task_id}/resend"),
        form={
            "csrf_token": str(json.loads(bob_token)["X-CSRF-Token"]),
            "resendType": "3",
            "type": "0",
        },
    )
    assert theirs.status == 400 and f"-24 Data unexisting: taskId {task_id}" in await theirs.text()
    assert context.browser is not None
    viewer_ctx = await context.browser.new_context()
    try:
        viewer = await viewer_ctx.new_page()
        await sign_in(viewer, console, console.readonly_user)
        await viewer.wait_for_url(console.url("/dashboard"))
        await viewer.goto(console.url("/preview"))
        await expect(viewer.locator(f"#preview-tasks tr[data-task='{task_id}']")).to_have_count(1)
        assert await viewer.locator("#new-preview").count() == 0
        vtoken = await viewer.evaluate("document.body.getAttribute('hx-headers')")
        refused = await viewer.request.post(
            console.url(f"/preview/{task_id}/resend"),
            form={
                "csrf_token": str(json.loads(vtoken)["X-CSRF-Token"]),
                "resendType": "3",
                "type": "0",
            },
        )
        assert refused.status == 403
    finally:
        await viewer_ctx.close()
