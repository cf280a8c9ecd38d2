"""The console's Recall flows in a real browser against a real `voxcast serve`: a flow added
with its task on the New task form, listed, changed as `recallFlow/update` changes it (its
refusals the API's), out of reach of a read-only user and of another account."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import BrowserContext, Page, expect

from tests.console.conftest import SHARED_LOOP, Console, sign_in

pytestmark = [pytest.mark.timeout(150), SHARED_LOOP]


async def _signed_in(console: Console, context: BrowserContext, username: str) -> Page:
    page = await context.new_page()
    await sign_in(page, console, username)
    await page.wait_for_url(console.url("/dashboard"))
    return page


async def _task_with_a_flow(page: Page, console: Console) -> int:
    """A group call two days ahead with two recall rounds, made on the New task form; its id."""
    await page.goto(console.url("/tasks/new"))
    form = page.locator("#task-form")
    await form.locator("input[name=taskName]").fill("with recalls")
    await form.locator("textarea[name=numbers]").fill("8613000000001\n8613000000005\n")
    await form.locator("textarea[name=text]").fill("Hello, this is a reminder.")
    later = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    await form.locator("input[name=sendTime]").fill(later)
    await form.locator("input[name=recallNum]").fill("2")
    await form.locator("input[name=recallInterval]").fill("30")
    await form.locator("select[name=recallType]").select_option("1")
    await form.locator("button[value=submit]").click()
    await page.wait_for_url(console.url("/tasks/*"))
    return int(page.url.rsplit("/", 1)[1])


async def test_a_flow_added_with_its_task_is_listed_and_changed_as_the_api_checks_it(
    console: Console, context: BrowserContext
) -> None:
    page = await _signed_in(console, context, console.a.username)
    # a bad round count is the API model's -22, naming the field, and creates nothing
    await page.goto(console.url("/tasks/new"))
    form = page.locator("#task-form")
    await form.locator("input[name=taskName]").fill("too many rounds")
    await form.locator("textarea[name=numbers]").fill("8613000000001\n")
    await form.locator("textarea[name=text]").fill("Hello.")
    await form.locator("input[name=recallNum]").fill("11")
    await form.locator("input[name=recallInterval]").fill("30")
    await form.locator("button[value=submit]").click()
    await expect(page.get_by_role("alert")).to_have_text(
        "-22 Parameter exception: recallFlow.recallNum: Input should be less than or equal to 10"
    )

    task_id = await _task_with_a_flow(page, console)
    listed = await console.a.api.query_recall_flows(current=1, size=10)
    assert listed.code == "0", listed
    (flow,) = listed.data["records"]
    assert (flow["taskId"], flow["recallNum"], flow["recallInterval"], flow["recallType"]) == (
        task_id,
        2,
        30,
        1,
    )
    flow_id = int(flow["keyId"])

    await page.click("nav >> text=Recall flows")
    await page.wait_for_url(console.url("/recall"))
    row = page.locator("#recall-flows tbody tr")
    await expect(row).to_have_count(1)
    cells = await row.first.locator("td").all_inner_texts()
    assert cells[0] == str(flow_id) and cells[1] == f"{task_id} · with recalls", cells
    assert cells[3:8] == ["only the failed", "30", "2", "0", "pending"], cells
    await row.first.locator("td >> nth=0 >> a").click()
    await page.wait_for_url(console.url(f"/recall/{flow_id}"))
    await expect(page.locator("#recall-nodes tbody tr")).to_have_count(2)

    # out of range: the API's code and reason, and the API answers the same body alike
    form = page.locator("#recall-form")
    await form.locator("input[name=recallNum]").fill("3")
    await form.locator("input[name=recallInterval]").fill("0")
    await form.locator("button[type=submit]").click()
    api = await console.a.api.update_recall_flow(
        keyId=flow_id, recallNum=3, recallInterval=0, recallType=1
    )
    assert api.code == "-22", api
    await expect(page.get_by_role("alert")).to_have_text(f"{api.code} {api.reason}")
    assert "recallInterval" in api.reason, api
    await expect(page.locator("#recall-form input[name=recallNum]")).to_have_value("3")

    # a round's override of a normal task needs the node's required fields: the service's -22
    form = page.locator("#recall-form")
    await form.locator("input[name=recallInterval]").fill("45")
    await form.locator("textarea[name=nodeList]").fill('[{"source": 3, "text": "Again."}]')
    await form.locator("button[type=submit]").click()
    await expect(page.get_by_role("alert")).to_contain_text("-22 ")
    await expect(page.get_by_role("alert")).to_contain_text("nodeList[0].")

    nodes = '[{"source": 3, "text": "Again, hello.", "lan": "EN", "hangUpSms": 0, "toSeat": 0}]'
    await page.locator("#recall-form textarea[name=nodeList]").fill(nodes)
    await page.locator("#recall-form select[name=recallType]").select_option("0")
    await page.locator("#recall-form button[type=submit]").click()
    await expect(page.get_by_role("status")).to_have_text("Recall flow saved.")
    await expect(page.locator("#recall-nodes tbody tr")).to_have_count(3)
    detail = await console.a.api.recall_flow_detail(flow_id)
    assert detail.code == "0", detail
    got = detail.data
    assert (got["recallNum"], got["recallInterval"], got["recallType"]) == (3, 45, 0)
    assert [n["text"] for n in got["nodeList"]] == ["Again, hello.", None, None]
    await page.goto(console.url("/audit"))
    await expect(page.locator("#audit tbody")).to_contain_text(
        f"recall flow {flow_id} of task {task_id}"
    )


async def test_a_readonly_user_and_another_account_cannot_change_a_flow(
    console: Console, context: BrowserContext
) -> None:
    page = await _signed_in(console, context, console.a.username)
    await _task_with_a_flow(page, console)
    listed = await console.a.api.query_recall_flows(current=1, size=10)
    flow_id = int(listed.data["records"][0]["keyId"])
    await page.close()

    viewer = await _signed_in(console, context, console.readonly_user)
    await viewer.goto(console.url(f"/recall/{flow_id}"))
    await expect(viewer.locator("#recall-status")).to_have_text("pending")
    assert await viewer.locator("#recall-form").count() == 0
    csrf = (await viewer.evaluate("document.body.getAttribute('hx-headers')")).split('"')[3]
    change = {"csrf_token": csrf, "recallNum": "5", "recallInterval": "10", "recallType": "0"}
    refused = await viewer.request.post(console.url(f"/recall/{flow_id}"), form=change)
    assert refused.status == 403
    # without the token: refused before anything happens
    no_token = {k: v for k, v in change.items() if k != "csrf_token"}
    refused = await viewer.request.post(console.url(f"/recall/{flow_id}"), form=no_token)
    assert refused.status == 403

    other = await context.browser.new_context() if context.browser else None
    assert other is not None
    try:
        theirs = await _signed_in(console, other, console.b.username)
        await theirs.goto(console.url("/recall"))
        await expect(theirs.locator("#recall-flows tbody")).to_contain_text("No recall flow yet.")
        answer = await theirs.goto(console.url(f"/recall/{flow_id}"))
        assert answer is not None and answer.status == 404
        csrf = (await theirs.evaluate("document.body.getAttribute('hx-headers')")).split('"')[3]
        answer = await theirs.request.post(
            console.url(f"/recall/{flow_id}"), form=change | {"csrf_token": csrf}
        )
        assert answer.status == 404
    finally:
        await other.close()
    detail = await console.a.api.recall_flow_detail(flow_id)
    assert (detail.data["recallNum"], detail.data["recallInterval"]) == (2, 30), detail
