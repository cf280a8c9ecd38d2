"""The web console in a real browser (headless Debian chromium through Playwright) against a
real `voxcast serve`: signing in and its throttle, CSRF refusals, a task's live progress,
pause and resume from the page, the CSV export, developer settings, tenant isolation."""

from __future__ import annotations

import asyncio
import csv
import io
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from playwright.async_api import BrowserContext, Page, expect

from tests.console.conftest import (
    LOGIN_FAILURES,
    PASSWORD,
    SHARED_LOOP,
    STEP_MS,
    Console,
    Shot,
    Tenant,
    sign_in,
)
from voxcast.client import AsyncVoxcastClient

pytestmark = [pytest.mark.timeout(180), SHARED_LOOP]

#: sandbox outcomes by last digit: 0 answered, 1 presses 1, 3 hangs up after 3 s, 5 busy,
#: 6 rejected
NUMBERS = ["8613000000010", "8613000000021", "8613000000033", "8613000000045", "8613000000056"]


async def _send(t: Tenant, name: str, numbers: list[str], **extra: object) -> int:
    sent = await t.api.send_group_call(
        appId=t.app_id,
        taskName=name,
        source=3,
        text="Hello from the console test.",
        lan="EN",
        maxRingingTime=20,
        maxCalls=60,
        loopCount=1,
        numberInfoList=[{"calleeNumber": n} for n in numbers],
        **extra,  # type: ignore[typeddict-item]
    )
    assert sent.code == "0", sent
    return int(sent.data)


async def _status(t: Tenant, task_id: int) -> int:
    detail = await t.api.group_call_detail(task_id)
    assert detail.code == "0", detail
    return int(detail.data["status"])


def _later(days: int = 2) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).strftime("%Y-%m-%d %H:%M:%S")


async def _audit(page: Page) -> list[list[str]]:
    """The audit log's rows as shown, without their time: who, what, detail, address."""
    rows = []
    for row in await page.locator("#audit tbody tr").all():
        rows.append([c.strip() for c in (await row.locator("td").all_inner_texts())[1:]])
    return rows


async def _wait_finished(t: Tenant, task_id: int, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while await _status(t, task_id) != 2:
        assert time.monotonic() < deadline, f"task {task_id} did not finish"
        await asyncio.sleep(0.2)


async def test_sign_in_opens_the_dashboard_and_a_wrong_password_is_refused(
    console: Console, context: BrowserContext
) -> None:
    page = await context.new_page()
    await sign_in(page, console, console.a.username, "not the password")
    await expect(page.get_by_role("alert")).to_have_text("Wrong user name or password.")
    assert page.url.startswith(console.url("/login"))

    await sign_in(page, console, console.a.username)
    await page.wait_for_url(console.url("/dashboard"))
    await expect(page.locator("h1")).to_have_text("alice")
    await expect(page.locator("#balance")).to_have_text("100.00")
    cookie = next(c for c in await context.cookies() if c["name"] == "voxcast_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/console"
    # plain http on loopback: the Secure flag is set only over https (docs/console.md)
    assert not cookie["secure"]

    # signing out ends the session: the old cookie no longer opens a page
    await page.click("text=Sign out")
    await page.wait_for_url(console.url("/login"))
    await page.goto(console.url("/dashboard"))
    assert page.url.startswith(console.url("/login?next="))


async def test_wrong_passwords_are_throttled_even_before_the_right_one(
    console: Console, context: BrowserContext
) -> None:
    page = await context.new_page()
    for _ in range(LOGIN_FAILURES):
        await sign_in(page, console, console.a.username, "wrong password")
        await expect(page.get_by_role("alert")).to_have_text("Wrong user name or password.")
    await sign_in(page, console, console.a.username)
    await expect(page.get_by_role("alert")).to_contain_text(
        "too many failed sign-ins; try again in"
    )
    assert page.url.startswith(console.url("/login"))
    # another user from the same browser is not held up
    await sign_in(page, console, console.readonly_user)
    await page.wait_for_url(console.url("/dashboard"))


async def test_posts_without_the_csrf_token_are_refused(
    console: Console, context: BrowserContext
) -> None:
    task_id = await _send(console.a, "csrf target", NUMBERS[:1], sendTime=_later())
    page = await context.new_page()
    # the sign-in form itself: no token, no session
    refused = await page.request.post(
        console.url("/login"),
        form={"username": console.a.username, "password": PASSWORD},
        max_redirects=0,
    )
    assert refused.status == 403
    await sign_in(page, console, console.a.username)
    await page.wait_for_url(console.url("/dashboard"))
    # the browser's cookies, but no token (what a cross-site form could send)
    for form in ({}, {"csrf_token": "forged"}):
        answer = await page.request.post(console.url(f"/tasks/{task_id}/pause"), form=form)
        assert answer.status == 403
        assert "security token" in (await answer.text())
    assert await _status(console.a, task_id) == 0


async def test_a_task_sent_through_the_api_shows_live_progress_in_the_page_and_finishes(
    console: Console, context: BrowserContext, shot: Shot
) -> None:
    # scheduled for later, so it waits however slowly this test runs (at sandbox speed 50 a
    # task sent for now can finish before a pause reaches it)
    task_id = await _send(console.a, "live progress", NUMBERS, sendTime=_later())
    page = await context.new_page()
    await sign_in(page, console, console.a.username)
    await page.wait_for_url(console.url("/dashboard"))
    # the dashboard lists it as waiting
    await expect(page.locator(f"#task-table tr[data-task='{task_id}'] .status")).to_have_text(
        "waiting"
    )
    await shot(page, "dashboard")
    await page.goto(console.url(f"/tasks/{task_id}"))
    await expect(page.locator("#task-status")).to_have_text("waiting")
    await page.evaluate("window.voxcastMarker = 1")  # gone if the page were reloaded
    # moved to now: it starts, and the page follows it to the end without a reload
    moved = await console.a.api.update_group_call(
        keyId=task_id, appId=console.a.app_id, taskName="live progress", source=3,
        text="Hello from the console test.", lan="EN", maxRingingTime=20, maxCalls=60,
        loopCount=1,
    )  # fmt: skip
    assert moved.code == "0", moved
    await expect(page.locator("#task-status")).to_have_text("finished", timeout=90_000)
    await expect(page.locator("#task-called")).to_have_text(str(len(NUMBERS)))
    await expect(page.locator("#task-answered")).to_have_text("3")
    await expect(page.locator("#task-rate")).to_have_text("100.00%")
    await shot(page, "task")
    assert await page.evaluate("window.voxcastMarker") == 1


async def test_pause_and_resume_from_the_page_change_the_task_through_the_services(
    console: Console, context: BrowserContext
) -> None:
    task_id = await _send(console.a, "pause me", NUMBERS[:2], sendTime=_later())
    page = await context.new_page()
    await sign_in(page, console, console.a.username)
    await page.wait_for_url(console.url("/dashboard"))
    await page.goto(console.url(f"/tasks/{task_id}"))
    await page.click("button:text('Pause')")
    await expect(page.get_by_role("status")).to_have_text("Task paused.")
    await expect(page.locator("#task-status")).to_have_text("paused")
    assert await _status(console.a, task_id) == 5
    await page.click("button:text('Resume')")
    await expect(page.locator("#task-status")).to_have_text("waiting")
    assert await _status(console.a, task_id) == 0
    # the audit log says who did it
    await page.goto(console.url("/audit"))
    assert (await _audit(page))[:2] == [
        [console.a.username, "task resume", f"task {task_id}", "127.0.0.1"],
        [console.a.username, "task pause", f"task {task_id}", "127.0.0.1"],
    ]

    # a read-only user sees the task but cannot change it
    assert context.browser is not None
    viewer = await context.browser.new_context()
    try:
        vpage = await viewer.new_page()
        vpage.set_default_timeout(STEP_MS)
        await sign_in(vpage, console, console.readonly_user)
        await vpage.wait_for_url(console.url("/dashboard"))
        await vpage.goto(console.url(f"/tasks/{task_id}"))
        await expect(vpage.locator("#task-status")).to_have_text("waiting")
        assert await vpage.locator("button:text('Pause')").count() == 0
        token = await vpage.evaluate("document.body.getAttribute('hx-headers')")
        csrf = token.split('"')[3]
        answer = await vpage.request.post(
            console.url(f"/tasks/{task_id}/pause"), form={"csrf_token": csrf}
        )
        assert answer.status == 403
    finally:
        await viewer.close()
    assert await _status(console.a, task_id) == 0


async def _api_records(client: AsyncVoxcastClient, task_id: int) -> list[dict[str, object]]:
    now = datetime.now(UTC)
    window = {
        "strTime": (now - timedelta(days=1)).isoformat(timespec="seconds"),
        "endTime": (now + timedelta(days=20)).isoformat(timespec="seconds"),
    }
    got = await client.query_records(current=1, size=100, taskId=task_id, **window)  # type: ignore[arg-type]
    assert got.code == "0", got
    return list(got.data["records"])


async def test_the_csv_export_holds_exactly_the_filtered_records(
    console: Console, context: BrowserContext, shot: Shot
) -> None:
    task_id = await _send(console.a, "export me", NUMBERS)
    await _send(console.b, "not mine", NUMBERS[:2])
    await _wait_finished(console.a, task_id)
    expected_records = sorted(
        await _api_records(console.a.api, task_id),
        key=lambda r: (r["submitTime"], r["voiceId"]),
        reverse=True,
    )
    assert len(expected_records) == len(NUMBERS)

    def expected(rows: list[dict[str, object]]) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(
            [
                "voiceId",
                "taskId",
                "callee",
                "displayNum",
                "submitTime",
                "answerTime",
                "hangupTime",
                "callDuration",
                "chargedDuration",
                "cost",
                "sipCode",
                "terminationReason",
                "feedbackValue",
            ]
        )
        for r in rows:
            writer.writerow(
                [
                    r["voiceId"],
                    task_id,
                    r["callee"],
                    r["displayNum"] or "",
                    r["submitTime"],
                    r["answerTime"] or "",
                    r["hangupTime"] or "",
                    r["callDuration"],
                    r["chargedDuration"],
                    r["cost"],
                    r["sipCode"],
                    r["terminationReason"],
                    r["feedbackValue"],
                ]
            )
        return out.getvalue()

    page = await context.new_page()
    await sign_in(page, console, console.a.username)
    await page.wait_for_url(console.url("/dashboard"))
    # the week's figures and charts: today's bar holds alice's five calls (three answered),
    # not bob's two; the days before are empty
    await expect(page.locator("#calls-week")).to_have_text(str(len(NUMBERS)))
    await expect(page.locator("#answer-rate-week")).to_have_text("60.0%")
    bars = page.locator("#chart-calls g.bar")
    await expect(bars).to_have_count(7)
    heights = [
        await bars.nth(i).locator("rect").evaluate_all("rs => rs.map(r => r.dataset.value)")
        for i in range(7)
    ]
    # (a run across midnight splits them over the last two days)
    assert heights[:5] == [["0", "0"]] * 5
    assert [sum(int(h[k]) for h in heights) for k in (0, 1)] == [3, 2]
    cost = sum(float(str(r["cost"])) for r in expected_records)
    await expect(page.locator("#cost-week")).to_have_text(f"{cost:.4f}")
    await page.goto(console.url(f"/records?task={task_id}"))
    await expect(page.locator("#records-total")).to_contain_text(f"{len(NUMBERS)} records")
    await shot(page, "records")
    async with page.expect_download() as info:
        await page.click("#csv-link")
    download = await info.value
    assert download.suggested_filename == f"voxcast-records-{console.a.account_id}.csv"
    assert (await download.path()).read_bytes().decode() == expected(expected_records)

    # filtered to answered calls: the page and its export agree
    await page.select_option("select[name=outcome]", "answered")
    await page.click("button:text('Filter')")
    await expect(page.locator("#records-total")).to_contain_text("3 records")
    async with page.expect_download() as info:
        await page.click("#csv-link")
    download = await info.value
    answered = [r for r in expected_records if r["answerTime"]]
    assert len(answered) == 3
    assert (await download.path()).read_bytes().decode() == expected(answered)


async def test_an_owner_gets_404_for_another_accounts_task_by_editing_the_url(
    console: Console, context: BrowserContext, shot: Shot
) -> None:
    theirs = await _send(console.b, "bob's task", NUMBERS[:1], sendTime=_later())
    mine = await _send(console.a, "alice's task", NUMBERS[:1], sendTime=_later())
    page = await context.new_page()
    await sign_in(page, console, console.a.username)
    await page.wait_for_url(console.url("/dashboard"))
    first = await page.goto(console.url(f"/tasks/{mine}"))
    assert first is not None and first.status == 200
    for path in (f"/tasks/{theirs}", f"/tasks/{theirs}/progress", "/tasks/99999"):
        answer = await page.goto(console.url(path))
        assert answer is not None and answer.status == 404, path
    await expect(page.locator("h1")).to_have_text("Not found")
    csrf = (await page.evaluate("document.body.getAttribute('hx-headers')")).split('"')[3]
    paused = await page.request.post(
        console.url(f"/tasks/{theirs}/pause"), form={"csrf_token": csrf}
    )
    assert paused.status == 404
    assert await _status(console.b, theirs) == 0
    # bob's task appears in no list of alice's
    await page.goto(console.url("/tasks"))
    await expect(page.locator(f"tr[data-task='{mine}']")).to_have_count(1)
    await expect(page.locator(f"tr[data-task='{theirs}']")).to_have_count(0)
    await shot(page, "tasks")


async def test_a_key_created_in_the_page_signs_api_requests_and_a_test_push_shows_the_answer(
    console: Console, context: BrowserContext, shot: Shot
) -> None:
    page = await context.new_page()
    await sign_in(page, console, console.a.username)
    await page.wait_for_url(console.url("/dashboard"))
    await page.goto(console.url("/developer"))
    await page.click("#create-key")
    api_key = await page.locator("#new-api-key").inner_text()
    secret = await page.locator("#new-api-secret").inner_text()
    async with AsyncVoxcastClient(console.base, api_key, secret) as client:
        balance = await client.get_balance()
    assert balance.code == "0" and balance.raw["balance"] == "100.000000"
    # the secret is shown once: the page shows the key, never its secret again
    await page.goto(console.url("/developer"))
    await expect(page.locator("#keys")).to_contain_text(api_key)
    assert secret not in await page.content()

    # a push URL on a receiver that answers 418 with a body: the page shows both
    receiver = _Receiver()
    try:
        row = page.locator(f"table.app[data-app='{console.a.app_id}'] tr", has_text="Status report")
        await row.locator("input[name=url]").fill(receiver.url)
        await row.locator("button:text('Save')").click()
        await expect(page.get_by_role("status")).to_have_text("Push URL saved.")
        await row.locator("button.test-push").click()
        answer = row.locator(".push-answer")
        await expect(answer).to_contain_text("answered HTTP 418")
        await expect(answer).to_contain_text("short and stout")
        await shot(page, "developer")
        assert receiver.bodies and b'"test":true' in receiver.bodies[0]
    finally:
        receiver.close()
    await page.goto(console.url("/audit"))
    assert [console.a.username, "api key created", api_key, "127.0.0.1"] in await _audit(page)
    await shot(page, "audit")


class _Receiver:
    """A loopback HTTP server in a thread that answers every POST with 418 and a body."""

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        from tests import ports

        bodies: list[bytes] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
                self.send_response(418)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"I'm a teapot, short and stout")

            def log_message(self, *args: object) -> None:
                pass

        import socket

        self.server = ThreadingHTTPServer(
            ("127.0.0.1", ports.free_port(socket.SOCK_STREAM)), Handler
        )
        self.bodies = bodies
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/push"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


async def test_the_console_is_served_without_any_outside_asset(console: Console) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        page = (await http.get(console.url("/login"))).text
        js = await http.get(console.url("/static/htmx.min.js"))
    assert "://" not in page
    assert js.status_code == 200 and 'version:"2.0.3"' in js.text


async def test_a_finished_task_is_called_again_from_its_page(
    console: Console, context: BrowserContext
) -> None:
    task_id = await _send(console.a, "first round", NUMBERS)
    theirs = await _send(console.b, "bob's round", NUMBERS[:1])
    await _wait_finished(console.a, task_id)
    page = await context.new_page()
    await sign_in(page, console, console.a.username)
    await page.wait_for_url(console.url("/dashboard"))
    await page.goto(console.url(f"/tasks/{task_id}"))
    # the API's rule for the name, in its words
    await page.fill("#resend input[name=taskName]", "x")
    await page.click("#resend button[type=submit]")
    await expect(page.locator("main")).to_contain_text("taskName")
    await page.goto(console.url(f"/tasks/{task_id}"))
    await expect(page.locator("#resend input[name=taskName]")).to_have_value("first round again")
    await page.select_option("#resend select[name=resendType]", "1")
    await page.click("#resend button[type=submit]")
    await page.wait_for_url(lambda url: "/tasks/" in url and f"/tasks/{task_id}" not in url)
    new_id = int(page.url.rsplit("/", 1)[-1])
    detail = await console.a.api.group_call_detail(new_id)
    assert detail.code == "0", detail
    # the two that were busy and rejected, nothing else
    assert (detail.data["taskName"], detail.data["numCnt"]) == ("first round again", 2)
    await page.goto(console.url("/audit"))
    assert (await _audit(page))[0] == [
        console.a.username,
        "task resent",
        f"task {new_id} from task {task_id}",
        "127.0.0.1",
    ]
    # another account's task is not found; a task still waiting cannot be resent
    csrf = (await page.evaluate("document.body.getAttribute('hx-headers')")).split('"')[3]
    form = {"csrf_token": csrf, "taskName": "again", "resendType": "0"}
    await _wait_finished(console.b, theirs)
    answer = await page.request.post(console.url(f"/tasks/{theirs}/resend"), form=form)
    assert answer.status == 404
    waiting = await _send(console.a, "not yet", NUMBERS[:1], sendTime=_later())
    answer = await page.request.post(console.url(f"/tasks/{waiting}/resend"), form=form)
    assert answer.status == 400
