"""The console's Do not call page in a real browser against a real `voxcast serve`: adding
(with a bad line refused), removing, a CSV import and the export, the audit trail, the API
seeing what the page changed, a read-only user refused and another account's list unseen."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, Page, expect

from tests.console.conftest import SHARED_LOOP, STEP_MS, Console, Shot, sign_in
from voxcast import compliance

pytestmark = [pytest.mark.timeout(180), SHARED_LOOP]


async def _open(page: Page, console: Console, username: str, path: str = "/dnc") -> None:
    await sign_in(page, console, username)
    await page.wait_for_url(console.url("/dashboard"))
    await page.click("nav >> text=Do not call")
    await page.wait_for_url(console.url("/dnc"))
    if path != "/dnc":
        await page.goto(console.url(path))


def _csrf(token_header: str) -> str:
    return token_header.split('"')[3]


async def _shown(page: Page, table: str) -> list[list[str]]:
    rows = []
    for row in await page.locator(f"#{table} tbody tr").all():
        rows.append([c.strip() for c in await row.locator("td").all_inner_texts()])
    return rows


async def test_numbers_added_in_the_page_are_normalised_audited_and_seen_by_the_api(
    console: Console, context: BrowserContext, shot: Shot
) -> None:
    page = await context.new_page()
    await _open(page, console, console.a.username)
    await expect(page.locator("#dnc-total")).to_contain_text("0 numbers")

    # a bad line refuses the whole form and is named with its line; nothing is added
    await page.fill("#dnc-add textarea", "+1 202 555 0100\n12\n\n0086 130 0000 0001")
    await page.click("#dnc-add button[type=submit]")
    await expect(page.get_by_role("alert")).to_have_text("Nothing added: fix the lines below.")
    assert await _shown(page, "add-errors") == [
        ["2", "12", "not a phone number (a country code is needed)"]
    ]
    # the textarea keeps what was typed
    assert "0086 130 0000 0001" in await page.input_value("#dnc-add textarea")
    listed = await console.a.api.dnc_query(appId="")
    assert listed.data["total"] == 0

    # fixed, with a national spelling read in the chosen region
    await page.fill("#dnc-add textarea", "+1 202 555 0100\n(202) 555-0101\n0086 130 0000 0001")
    await page.select_option("#dnc-add select[name=region]", "US")
    await page.click("#dnc-add button[type=submit]")
    await expect(page.get_by_role("status")).to_have_text(
        "3 numbers added; 0 already listed or repeated."
    )
    await expect(page.locator("#dnc-total")).to_contain_text("3 numbers")
    numbers = [r[0] for r in await _shown(page, "dnc")]
    assert sorted(numbers) == ["+12025550100", "+12025550101", "+8613000000001"]
    assert all(r[1] == "console" for r in await _shown(page, "dnc"))
    await shot(page, "dnc")

    # the API sees the console's entries, on the account's list, with their source
    found = await console.a.api.dnc_query(appId="")
    assert found.code == "0", found
    assert sorted((r["number"], r["source"], r["appId"]) for r in found.data["records"]) == [
        ("+12025550100", "console", None),
        ("+12025550101", "console", None),
        ("+8613000000001", "console", None),
    ]

    # remove one; the list and the API agree, and its trail shows both changes by the user
    await page.locator("tr[data-number='+8613000000001'] button:text('Remove')").click()
    await expect(page.get_by_role("status")).to_have_text("Number removed.")
    await expect(page.locator("#dnc-total")).to_contain_text("2 numbers")
    assert await page.locator("tr[data-number='+8613000000001']").count() == 0
    gone = await console.a.api.dnc_query(appId="", numbers=["+8613000000001"])
    assert gone.data["total"] == 0

    await page.fill("#dnc-search", "8613000000001")
    await page.click("#dnc-pick button[type=submit]")
    await expect(page.locator("#dnc tbody")).to_contain_text("This number is not on this list.")
    trail = await _shown(page, "dnc-trail")
    assert [r[1:] for r in trail] == [
        ["add", "account", "console", console.a.username],
        ["remove", "account", "console", console.a.username],
    ]
    api_trail = await console.a.api.dnc_audit("+8613000000001")
    assert [(r["action"], r["source"], r["actor"]) for r in api_trail.data] == [
        ("add", "console", console.a.username),
        ("remove", "console", console.a.username),
    ]
    # and the console's own audit log has the changes
    await page.goto(console.url("/audit"))
    await expect(page.locator("#audit")).to_contain_text("dnc remove")
    await expect(page.locator("#audit")).to_contain_text("dnc add")


async def test_a_csv_imported_into_an_app_list_reports_refused_lines_and_exports_back(
    console: Console, context: BrowserContext, tmp_path: Path
) -> None:
    upload = tmp_path / "registry.csv"
    upload.write_text(
        "phone,name\n"
        "+44 20 7946 0000,Ann\n"
        "not a number,Bob\n"
        "0086 130 0000 0002,Cy\n"
        ",Dee\n"
        "+4420 7946 0000,Ann again\n",
        encoding="utf-8",
    )
    # the CLI's reading of the same file: the page must report exactly this
    with upload.open(newline="", encoding="utf-8-sig") as fh:
        good, bad = compliance.read_numbers(csv.reader(fh), None)
    assert len(bad) == 2 and len(set(good)) == 2

    page = await context.new_page()
    await _open(page, console, console.a.username, f"/dnc?list={console.a.app_id}")
    await expect(page.locator("h2").first).to_have_text(f"app {console.a.app_id}")
    await page.set_input_files("#dnc-import input[type=file]", str(upload))
    await page.click("#dnc-import button[type=submit]")
    await expect(page.locator("#import-result")).to_contain_text("registry.csv")
    await expect(page.locator("#import-added")).to_have_text("2")
    await expect(page.locator("#import-already")).to_have_text("1")
    await expect(page.locator("#import-refused")).to_have_text("2")
    assert await _shown(page, "import-errors") == [
        [str(line), value, reason] for line, value, reason in bad
    ]
    await expect(page.locator("#dnc-total")).to_contain_text("2 numbers")

    # only the app's list holds them (the account's list is empty)
    by_api = await console.a.api.dnc_query(appId=console.a.app_id)
    assert sorted(r["number"] for r in by_api.data["records"]) == [
        "+442079460000",
        "+8613000000002",
    ]
    assert (await console.a.api.dnc_query(appId="")).data["total"] == 0

    # the export holds the list exactly, as the CLI export writes it
    async with page.expect_download() as info:
        await page.click("#dnc-csv")
    download = await info.value
    assert download.suggested_filename == (
        f"voxcast-dnc-{console.a.account_id}-{console.a.app_id}.csv"
    )
    rows = list(csv.reader(io.StringIO((await download.path()).read_bytes().decode())))
    assert rows[0] == ["number", "appId", "source", "createdAt"]
    assert sorted((r[0], r[1], r[2]) for r in rows[1:]) == [
        ("+442079460000", console.a.app_id, "console"),
        ("+8613000000002", console.a.app_id, "console"),
    ]


async def test_a_viewer_cannot_change_the_list_and_another_account_sees_none_of_it(
    console: Console, context: BrowserContext
) -> None:
    added = await console.a.api.dnc_add(["+8613000000009"], app_id=console.a.app_id)
    assert added.code == "0", added
    await console.a.api.dnc_add(["+8613000000008"])

    # the viewer sees the lists but no form, and every change it posts is refused
    assert context.browser is not None
    viewer = await context.browser.new_context()
    try:
        vpage = await viewer.new_page()
        vpage.set_default_timeout(STEP_MS)
        await _open(vpage, console, console.readonly_user, f"/dnc?list={console.a.app_id}")
        await expect(vpage.locator("tr[data-number='+8613000000009']")).to_have_count(1)
        assert await vpage.locator("form[method=post][action*='/dnc']").count() == 0
        assert await vpage.locator("textarea").count() == 0
        csrf = _csrf(await vpage.evaluate("document.body.getAttribute('hx-headers')"))
        for path, form in (
            ("/dnc/add", {"numbers": "+8613000000007", "list": ""}),
            ("/dnc/remove", {"number": "+8613000000009", "list": console.a.app_id}),
        ):
            answer = await vpage.request.post(console.url(path), form={"csrf_token": csrf, **form})
            assert answer.status == 403, path
        imported = await vpage.request.post(
            console.url("/dnc/import"),
            multipart={
                "csrf_token": csrf,
                "list": "",
                "file": {"name": "x.csv", "mimeType": "text/csv", "buffer": b"+8613000000007\n"},
            },
        )
        assert imported.status == 403
    finally:
        await viewer.close()
    listed = await console.a.api.dnc_query()
    assert sorted(r["number"] for r in listed.data["records"]) == [
        "+8613000000008",
        "+8613000000009",
    ]

    # bob's pages show none of alice's numbers; her app's list is a 404 to read or write
    page = await context.new_page()
    await _open(page, console, console.b.username)
    await expect(page.locator("#dnc-total")).to_contain_text("0 numbers")
    options = await page.locator("#dnc-list option").evaluate_all("os => os.map(o => o.value)")
    assert options == ["", console.b.app_id]
    await page.fill("#dnc-search", "+8613000000008")
    await page.click("#dnc-pick button[type=submit]")
    await expect(page.locator("#dnc-trail tbody")).to_contain_text("No change of this number.")
    for path in (f"/dnc?list={console.a.app_id}", f"/dnc.csv?list={console.a.app_id}"):
        answer = await page.goto(console.url(path))
        assert answer is not None and answer.status == 404, path
    csrf = _csrf(await page.evaluate("document.body.getAttribute('hx-headers')"))
    for path, form in (
        ("/dnc/add", {"numbers": "+8613000000006", "list": console.a.app_id}),
        ("/dnc/remove", {"number": "+8613000000009", "list": console.a.app_id}),
    ):
        answer = await page.request.post(console.url(path), form={"csrf_token": csrf, **form})
        assert answer.status == 404, path
    # bob's whole-account export has only its header
    export = await page.request.get(console.url("/dnc.csv"))
    assert export.status == 200
    assert await export.text() == "number,appId,source,createdAt\r\n"
    assert (await console.a.api.dnc_query(appId=console.a.app_id)).data["total"] == 1
