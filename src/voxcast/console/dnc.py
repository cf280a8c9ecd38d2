"""The console's do-not-call page: one list at a time (the account's or an app's), search, add,
remove, CSV import and export, and a number's audit trail, all through `voxcast.compliance`."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse, StreamingResponse
from starlette.datastructures import UploadFile

from voxcast import compliance
from voxcast.console.pages import (
    BASE,
    PAGE_SIZE,
    ConsoleRoute,
    _account_user,
    _cell,
    _page,
    _rt,
    _stamp,
    _writer_form,
    render,
)
from voxcast.domain.codes import ApiError, Code
from voxcast.runtime import Runtime
from voxcast.services import accounts, console_users, keys
from voxcast.services.console_users import Principal

router = APIRouter(prefix=BASE, route_class=ConsoleRoute, include_in_schema=False)

#: lines one add form may hold (a larger list is a CSV import)
MAX_LINES = 1000
#: numbers written per statement batch on import, as the CLI's import
IMPORT_BATCH = 10_000
#: refused lines an import answer lists (all of them are counted)
SHOWN_REFUSALS = 200
#: an uploaded file larger than this is refused (the CLI takes any size)
MAX_UPLOAD = 20 * 1024 * 1024
#: entries of a number's audit trail shown
TRAIL = 200
EXPORT_COLUMNS = ["number", "appId", "source", "createdAt"]
_DONE = {"removed": "Number removed."}


def _region(raw: str) -> str | None:
    """The region select's value: empty (international spellings only) or an ISO code."""
    code = raw.strip().upper()
    if not code:
        return None
    if code not in compliance.regions():
        raise ApiError(Code.PARAMETER, f"region: {code[:8]} is no country code")
    return code


async def _list_of(rt: Runtime, account_id: int, app_id: str) -> str:
    """The list `app_id` names ("" the account's); another account's app is a 404."""
    if app_id:
        async with rt.readonly() as session:
            await accounts.require_app(session, account_id, app_id)
    return app_id


def _list_name(app_id: str) -> str:
    return f"app {app_id}" if app_id else "account list"


async def _page_of(
    request: Request, who: Principal, app_id: str, *, status: int = 200, **extra: Any
) -> Response:
    """The page for list `app_id`: a page of its entries (or of the searched number) and,
    for a searched number, its audit trail over all the account's lists."""
    assert who.account_id is not None
    rt = _rt(request)
    q = request.query_params
    search = q.get("number", "").strip()[:40]
    page = _page(request)
    found: str | None = None
    search_error = None
    if search:
        try:
            found = compliance.normalize(search, _region(q.get("region", "")))
        except compliance.BadNumber as err:
            search_error = f"{search}: {err}"
    async with rt.readonly() as session:
        apps = await keys.list_apps(session, who.account_id)
        if app_id:
            await accounts.require_app(session, who.account_id, app_id)
        rows, total = await compliance.entry_page(
            session,
            who.account_id,
            app_id=app_id,
            numbers=None if not search else ([found] if found else []),
            current=page,
            size=PAGE_SIZE,
        )
        trail = (
            await compliance.audit_trail(session, who.account_id, found, limit=TRAIL)
            if found
            else []
        )
    notice = _DONE.get(q.get("done", ""))
    return render(
        "dnc.html",
        who,
        status,
        here="dnc",
        apps=apps,
        list_id=app_id,
        list_name=_list_name(app_id),
        entries=rows,
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        search=search,
        found=found,
        search_error=search_error,
        trail=trail,
        regions=compliance.regions(),
        list_query=urlencode({"list": app_id}),
        query=urlencode({k: v for k, v in (("list", app_id), ("number", search)) if v}),
        notice=extra.pop("notice", notice),
        **extra,
    )


@router.get("/dnc")
async def dnc_page(request: Request) -> Response:
    who = await _account_user(request)
    return await _page_of(request, who, request.query_params.get("list", "").strip()[:32])


@router.post("/dnc/add")
async def dnc_add(request: Request) -> Response:
    """Add the textarea's numbers (one a line, any spelling). A line that is no number refuses
    the whole form, as the API refuses the whole request, and the page lists every bad line."""
    who, fields = await _writer_form(request)
    assert who.account_id is not None
    rt = _rt(request)
    app_id = await _list_of(rt, who.account_id, fields.get("list", "").strip()[:32])
    region_raw = fields.get("region", "")
    region = _region(region_raw)
    text = fields.get("numbers", "")
    lines = text.splitlines()
    if len(lines) > MAX_LINES:
        raise ApiError(Code.PARAMETER, f"at most {MAX_LINES} lines; import a CSV for more")
    good: list[str] = []
    bad: list[tuple[int, str, str]] = []
    for line, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            good.append(compliance.normalize(raw, region))
        except compliance.BadNumber as err:
            bad.append((line, raw.strip()[:40], str(err)))
    form = {"numbers": text, "region": region or ""}
    if bad or not good:
        error = "Nothing added: fix the lines below." if bad else "Give at least one number."
        return await _page_of(
            request, who, app_id, status=400, error=error, add_errors=bad, add_form=form
        )
    async with rt.sessions.begin() as session:
        added = await compliance.add(
            session,
            who.account_id,
            app_id,
            good,
            source=compliance.CONSOLE,
            actor=who.username,
            now=rt.clock.now(),
        )
        await console_users.audit(
            session,
            who,
            "dnc add",
            f"{_list_name(app_id)}: {len(added)} added {' '.join(added[:20])}".strip(),
            **_stamp(request),
        )
    already = len(good) - len(added)
    return await _page_of(
        request,
        who,
        app_id,
        notice=f"{len(added)} numbers added; {already} already listed or repeated.",
    )


@router.post("/dnc/remove")
async def dnc_remove(request: Request) -> Response:
    who, fields = await _writer_form(request)
    assert who.account_id is not None
    rt = _rt(request)
    app_id = await _list_of(rt, who.account_id, fields.get("list", "").strip()[:32])
    try:
        number = compliance.normalize(fields.get("number", "")[:40])
    except compliance.BadNumber as err:
        raise ApiError(Code.PARAMETER, f"number: {err}") from None
    async with rt.sessions.begin() as session:
        gone = await compliance.remove(
            session,
            who.account_id,
            app_id,
            [number],
            source=compliance.CONSOLE,
            actor=who.username,
            now=rt.clock.now(),
        )
        if gone:
            await console_users.audit(
                session, who, "dnc remove", f"{_list_name(app_id)}: {number}", **_stamp(request)
            )
    if not gone:
        raise ApiError(Code.PARAMETER, f"{number} is not on the {_list_name(app_id)}")
    return RedirectResponse(
        f"{BASE}/dnc?{urlencode({'list': app_id, 'done': 'removed'})}", status_code=303
    )


def _read_upload(upload: UploadFile, region: str | None) -> tuple[list[str], list[Any]]:
    """The upload's numbers and refused rows, read as the CLI reads a file."""
    upload.file.seek(0, io.SEEK_END)
    if upload.file.tell() > MAX_UPLOAD:
        raise ApiError(
            Code.PARAMETER, f"the file is over {MAX_UPLOAD // 1024 // 1024} MB; use the CLI import"
        )
    upload.file.seek(0)
    text = io.TextIOWrapper(upload.file, encoding="utf-8-sig", newline="")
    try:
        return compliance.read_numbers(csv.reader(text), region)
    except (UnicodeDecodeError, csv.Error) as err:
        raise ApiError(Code.PARAMETER, f"the file is no UTF-8 CSV: {err}") from None
    finally:
        text.detach()


@router.post("/dnc/import")
async def dnc_import(request: Request) -> Response:
    """Import an uploaded CSV with the CLI's parser: the good rows are added (source
    "console"), every refused row counted and the first ones listed with line and reason."""
    who, fields = await _writer_form(request)
    assert who.account_id is not None
    rt = _rt(request)
    app_id = await _list_of(rt, who.account_id, fields.get("list", "").strip()[:32])
    region = _region(fields.get("region", ""))
    upload = (await request.form()).get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise ApiError(Code.PARAMETER, "file: choose a CSV file to import")
    numbers, bad = _read_upload(upload, region)
    added = 0
    async with rt.sessions.begin() as session:
        for i in range(0, len(numbers), IMPORT_BATCH):
            added += len(
                await compliance.add(
                    session,
                    who.account_id,
                    app_id,
                    numbers[i : i + IMPORT_BATCH],
                    source=compliance.CONSOLE,
                    actor=who.username,
                    now=rt.clock.now(),
                )
            )
        await console_users.audit(
            session,
            who,
            "dnc import",
            f"{_list_name(app_id)}: {upload.filename[:64]}: {added} added, {len(bad)} refused",
            **_stamp(request),
        )
    result = {
        "file": upload.filename,
        "added": added,
        "already": len(numbers) - added,
        "refused": len(bad),
        "lines": bad[:SHOWN_REFUSALS],
    }
    return await _page_of(request, who, app_id, imported=result)


@router.get("/dnc.csv")
async def dnc_csv(request: Request) -> Response:
    """The list as CSV (the CLI export's columns), streamed a page of entries at a time."""
    who = await _account_user(request)
    assert who.account_id is not None
    account_id = who.account_id
    rt = _rt(request)
    app_id = await _list_of(rt, account_id, request.query_params.get("list", "").strip()[:32])

    async def lines() -> AsyncIterator[bytes]:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(EXPORT_COLUMNS)
        yield out.getvalue().encode()
        async for page in compliance.stream_entries(rt.readonly, account_id, app_id):
            out.seek(0)
            out.truncate()
            writer.writerows(
                [
                    _cell(e.number),
                    _cell(e.app_id),
                    e.source,
                    e.created_at.isoformat(timespec="seconds"),
                ]
                for e in page
            )
            yield out.getvalue().encode()

    name = f"voxcast-dnc-{account_id}-{app_id or 'account'}.csv"
    return StreamingResponse(
        lines(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
