"""The platform admin's console pages in a real browser against a real `voxcast serve`:
accounts and top-ups seen by getBalance, a rates import with its per-line report, a trunk added,
tested with one call to a SIPp UAS and retired, console users; owners are refused."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from playwright.async_api import BrowserContext, Page, expect

from tests.console.conftest import PASSWORD, SHARED_LOOP, Console, sign_in, unique
from tests.ports import HOST, bindable, free_port
from voxcast.client import AsyncVoxcastClient
from voxcast.clock import SystemClock
from voxcast.config import Settings
from voxcast.runtime import Runtime, open_runtime
from voxcast.services import console_users, rates
from voxcast.services.console_users import Role

pytestmark = [pytest.mark.timeout(180), SHARED_LOOP]

SIPP = shutil.which("sipp") or "/usr/bin/sipp"


@contextlib.asynccontextmanager
async def _runtime(console: Console) -> AsyncIterator[Runtime]:
    """A runtime on the console's database and key, to look at what the pages changed."""
    settings = Settings()
    settings.database_url, settings.data_dir, settings.secret_key = (
        console.cli.database_url,
        console.cli.data_dir,
        console.cli.secret_key,
    )
    rt = await open_runtime(settings, SystemClock())
    try:
        yield rt
    finally:
        await rt.close()


@pytest.fixture
async def admin(console: Console) -> str:
    """A platform admin of the test's own (the module's server is shared)."""
    name = unique("platform-root")
    async with _runtime(console) as rt, rt.sessions.begin() as session:
        await console_users.create_user(
            session,
            username=name,
            password=PASSWORD,
            role=Role.ADMIN,
            account_id=None,
            now=rt.clock.now(),
        )
    return name


async def _signed_in(context: BrowserContext, console: Console, user: str) -> Page:
    page = await context.new_page()
    await sign_in(page, console, user)
    await page.wait_for_url(lambda url: "/login" not in url)
    return page


async def _refusal(page: Page) -> str:
    """The reason of a refused form, without the vendor code's prefix."""
    await expect(page.locator("h1")).to_have_text("Not done")
    text = (await page.locator("main p").first.inner_text()).strip()
    return text.removeprefix("Parameter exception: ")


async def test_an_admin_creates_an_account_and_tops_it_up_as_get_balance_then_shows(
    console: Console, context: BrowserContext, admin: str
) -> None:
    page = await _signed_in(context, console, admin)
    await page.goto(console.url("/admin/accounts"))
    await page.fill("#create-account input[name=name]", "carol")
    await page.fill("#create-account input[name=balance]", "12.5")
    await page.click("#create-account button[type=submit]")
    await expect(page.locator("#created")).to_contain_text("created")
    key = await page.locator("#created-key").inner_text()
    secret = await page.locator("#created-secret").inner_text()
    async with AsyncVoxcastClient(console.base, key, secret, timeout=30) as carol:
        first = await carol.get_balance()
        assert (first.code, first.raw["balance"]) == ("0", "12.500000")

    # a top-up of alice's account, as `admin set-balance --amount +7.25`
    await page.goto(console.url(f"/admin/accounts/{console.a.account_id}"))
    await page.fill("#balance-form input[name=amount]", "+7.25")
    await page.click("#balance-form button[type=submit]")
    await expect(page.get_by_role("status")).to_have_text("Balance is now 107.250000.")
    topped = await console.a.api.get_balance()
    assert topped.raw["balance"] == "107.250000"

    # a bad amount names the field and changes nothing
    await page.goto(console.url(f"/admin/accounts/{console.a.account_id}"))
    await page.fill("#balance-form input[name=amount]", "ten")
    await page.click("#balance-form button[type=submit]")
    assert await _refusal(page) == "amount: 'ten' is not an amount"
    assert (await console.a.api.get_balance()).raw["balance"] == "107.250000"

    # account settings as `admin set-account`; a bad one names its field
    await page.goto(console.url(f"/admin/accounts/{console.a.account_id}"))
    await page.fill("#settings-form input[name=maxCps]", "4")
    await page.fill("#settings-form input[name=callingHours]", "08:00-20:00")
    await page.click("#settings-form button[type=submit]")
    await expect(page.get_by_role("status")).to_contain_text("maxCps 4,")
    await expect(page.get_by_role("status")).to_contain_text("callingHours 08:00-20:00")
    await page.goto(console.url(f"/admin/accounts/{console.a.account_id}"))
    await page.fill("#settings-form input[name=timezone]", "Mars/Olympus")
    await page.click("#settings-form button[type=submit]")
    assert await _refusal(page) == "timezone: 'Mars/Olympus' is not an IANA zone"

    # the account's audit log shows the admin's changes
    await page.goto(console.url(f"/admin/accounts/{console.a.account_id}"))
    actions = await page.locator("table tbody tr td:nth-child(3)").all_inner_texts()
    assert actions[:2] == ["account settings", "balance adjusted"]


async def test_an_owner_is_refused_every_admin_page_and_post(
    console: Console, context: BrowserContext
) -> None:
    page = await _signed_in(context, console, console.a.username)
    for path in ("/admin/accounts", "/admin/rates", "/admin/trunks", "/admin/users"):
        answer = await page.goto(console.url(path))
        assert answer is not None and answer.status == 403, path
        await expect(page.locator("main p").first).to_have_text(
            "only a platform admin may open this page"
        )
    cookies = {c["name"]: c["value"] for c in await context.cookies()}
    async with httpx.AsyncClient(cookies=cookies, timeout=30) as http:
        posted = await http.post(
            console.url(f"/admin/accounts/{console.a.account_id}/balance"),
            data={"amount": "+1000"},
        )
    assert posted.status_code == 403
    assert (await console.a.api.get_balance()).raw["balance"] == "100.000000"


async def test_a_post_without_its_csrf_token_is_refused(
    console: Console, context: BrowserContext, admin: str
) -> None:
    await _signed_in(context, console, admin)
    cookies = {c["name"]: c["value"] for c in await context.cookies()}
    async with httpx.AsyncClient(cookies=cookies, timeout=30) as http:
        posted = await http.post(
            console.url(f"/admin/accounts/{console.a.account_id}/balance"),
            data={"amount": "+1000"},
        )
    assert posted.status_code == 403
    assert "security token" in posted.text
    assert (await console.a.api.get_balance()).raw["balance"] == "100.000000"


async def test_a_rates_import_reports_each_bad_line_and_sets_the_good_ones(
    console: Console, context: BrowserContext, admin: str, tmp_path: Path
) -> None:
    good = [f"{4400 + i},0.0{i % 9 + 1},UK {i}" for i in range(30)]
    bad = ["44x,0.01", "4477,cheap", "4478,-1", "justone"]
    csv_file = tmp_path / "rates.csv"
    csv_file.write_text("prefix,rate,description\n" + "\n".join(good + bad) + "\n")
    page = await _signed_in(context, console, admin)
    await page.goto(console.url("/admin/rates"))
    await page.fill("#rates-import input[name=account]", str(console.b.account_id))
    await page.set_input_files("#rates-import input[name=file]", str(csv_file))
    await page.click("#rates-import button[type=submit]")
    await expect(page.locator("#import-report")).to_have_text(
        f"rates.csv: imported 30 rates into account {console.b.account_id}; 4 lines skipped."
    )
    rows = [
        [c.strip() for c in await row.locator("td").all_inner_texts()]
        for row in await page.locator("#import-errors tbody tr").all()
    ]
    assert rows == [
        ["32", "prefix", "44x", "'44x' is not digits"],
        ["33", "rate", "cheap", "'cheap' is not a number"],
        ["34", "rate", "-1", "must be a non-negative number"],
        ["35", "(line)", "justone", "expected prefix,rate[,description]"],
    ]
    # the account's list now: its own "" rate from the fixture and the 30, 25 to a page
    await expect(page.locator("h2").last).to_have_text(f"Account {console.b.account_id}: 31 rates")
    assert await page.locator("#rates tbody tr").count() == 25
    await page.click("text=Next")
    assert await page.locator("#rates tbody tr").count() == 6
    await expect(page.locator("#rates tbody tr").last).to_contain_text("UK 29")
    async with _runtime(console) as rt, rt.readonly() as session:
        book = await rates.load_rate_book(session, console.b.account_id)
    assert book.lookup("44051234") == Decimal("0.06")

    # no file: the reason names the field
    await page.goto(console.url("/admin/rates"))
    await page.click("#rates-import button[type=submit]")
    assert await _refusal(page) == "file: choose a rates CSV file (prefix,rate[,description])"


async def _sipp_uas(port: int) -> asyncio.subprocess.Process:
    """SIPp's built-in UAS on `port`: answers one INVITE with 200 and waits for the BYE."""
    proc = await asyncio.create_subprocess_exec(
        SIPP, "-sn", "uas", "-i", HOST, "-p", str(port), "-m", "1", "-nostdin",
        "-timeout", "60s",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    for _ in range(100):  # up to 2 s for SIPp to hold its port
        if proc.returncode is not None or not bindable(port, socket.SOCK_DGRAM):
            break
        await asyncio.sleep(0.02)
    assert proc.returncode is None, f"SIPp exited with {proc.returncode}"
    return proc


async def test_a_trunk_is_added_tested_against_a_sipp_uas_and_retired(
    console: Console, context: BrowserContext, admin: str, tmp_path: Path
) -> None:
    port = free_port()
    console.cli.extra_env["COLUMNS"] = "200"  # the CLI's table unabridged
    page = await _signed_in(context, console, admin)
    await page.goto(console.url("/admin/trunks"))
    form = page.locator("#trunk-add")
    await form.locator("input[name=name]").fill("sipp")
    await form.locator("input[name=host]").fill(HOST)
    await form.locator("input[name=port]").fill(str(port))
    await form.locator("button[type=submit]").click()
    await expect(page.get_by_role("status")).to_have_text("Trunk sipp added.")
    row = page.locator("#trunks tr[data-trunk=sipp]")
    await expect(row.locator("td.state")).to_have_text("not asked (no registration)")
    listed = console.cli.run("admin", "trunk", "list")
    assert f"{HOST}:{port}" in listed.stdout

    # a second trunk asking for registration without a user: refused naming the field
    await form.locator("input[name=name]").fill("reg")
    await form.locator("input[name=host]").fill(HOST)
    await form.locator("input[name=register]").check()
    await form.locator("button[type=submit]").click()
    assert await _refusal(page) == "register needs username"
    # with one: this serve dials inline, and registers a trunk once a call uses it
    await page.goto(console.url("/admin/trunks"))
    await form.locator("input[name=name]").fill("reg")
    await form.locator("input[name=host]").fill(HOST)
    await form.locator("input[name=username]").fill("voxcast")
    await form.locator("input[name=register]").check()
    await form.locator("button[type=submit]").click()
    await expect(page.locator("#trunks tr[data-trunk=reg] td.state")).to_have_text(
        "not started (registers on its first call)"
    )

    uas = await _sipp_uas(port)
    try:
        await page.goto(console.url("/admin/trunks"))
        await row.locator("input[name=number]").fill("15550001111")
        await row.locator("button", has_text="Test call").click()
        await expect(page.locator("#test-code")).to_have_text("200")
        await expect(page.locator("#test-reason")).to_have_text("normal clearing")
        await expect(page.locator("#test-trace")).to_contain_text(
            f"→ {HOST}:{port}  INVITE sip:15550001111@{HOST}:{port}"
        )
        await expect(page.locator("#test-trace")).to_contain_text(f"← {HOST}:{port}  200 OK")
        assert await asyncio.wait_for(uas.wait(), 30) == 0
    finally:
        if uas.returncode is None:
            uas.kill()
            await uas.wait()

    await page.locator("#trunks tr[data-trunk=sipp] button", has_text="Retire").click()
    await expect(page.get_by_role("status")).to_have_text("Trunk sipp removed.")
    assert f"{HOST}:{port}" not in console.cli.run("admin", "trunk", "list").stdout

    # the platform's audit log: what belongs to no account
    await page.goto(console.url("/admin/users"))
    logged = [
        [c.strip() for c in (await row.locator("td").all_inner_texts())[1:4]]
        for row in await page.locator("#audit tbody tr").all()
    ]
    assert logged[:4] == [
        [admin, "trunk removed", "sipp"],
        [admin, "trunk tested", "sipp to 15550001111: 200 normal clearing"],
        [admin, "trunk added", f"reg: {HOST}:DNS over udp"],
        [admin, "trunk added", f"sipp: {HOST}:{port} over udp"],
    ]


async def test_an_admin_creates_console_users_who_can_sign_in(
    console: Console, context: BrowserContext, admin: str
) -> None:
    page = await _signed_in(context, console, admin)
    await page.goto(console.url("/admin/users"))
    form = page.locator("#user-create")
    viewer_name = unique("bob-viewer")
    await form.locator("input[name=username]").fill(viewer_name)
    await form.locator("select[name=role]").select_option("readonly")
    await form.locator("input[name=account_id]").fill(str(console.b.account_id))
    await form.locator("input[name=password]").fill(PASSWORD)
    await form.locator("button[type=submit]").click()
    await expect(page.get_by_role("status")).to_contain_text(
        f"{viewer_name} (readonly of account {console.b.account_id}) created."
    )
    users = await page.locator("#users tbody tr td:nth-child(2)").all_inner_texts()
    # the module's server holds other tests' users too: this test's, in the list's order
    ours = [admin, console.a.username, console.b.username, console.readonly_user, viewer_name]
    assert [user for user in users if user in ours] == ours

    # an owner without an account, and one of an account that does not exist
    for account, reason in (("", "account-id: a owner user needs an account"),
                            ("999999", "account-id: account 999999 does not exist")):  # fmt: skip
        await page.goto(console.url("/admin/users"))
        await form.locator("input[name=username]").fill("someone")
        await form.locator("select[name=role]").select_option("owner")
        await form.locator("input[name=account_id]").fill(account)
        await form.locator("input[name=password]").fill(PASSWORD)
        await form.locator("button[type=submit]").click()
        assert await _refusal(page) == reason

    other = await context.browser.new_context() if context.browser else None
    assert other is not None
    try:
        viewer = await other.new_page()
        await sign_in(viewer, console, viewer_name)
        await viewer.wait_for_url(console.url("/dashboard"))
        await expect(viewer.locator("h1")).to_have_text("bob")
    finally:
        await other.close()
