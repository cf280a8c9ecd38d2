"""The console's New task forms, group calls (with transfer to agents) and AI tasks: the form
becomes the body `voice/group/call/send` (or `send/ai`) takes, checked by the API's own request
model and created by `services.tasks.create`, with its recall flow."""

from __future__ import annotations

import base64
import csv
import io
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ValidationError
from starlette.datastructures import UploadFile

from voxcast.api.routing import validation_reason
from voxcast.api.schemas.tasks import (
    GroupCallResend,
    GroupCallResendAI,
    GroupCallSend,
    GroupCallSendAI,
)
from voxcast.audio import LANGUAGES
from voxcast.console import auth
from voxcast.console.callcenter import _as_api, _number
from voxcast.console.media import GENDERS
from voxcast.console.pages import (
    BASE,
    ConsoleRoute,
    _account_user,
    _id,
    _rt,
    _stamp,
    _writer_form,
    render,
)
from voxcast.domain.codes import ApiError, Code
from voxcast.domain.enums import TaskKind
from voxcast.services import accounts, agents, console_users, files, keys, preview, scripts, tasks
from voxcast.services.console_users import Principal

router = APIRouter(prefix=BASE, route_class=ConsoleRoute, include_in_schema=False)

#: lines the numbers box holds (a larger list is an uploaded sheet)
MAX_LINES = 10_000
#: a callee's variables, text1..text10
MAX_TEXTS = 10
#: refused rows the report lists (all are counted)
SHOWN_ROWS = 200
#: voice files the message select offers, newest first
FILE_CHOICES = 200
#: agent groups the transfer select offers, newest first
CHOICES = 200
WINDOWS = 3
#: the form's text fields, by the API's names where the API has one
TEXT_FIELDS = (
    "taskName",
    "appId",
    "numbers",
    "source",
    "voiceFileId",
    "text",
    "lan",
    "ssmlGender",
    "speakingRate",
    "displayNum",
    "sendTime",
    "allowSendTimeZone",
    "maxRingingTime",
    "maxCalls",
    "loopCount",
    *(f"{k}{i}" for i in range(1, WINDOWS + 1) for k in ("strTime", "endTime")),
    # transfer to agents (group calls)
    "toSeat",
    "sipGroupId",
    "outboundControl",
    "calloutRate",
    "toSeatType",
    "toSeatKey",
    "delayTransfer",
    # AI tasks
    "scriptId",
    "enableRecording",
    # the recall flow (recallFlow)
    "recallNum",
    "recallInterval",
    "recallType",
    "recallIntent",
)
DEFAULTS = {"source": "3", "lan": "EN", "ssmlGender": "2", "maxCalls": "60", "loopCount": "1"}
#: fields sent as typed (the API takes numeric strings where it wants numbers), left out
#: when empty
OPTIONAL = {"displayNum", "sendTime", "allowSendTimeZone", "maxRingingTime"}
#: the transfer's fields, sent with toSeat=1 only
SEAT = ("sipGroupId", "outboundControl", "calloutRate", "toSeatType", "toSeatKey", "delayTransfer")


@dataclass(frozen=True)
class Kind:
    """A task form: its page, the API request it becomes and the task kind it creates."""

    path: str
    model: type[BaseModel]
    kind: TaskKind
    route: str
    defaults: dict[str, str]

    @property
    def ai(self) -> bool:
        return self.kind == TaskKind.AI


GROUP = Kind("/tasks/new", GroupCallSend, TaskKind.GROUP, "voice/group/call/send", DEFAULTS)
AI = Kind(
    "/tasks/new/ai",
    GroupCallSendAI,
    TaskKind.AI,
    "voice/group/call/send/ai",
    {"lan": "EN", "ssmlGender": "2"},
)


@dataclass
class Rows:
    """The callees read from the box or the sheet: good rows (their row number and the
    numberInfoList entry) and refused ones (row, number as given, reason)."""

    good: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    bad: list[tuple[int, str, str]] = field(default_factory=list)
    source: str = "box"


def _pasted(text: str) -> Rows:
    """The box: one callee a line, `number,text1,text2,...` (CSV quoting allowed)."""
    lines = text.splitlines()
    if len(lines) > MAX_LINES:
        raise ApiError(Code.PARAMETER, f"numbers: at most {MAX_LINES} lines; upload a sheet")
    rows = Rows()
    for line, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        cells = next(csv.reader([raw]), [""])
        number = cells[0].strip()
        if len(cells) - 1 > MAX_TEXTS:
            rows.bad.append((line, number[:40], f"at most {MAX_TEXTS} texts (text1..text10)"))
            continue
        entry = {"calleeNumber": number}
        entry.update({f"text{i}": c.strip() for i, c in enumerate(cells[1:], start=1)})
        rows.good.append((line, entry))
    return rows


async def _sheet(request: Request, upload: UploadFile) -> Rows:
    """An uploaded .csv/.xlsx/.xls read by the call-center upload's parser (in its child
    process): the number column, then the other columns in order as text1..text10."""
    upload.file.seek(0, io.SEEK_END)
    if upload.file.tell() > preview.MAX_FILE_BYTES:
        raise ApiError(Code.PARAMETER, f"sheet: over {preview.MAX_FILE_BYTES // 2**20} MB")
    upload.file.seek(0)
    name = preview.base_name(upload.filename or "")
    content = base64.b64encode(await upload.read()).decode("ascii")
    sheet = await preview.read_upload(name, content, _rt(request).settings)
    texts = [h for h in sheet.headers if h != sheet.number_column]
    if len(texts) > MAX_TEXTS:
        raise ApiError(Code.PARAMETER, f"sheet: at most {MAX_TEXTS} columns besides the number")
    rows = Rows(source=name)
    rows.bad = [(e.row, "", f"{e.column}: {e.reason}") for e in sheet.errors]
    for callee in sheet.numbers:
        entry = {"calleeNumber": callee.number}
        entry.update({f"text{i}": callee.info.get(h, "") for i, h in enumerate(texts, start=1)})
        rows.good.append((callee.row, entry))
    return rows


def _body(form: dict[str, str], rows: Rows, kind: Kind) -> dict[str, Any]:
    """The form as `voice/group/call/send`'s (or `send/ai`'s) JSON body."""
    body: dict[str, Any] = {
        "taskName": form["taskName"],
        "appId": form["appId"],
        "numberInfoList": [{k: v for k, v in e.items() if v} for _, e in rows.good],
    }
    body.update({k: form[k] for k in OPTIONAL if form[k]})
    if body.get("sendTime"):
        # the browser's datetime-local ("2026-12-01T09:30") in the API's spelling
        when = str(body["sendTime"]).replace("T", " ")
        body["sendTime"] = when + ":00" if len(when) == 16 else when
    if kind.ai:
        body.update({k: form[k] for k in ("scriptId", "calloutRate", "maxCalls") if form[k]})
        if form["enableRecording"]:
            body["enableRecording"] = form["enableRecording"]
    else:
        body.update({k: form[k] for k in ("source", "maxCalls", "loopCount")})
        if form["source"] == "1" and form["voiceFileId"]:
            body["voiceFileId"] = form["voiceFileId"]
        if form["source"] == "3":
            body.update(
                {k: form[k] for k in ("text", "lan", "ssmlGender", "speakingRate") if form[k]}
            )
        if form["toSeat"]:
            body["toSeat"] = form["toSeat"]
            body.update({k: form[k] for k in SEAT if form[k]})
    windows = [
        {"strTime": form[f"strTime{i}"], "endTime": form[f"endTime{i}"]}
        for i in range(1, WINDOWS + 1)
        if form[f"strTime{i}"] or form[f"endTime{i}"]
    ]
    if windows:
        body["allowSendTime"] = windows
    if form["recallNum"]:
        flow: dict[str, Any] = {
            k: form[k] for k in ("recallNum", "recallInterval", "recallType") if form[k]
        }
        intents = [i.strip() for i in form["recallIntent"].split(",") if i.strip()]
        if kind.ai and intents:
            flow["recallIntent"] = intents
        body["recallFlow"] = flow
    return body


def _validated(body: dict[str, Any], rows: Rows, kind: Kind) -> GroupCallSend | GroupCallSendAI:
    """The API's request model over the body: a callee it refuses joins the row report (as
    its row), and the first other problem is the API's -22 naming the field."""
    try:
        req = kind.model.model_validate(body)
        assert isinstance(req, GroupCallSend | GroupCallSendAI)
        return req
    except ValidationError as err:
        others = []
        for problem in err.errors():
            loc = problem.get("loc", ())
            if len(loc) >= 2 and loc[0] == "numberInfoList" and isinstance(loc[1], int):
                row, entry = rows.good[loc[1]]
                inner = dict(problem, loc=loc[2:])
                _, reason = validation_reason(RequestValidationError([inner]))
                rows.bad.append((row, entry["calleeNumber"][:40], reason))
            else:
                others.append(problem)
        refused = {row for row, _, _ in rows.bad}
        rows.good = [(row, e) for row, e in rows.good if row not in refused]
        rows.bad.sort()
        if others:
            code, reason = validation_reason(RequestValidationError(others))
            raise ApiError(code, reason) from None
        raise _RowsRefused from None


class _RowsRefused(Exception):
    """Some callee rows are refused: the report lists them and nothing is submitted."""


async def _form_page(
    request: Request,
    who: Principal,
    form: dict[str, str],
    kind: Kind,
    *,
    status: int = 200,
    rows: Rows | None = None,
    **extra: Any,
) -> Response:
    assert who.account_id is not None
    async with _rt(request).readonly() as session:
        apps = await keys.list_apps(session, who.account_id)
        voice_files, _ = await files.page_details(session, who.account_id, 1, FILE_CHOICES)
        zone = (await accounts.get_account(session, who.account_id)).timezone
        groups, _ = await agents.query_groups(session, who.account_id, None, 1, CHOICES)
        account_scripts = await scripts.list_scripts(session, who.account_id)
    return render(
        "task_new.html",
        who,
        status,
        here="tasks",
        kind=kind,
        form=form,
        apps=apps,
        files=voice_files,
        groups=groups,
        scripts=[(s.id, s.name) for s in account_scripts],
        languages=list(LANGUAGES.values()),
        genders=GENDERS,
        zone=zone,
        windows=range(1, WINDOWS + 1),
        rows=rows,
        shown=rows.bad[:SHOWN_ROWS] if rows else [],
        **extra,
    )


async def _writer(request: Request) -> Principal:
    who = await _account_user(request)
    auth.require_writer(who)
    return who


@router.get("/tasks/new")
async def new_task(request: Request) -> Response:
    who = await _writer(request)
    return await _form_page(request, who, {k: DEFAULTS.get(k, "") for k in TEXT_FIELDS}, GROUP)


@router.get("/tasks/new/ai")
async def new_ai_task(request: Request) -> Response:
    who = await _writer(request)
    return await _form_page(request, who, {k: AI.defaults.get(k, "") for k in TEXT_FIELDS}, AI)


@router.post("/tasks/new")
async def new_task_post(request: Request) -> Response:
    return await _posted(request, GROUP)


@router.post("/tasks/new/ai")
async def new_ai_task_post(request: Request) -> Response:
    return await _posted(request, AI)


async def _posted(request: Request, kind: Kind) -> Response:
    """Check (the row report and the API's field checks) or Submit (also the service's own
    checks, then the task page). Any refusal keeps the form as typed."""
    who = await _account_user(request)
    fields = await auth.posted_form(request, who, None)
    auth.require_writer(who)
    assert who.account_id is not None
    form = {k: fields.get(k, kind.defaults.get(k, "")) for k in TEXT_FIELDS}
    for key, value in form.items():
        if key not in ("numbers", "text"):
            form[key] = value.strip()
    submit = fields.get("action") == "submit"
    rows: Rows | None = None
    try:
        upload = (await request.form()).get("sheet")
        if isinstance(upload, UploadFile) and upload.filename:
            rows = await _sheet(request, upload)
            # the sheet's callees move to the box, so a Submit after the Check needs no
            # second upload (a file input cannot be filled in again by the page)
            if not submit and len(rows.good) <= MAX_LINES:
                form["numbers"] = _as_lines(rows)
        else:
            rows = _pasted(form["numbers"])
        body = _body(form, rows, kind)
        req = _validated(body, rows, kind)
        if rows.bad:
            raise _RowsRefused
        # no number at all is the API's -35, at Check already
        tasks.collect_numbers(req.numberInfoList, req.numberList, ai=kind.ai)
        if not submit:
            return await _form_page(request, who, form, kind, rows=rows, checked=True)
        task_id = await _create(request, who, req, kind)
    except _RowsRefused:
        error = "Nothing submitted: fix the rows below." if submit else None
        return await _form_page(
            request, who, form, kind, status=400, rows=rows, checked=True, error=error
        )
    except ApiError as err:
        # the API's own answer: its code, and a reason that names the field
        return await _form_page(
            request, who, form, kind, status=400, rows=rows, error=f"{err.code.value} {err.reason}"
        )
    return RedirectResponse(f"{BASE}/tasks/{task_id}", status_code=303)


def _as_lines(rows: Rows) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for _, entry in rows.good:
        texts = [entry.get(f"text{i}", "") for i in range(1, MAX_TEXTS + 1)]
        while texts and not texts[-1]:
            texts.pop()
        writer.writerow([entry["calleeNumber"], *texts])
    return out.getvalue()


async def _create(
    request: Request, who: Principal, req: GroupCallSend | GroupCallSendAI, kind: Kind
) -> int:
    """What `voice/group/call/send` (or `send/ai`) does with its validated request."""
    assert who.account_id is not None
    rt = _rt(request)
    numbers, number_field = tasks.collect_numbers(req.numberInfoList, req.numberList, ai=kind.ai)
    settings = req.model_dump(
        exclude_none=True, exclude={"numberInfoList", "numberList", "recallFlow"}
    )
    flow = req.recallFlow.model_dump(exclude_none=True) if req.recallFlow else None
    spec = tasks.Spec(
        kind.kind, req.appId, req.taskName, settings, numbers, number_field, recall_flow=flow
    )
    async with rt.sessions.begin() as session:
        account = await accounts.get_account(session, who.account_id)
        task_id = await tasks.create(session, account, spec, rt.clock.now(), rt.settings)
        what = "AI task created" if kind.ai else "task created"
        await console_users.audit(
            session, who, what, f"task {task_id} {req.taskName}", **_stamp(request)
        )
    return task_id


@router.post("/tasks/{task_id}/resend")
async def resend_task(request: Request, task_id: str) -> Response:
    """`voice/group/call/resend` (or `resend/ai`, with the task's own script) from a finished or
    canceled task's page: all or only the failed numbers as a new task, whose page follows."""
    who, fields = await _writer_form(request)
    assert who.account_id is not None
    number = _id(task_id)
    rt = _rt(request)
    async with rt.sessions.begin() as session:
        account = await accounts.get_account(session, who.account_id)
        source = await tasks.owned_task(session, who.account_id, number)
        body: dict[str, Any] = {
            "keyId": number,
            "taskName": fields.get("taskName", "").strip(),
            "resendType": _number(fields.get("resendType", "")),
        }
        model: type[GroupCallResend | GroupCallResendAI] = GroupCallResend
        if source.kind == TaskKind.AI:
            model, body["scriptId"] = GroupCallResendAI, source.script_id
        req = _as_api(model, body)
        new_id = await tasks.resend(
            session,
            account,
            number,
            task_name=req.taskName,
            failed_only=req.resendType == 1,
            fields=req.model_dump(exclude_none=True, exclude={"keyId", "resendType"}),
            kind=TaskKind(source.kind),
            now=rt.clock.now(),
            settings=rt.settings,
        )
        await console_users.audit(
            session, who, "task resent", f"task {new_id} from task {number}", **_stamp(request)
        )
    return RedirectResponse(f"{BASE}/tasks/{new_id}", status_code=303)
