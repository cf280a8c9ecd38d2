"""The console's preview tasks (`/cc/preview/*`): the account's preview tasks as
`cc/preview/query` lists them, a callee sheet uploaded and submitted in one form (the API's
upload and submitTask, the same parser, models and service), and a finished task called again."""

from __future__ import annotations

import base64
import io
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from starlette.datastructures import UploadFile

from voxcast.api.preview_requests import PreviewResend, PreviewSubmit
from voxcast.console.callcenter import _as_api, _number, _refusal
from voxcast.console.pages import (
    BASE,
    PAGE_SIZE,
    ConsoleRoute,
    _account_user,
    _id,
    _page,
    _rt,
    _stamp,
    _writer_form,
    render,
)
from voxcast.domain.codes import ApiError, Code
from voxcast.services import agents, console_users, preview
from voxcast.services.console_users import Principal

router = APIRouter(prefix=BASE, route_class=ConsoleRoute, include_in_schema=False)

TYPES = {1: "to an agent (proportional)", 0: "automatic"}
RESEND = {1: "failed numbers", 2: "numbers not called", 3: "every number"}
PREVIEW_STATUS_NAMES = {1: "enabled", 2: "disabled", 11: "calling", 12: "completed"}
PREVIEW_STATUS_NAMES.update(
    {13: "submit failed", 14: "canceled", 15: "suspended", 16: "submitting"}
)
#: the form's fields and their defaults
FIELDS = {"type": "1", "voiceGroupId": "", "calloutRate": "1", "displayNum": "", "remark": ""}


async def _page_of(
    request: Request, who: Principal, *, status: int = 200, **extra: Any
) -> Response:
    assert who.account_id is not None
    rt = _rt(request)
    page = _page(request)
    async with rt.readonly() as session:
        rows, total = await preview.query(
            session,
            who.account_id,
            start=None,
            end=None,
            task_id=None,
            statuses=None,
            task_type=None,
            finished=None,
            group_ids=None,
            current=page,
            size=PAGE_SIZE,
        )
        groups = await agents.account_groups(session, rt.secrets, who.account_id)
    extra.setdefault("form", dict(FIELDS))
    return render(
        "preview.html",
        who,
        status,
        here="preview",
        tasks=rows,
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        groups=groups,
        types=TYPES,
        resend_kinds=RESEND,
        preview_status=PREVIEW_STATUS_NAMES,
        **extra,
    )


@router.get("/preview")
async def preview_tasks(request: Request) -> Response:
    who = await _account_user(request)
    done = request.query_params.get("done", "")
    notice = f"Task {done} will call again." if done.isdigit() else None
    return await _page_of(request, who, notice=notice)


async def _upload(request: Request) -> tuple[str, str]:
    """The chosen sheet as the API's upload carries it: its base name and base64 content."""
    upload = (await request.form()).get("sheet")
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise ApiError(Code.PARAMETER, "sheet: choose a .xlsx, .xls or .csv file")
    upload.file.seek(0, io.SEEK_END)
    if upload.file.tell() > preview.MAX_FILE_BYTES:
        raise ApiError(Code.PARAMETER, f"sheet: over {preview.MAX_FILE_BYTES // 2**20} MB")
    upload.file.seek(0)
    return preview.base_name(upload.filename), base64.b64encode(await upload.read()).decode()


@router.post("/preview")
async def submit_preview(request: Request) -> Response:
    """`cc/preview/upload` then `cc/preview/submitTask`: the sheet's good rows become the
    task and its refused rows are reported beside it, as the API's upload reports them."""
    who, fields = await _writer_form(request)
    assert who.account_id is not None
    rt = _rt(request)
    form = {k: fields.get(k, default).strip() for k, default in FIELDS.items()}
    report: dict[str, Any] | None = None
    try:
        name, content = await _upload(request)
        sheet = await preview.read_upload(name, content, rt.settings)
        async with rt.sessions.begin() as session:
            report = await preview.upload(
                session, who.account_id, name, sheet, rt.clock.now(), rt.settings
            )
            body = {
                "filePath": report["filePath"],
                "fileName": name,
                "type": _number(form["type"]),
                "voiceGroupId": [_number(form["voiceGroupId"])] if form["voiceGroupId"] else [],
                "calloutRate": _number(form["calloutRate"]) if form["calloutRate"] else None,
                "displayNum": form["displayNum"] or None,
                "remark": form["remark"] or None,
            }
            req = _as_api(PreviewSubmit, {k: v for k, v in body.items() if v is not None})
            task_id = await preview.submit(
                session, who.account_id, req.model_dump(exclude_unset=True), rt.clock.now()
            )
            await console_users.audit(
                session,
                who,
                "preview task created",
                f"task {task_id} from {name}",
                **_stamp(request),
            )
    except ApiError as err:
        return await _page_of(
            request, who, status=400, error=_refusal(err), form=form, report=report
        )
    notice = (
        f"Task {task_id} created from {name}: {report['numberTotalCount']} numbers, "
        f"{report['numberSameCount']} repeated, {report['errorCount']} rows refused."
    )
    return await _page_of(request, who, notice=notice, report=report, created=task_id)


@router.post("/preview/{task_id}/resend")
async def resend_preview(request: Request, task_id: str) -> Response:
    """`cc/preview/resendTask` with the task's own type and group."""
    who, fields = await _writer_form(request)
    assert who.account_id is not None
    tid = _id(task_id)
    rt = _rt(request)
    try:
        asked = {"taskId": tid, "resendType": _number(fields.get("resendType", ""))}
        # the task's own type (the page posts it), its group kept
        asked["type"] = _number(fields.get("type", ""))
        req = _as_api(PreviewResend, asked)
        async with rt.sessions.begin() as session:
            await preview.resend(
                session, who.account_id, req.model_dump(exclude_unset=True), rt.clock.now()
            )
            await console_users.audit(
                session,
                who,
                "preview task resent",
                f"task {tid}: {RESEND[req.resendType]}",
                **_stamp(request),
            )
    except ApiError as err:
        return await _page_of(request, who, status=400, error=_refusal(err))
    return RedirectResponse(f"{BASE}/preview?done={tid}", status_code=303)
