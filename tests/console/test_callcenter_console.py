"""The console's Agents and AI scripts pages in a real browser against a real `voxcast serve`:
a group and agents made through the API's services and seen by the API, the agents' status
following the registrar live, SIP passwords for owners only, refusals with the API's code and
reason, a read-only user refused, another account's group and script out of reach; scripts
added from the example, a broken edit named by node and field, a good edit seen by the API."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from playwright.async_api import BrowserContext, Page, expect

from tests.console.conftest import SHARED_LOOP, Console, Shot, Tenant, sign_in
from tests.helpers import signed_headers
from voxcast.clock import SystemClock
from voxcast.config import Settings
from voxcast.runtime import open_runtime
from voxcast.services import agents, scripts

pytestmark = [pytest.mark.timeout(180), SHARED_LOOP]


async def _signed_in(console: Console, context: BrowserContext, username: str) -> Page:
    page = await context.new_page()
    await sign_in(page, console, username)
    await page.wait_for_url(console.url("/dashboard"))
    return page


async def _csrf(page: Page) -> str:
    token = await page.evaluate("document.body.getAttribute('hx-headers')")
    return str(json.loads(token)["X-CSRF-Token"])


async def _aivoice(console: Console, tenant: Tenant, op: str, body: Any) -> dict[str, Any]:
    """A signed AiVoice request, as the vendor's SDK sends it."""
    headers = signed_headers(tenant.api_key, tenant.api_secret, int(time.time()))
    headers.update({"origin": "java-sdk", "accept": "*/*"})
    async with httpx.AsyncClient(base_url=console.base, timeout=30) as http:
        resp = await http.post(f"/v3/AiVoice/{op}", json=body, headers=headers)
    assert resp.status_code == 200
    out: dict[str, Any] = resp.json()
    return out


async def _register(console: Console, name: str) -> None:
    """The agent's softphone registers: what the registrar records (`apply_binding`)."""
    settings = Settings()
    settings.database_url, settings.data_dir, settings.secret_key = (
        console.cli.database_url,
        console.cli.data_dir,
        console.cli.secret_key,
    )
    rt = await open_runtime(settings, SystemClock())
    try:
        async with rt.sessions.begin() as session:
            await agents.apply_binding(
                session, name, "sip:phone@127.0.0.1:5999", 3600, rt.clock.now()
            )
    finally:
        await rt.close()


async def test_an_owner_creates_a_group_and_an_agent_and_sees_its_status_and_password(
    console: Console, context: BrowserContext, shot: Shot
) -> None:
    page = await _signed_in(console, context, console.a.username)
    await page.click("nav >> text=Agents")
    await page.wait_for_url(console.url("/agents"))
    await expect(page.locator("#groups tbody")).to_contain_text("No agent group yet")

    # a name the API refuses: its code and reason
    await page.fill("#add-group input[name=name]", "abc")
    await page.click("#add-group button[type=submit]")
    await expect(page.get_by_role("alert")).to_contain_text(
        "-22 Parameter exception: groupName: should have at least 4 characters"
    )
    await page.fill("#add-group input[name=name]", "Billing desk")
    await page.click("#add-group button[type=submit]")
    await expect(page.get_by_role("status")).to_have_text("Agent group created.")
    group_id = int(page.url.rsplit("/", 1)[-1].split("?")[0])
    # the API sees the group the page made
    listed = await console.a.api.query_seat_groups(current=1, size=10)
    assert listed.code == "0", listed
    assert [(g["voiceGroupId"], g["groupName"]) for g in listed.data["records"]] == [
        (group_id, "Billing desk")
    ]
    # the same name again: the API's -20
    await page.goto(console.url("/agents"))
    await page.fill("#add-group input[name=name]", "billing DESK")
    await page.click("#add-group button[type=submit]")
    await expect(page.get_by_role("alert")).to_contain_text("-20 ")
    await expect(page.get_by_role("alert")).to_contain_text("already exists")

    await page.goto(console.url(f"/agents/groups/{group_id}"))
    await page.fill("#add-agents input[name=ccode]", "99999")
    await page.click("#add-agents button[type=submit]")
    await expect(page.get_by_role("alert")).to_contain_text("-22 Parameter exception: ccode:")
    await page.fill("#add-agents input[name=ccode]", "")
    await page.click("#add-agents button[type=submit]")
    await expect(page.get_by_role("status")).to_contain_text("Agents added:")
    row = page.locator("#agents tbody tr").first
    name = await row.get_attribute("data-agent")
    assert name == f"{console.a.app_id}_001"
    await expect(row.locator(".agent-status")).to_have_text("offline")
    password = (await row.locator(".sip-password").inner_text()).strip()
    assert len(password) == 16 and password.isalnum()
    await expect(page.locator(f"#groups tr[data-group='{group_id}'] .count")).to_have_text("1")
    await expect(page.locator(f"#groups tr[data-group='{group_id}'] .wait")).to_have_text("30 s")

    # the softphone registers: the page, polling, shows idle without a reload
    await _register(console, name)
    await expect(row.locator(".agent-status")).to_have_text("idle", timeout=10_000)
    await shot(page, "agents")
    # what cc/seat/query says (status 2, idle)
    day = timedelta(days=1)
    seats = await console.a.api.query_seats(
        strTime=(datetime.now() - day).strftime("%Y-%m-%d %H:%M:%S"),
        endTime=(datetime.now() + day).strftime("%Y-%m-%d %H:%M:%S"),
    )
    assert seats.code == "0", seats
    assert [(s["name"], s["status"]) for s in seats.data["records"]] == [(name, 2)]
    await page.goto(console.url("/agents"))
    await expect(page.locator(f"#agents tr[data-agent='{name}'] .agent-status")).to_have_text(
        "idle"
    )
    await expect(page.locator(f"#agents tr[data-agent='{name}'] .sip-password")).to_have_text(
        password
    )


async def test_a_readonly_user_sees_no_password_and_cannot_change(
    console: Console, context: BrowserContext
) -> None:
    made = await console.a.api.add_seat_group(console.a.app_id, "Night shift")
    assert made.code == "0", made
    groups = await console.a.api.query_seat_groups(current=1, size=10)
    group_id = groups.data["records"][0]["voiceGroupId"]
    seats = await console.a.api.add_seats(voiceGroupId=group_id, size=1)
    assert seats.code == "0", seats
    name, password = seats.data[0]["name"], seats.data[0]["sipPassword"]

    page = await _signed_in(console, context, console.readonly_user)
    await page.goto(console.url(f"/agents/groups/{group_id}"))
    row = page.locator(f"#agents tr[data-agent='{name}']")
    await expect(row.locator(".sip-user")).to_have_text(name)
    await expect(row.locator(".agent-status")).to_have_text("offline")
    assert await page.locator(".sip-password").count() == 0
    assert password not in await page.content()
    rows = await page.request.get(console.url(f"/agents/groups/{group_id}/rows"))
    assert rows.status == 200 and password not in await rows.text()
    assert await page.locator("#add-agents").count() == 0
    await page.goto(console.url("/agents"))
    assert await page.locator("#add-group").count() == 0
    csrf = await _csrf(page)
    refused = await page.request.post(
        console.url("/agents/groups"),
        form={"csrf_token": csrf, "app": console.a.app_id, "name": "Sneaky group"},
    )
    assert refused.status == 403
    refused = await page.request.post(
        console.url(f"/agents/groups/{group_id}/agents"), form={"csrf_token": csrf, "size": "1"}
    )
    assert refused.status == 403
    refused = await page.request.post(
        console.url("/scripts"),
        form={"csrf_token": csrf, "script": json.dumps(scripts.example_document())},
    )
    assert refused.status == 403
    listed = await console.a.api.query_seat_groups(current=1, size=10)
    assert [g["countSeat"] for g in listed.data["records"]] == [1]
    assert (await _aivoice(console, console.a, "dialogFlowList", {"appId": console.a.app_id}))[
        "data"
    ] == []


async def test_another_accounts_group_and_script_are_not_found(
    console: Console, context: BrowserContext
) -> None:
    made = await console.b.api.add_seat_group(console.b.app_id, "Bob's agents")
    assert made.code == "0", made
    groups = await console.b.api.query_seat_groups(current=1, size=10)
    group_id = groups.data["records"][0]["voiceGroupId"]
    added = await _aivoice(
        console,
        console.b,
        "dialogFlowAdd",
        {"appId": console.b.app_id, "script": scripts.example_document()},
    )
    assert added["status"] == "0", added
    script_id = int(added["data"])

    page = await _signed_in(console, context, console.a.username)
    await page.goto(console.url("/agents"))
    await expect(page.locator("#groups tbody")).not_to_contain_text("Bob's agents")
    for path in (f"/agents/groups/{group_id}", f"/agents/groups/{group_id}/rows"):
        answer = await page.request.get(console.url(path))
        assert answer.status == 404, path
    csrf = await _csrf(page)
    answer = await page.request.post(
        console.url(f"/agents/groups/{group_id}/agents"), form={"csrf_token": csrf, "size": "1"}
    )
    assert answer.status == 404
    answer = await page.request.get(console.url(f"/scripts/{script_id}"))
    assert answer.status == 404
    answer = await page.request.post(
        console.url(f"/scripts/{script_id}"),
        form={"csrf_token": csrf, "script": json.dumps(scripts.example_document())},
    )
    assert answer.status == 404
    listed = await console.b.api.query_seat_groups(current=1, size=10)
    assert [g["countSeat"] for g in listed.data["records"]] == [0]


async def test_scripts_are_added_from_the_example_and_edited_as_the_api_checks_them(
    console: Console, context: BrowserContext, shot: Shot
) -> None:
    page = await _signed_in(console, context, console.a.username)
    await page.click("nav >> text=AI scripts")
    await page.wait_for_url(console.url("/scripts"))
    await expect(page.locator("#scripts tbody")).to_contain_text("No script yet")
    draft = await page.locator("#add-script textarea").input_value()
    assert json.loads(draft) == scripts.example_document()
    await page.click("#add-script button[type=submit]")
    await expect(page.get_by_role("status")).to_have_text("Script added.")
    script_id = int(page.url.rsplit("/", 1)[-1].split("?")[0])

    await page.click("text=All scripts")
    row = page.locator(f"#scripts tr[data-script='{script_id}']")
    await expect(row).to_contain_text("Payment reminder")
    await expect(row.locator(".language")).to_have_text("en")
    await shot(page, "scripts")

    # a goto to a node that does not exist: the API's reason, naming node and field
    await page.goto(console.url(f"/scripts/{script_id}"))
    text = await page.locator("#edit-script textarea").input_value()
    document = json.loads(text)
    document["nodes"]["identify"]["dtmf"]["1"] = [{"type": "goto", "node": "nowhere"}]
    broken = json.dumps(document, indent=2)
    await page.fill("#edit-script textarea", broken)
    await page.click("#edit-script button[type=submit]")
    await expect(page.get_by_role("alert")).to_contain_text(
        '-22 Parameter exception: script.nodes.identify.dtmf.1[0].node: node "nowhere" '
        "does not exist"
    )
    # the broken text stays in the box to fix
    assert json.loads(await page.locator("#edit-script textarea").input_value()) == document
    await page.fill("#edit-script textarea", "{not json")
    await page.click("#edit-script button[type=submit]")
    await expect(page.get_by_role("alert")).to_contain_text("script: not JSON")

    document["nodes"]["identify"]["dtmf"]["1"] = [{"type": "goto", "node": "ask_date"}]
    document["name"] = "Payment reminder, second letter"
    await page.fill("#edit-script textarea", json.dumps(document, indent=2))
    await page.click("#edit-script button[type=submit]")
    await expect(page.get_by_role("status")).to_have_text("Script saved.")
    await expect(page.locator("#script-name")).to_have_text("Payment reminder, second letter")

    listed = await _aivoice(console, console.a, "dialogFlowList", {"appId": console.a.app_id})
    assert listed["status"] == "0", listed
    assert [(s["dialogFlowId"], s["name"]) for s in listed["data"]] == [
        (script_id, "Payment reminder, second letter")
    ]
