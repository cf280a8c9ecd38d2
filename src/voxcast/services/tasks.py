"""Group-call tasks: create (with its numbers and recall flow), update, resend, pause, resume,
cancel, list and detail. Callers hand in validated fields (camelCase, as the API names them)."""

from __future__ import annotations

import json
import json.encoder
import re
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from itertools import chain, repeat
from operator import itemgetter
from typing import Any, cast

import phonenumbers
from sqlalchemy import case, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from voxcast import compliance
from voxcast.config import Settings
from voxcast.domain import task_states
from voxcast.domain.codes import ApiError, Code
from voxcast.domain.enums import (
    ACTIVE_TASK_STATUSES,
    CalleeState,
    TaskKind,
    TaskStatus,
)
from voxcast.domain.schedule import SEND_TIME_FORMAT, zone
from voxcast.domain.task_settings import from_params
from voxcast.domain.task_states import TaskEvent
from voxcast.services import (
    accounts,
    agents,
    files,
    listing,
    rates,
    recall,
    scripts,
    speech,
    task_rules,
)
from voxcast.services.listing import created_between, matching
from voxcast.storage import task_status
from voxcast.storage.models import (
    CALLEES,
    Account,
    Callee,
    CallRecord,
    CcRecord,
    Task,
)

#: numberInfoList holds at most 100,000 callees (page 001); the older numberList 200,000
#: (callSend pages, api-catalog §2.1)
MAX_NUMBERS = 100_000
MAX_NUMBER_LIST = 200_000
TEXT_LIMIT = 30
PHONE = re.compile(r"^[0-9]{7,15}$")
PHONE_AI = re.compile(r"^[0-9]{6,18}$")
#: request fields that are not task settings (identity, numbers, the flow, the file itself)
NOT_SETTINGS = {"keyId", "numberInfoList", "numberList", "recallFlow", "baseFile", "resendType"}
GROUP_KINDS = (TaskKind.GROUP, TaskKind.AI)

Number = tuple[str, dict[str, str] | None]


@dataclass
class Spec:
    """A task to create: kind, fields (camelCase) and the numbers in order."""

    kind: TaskKind
    app_id: str
    task_name: str
    fields: dict[str, Any]
    numbers: list[Number]
    number_field: str
    recall_flow: dict[str, Any] | None = None
    parent_task_id: int | None = None
    #: update only: False keeps the task's numbers (the request gave no number list)
    replace_numbers: bool = True
    #: numbers a do-not-call list holds, left out of `numbers` at submission
    dnc_skipped: int = 0


def collect_numbers(
    infos: Sequence[Mapping[str, Any]] | None,
    plain: Sequence[str] | None,
    *,
    ai: bool = False,
    reuse: bool = False,
) -> tuple[list[Number], str]:
    """Numbers from numberInfoList (text1..text10 truncated to 30) or the old numberList;
    later duplicates of a number are dropped. -35 when none, -23 over 100,000 objects or
    200,000 plain numbers. `reuse`: the infos' own dicts may become the callees' infos (their
    calleeNumber taken out), for a request body read no more afterwards."""
    out: list[Number] = []
    seen: set[str] = set()
    if infos:
        field = "numberInfoList"
        if len(infos) > MAX_NUMBERS:
            raise ApiError(Code.CAPS, f"{field}: {len(infos)} numbers, at most {MAX_NUMBERS}")
        plain_infos = _plain_infos(infos, reuse)
        if plain_infos is not None:
            return plain_infos, field
        for item in infos:
            number = item["calleeNumber"]
            if number in seen:
                continue
            seen.add(number)
            info = {
                k: v if len(v) <= TEXT_LIMIT else v[:TEXT_LIMIT]
                for k, v in item.items()
                if k != "calleeNumber" and v
            }
            out.append((number, info or None))
    elif plain:
        field = "numberList"
        if len(plain) > MAX_NUMBER_LIST:
            raise ApiError(Code.CAPS, f"{field}: {len(plain)} numbers, at most {MAX_NUMBER_LIST}")
        pattern = PHONE_AI if ai else PHONE
        for i, raw in enumerate(plain):
            number = str(raw).strip()
            if not pattern.match(number):
                limits = "6-18" if ai else "7-15"
                raise ApiError(Code.PARAMETER, f"{field}[{i}]: must be {limits} digits")
            if number not in seen:
                seen.add(number)
                out.append((number, None))
    else:
        raise ApiError(Code.NO_NUMBER, "numberInfoList: no number given")
    return out, field


def _plain_infos(infos: Sequence[Mapping[str, Any]], reuse: bool) -> list[Number] | None:
    """collect_numbers' result for the usual list, in C-level passes instead of a Python loop:
    dicts whose numbers are all different and whose texts are all strings of 1 to 30
    characters, so that nothing is dropped or cut. None otherwise (nothing changed then)."""
    if set(map(type, infos)) != {dict}:
        return None
    items = cast("list[dict[str, str]]", infos if isinstance(infos, list) else list(infos))
    numbers = list(map(itemgetter("calleeNumber"), items))
    if len(set(numbers)) != len(numbers):
        return None
    values = list(chain.from_iterable(map(dict.values, items)))  # the numbers' too
    if set(map(type, values)) != {str}:
        return None
    lengths = set(map(len, values))
    if 0 in lengths or max(lengths) > TEXT_LIMIT:
        return None
    # the infos are the items without their number, in the item's order, as the loop makes
    # them; making 100,000 new dicts cost more than all the checks above together
    texts = items if reuse else list(map(dict.copy, items))
    deque(map(dict.pop, texts, repeat("calleeNumber")), maxlen=0)
    if all(texts):
        return list(zip(numbers, texts, strict=True))
    return [(number, info or None) for number, info in zip(numbers, texts, strict=True)]


def settings_of(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if k not in NOT_SETTINGS and v is not None}


async def _check_submission(
    session: AsyncSession, account: Account, spec: Spec, *, exclude_task: int | None = None
) -> list[Decimal]:
    """The account-level checks every new or changed task passes, in the vendor's order;
    returns the rate of each number, frozen on its callee row. Numbers a do-not-call list
    holds are taken out of `spec.numbers` first and counted in `spec.dnc_skipped`."""
    await accounts.require_app(session, account.id, spec.app_id)
    spec.numbers, spec.dnc_skipped = await compliance.screen(
        session, account.id, spec.app_id, spec.numbers
    )
    same_name = select(Task.id).where(
        Task.account_id == account.id, Task.task_name == spec.task_name
    )
    if exclude_task is not None:
        same_name = same_name.where(Task.id != exclude_task)
    if await session.scalar(same_name) is not None:
        raise ApiError(Code.TASK_NAME_EXISTS, f"taskName: {spec.task_name} already exists")
    if exclude_task is None:
        active = await session.scalar(
            select(func.count())
            .select_from(Task)
            .where(
                Task.account_id == account.id,
                Task.kind.in_(GROUP_KINDS),
                Task.status.in_(ACTIVE_TASK_STATUSES),
            )
        )
        if int(active or 0) >= account.max_concurrent_tasks:
            raise ApiError(
                Code.CONCURRENT_TASKS,
                f"{active} tasks are active, the limit is {account.max_concurrent_tasks}",
            )
    rates.require_balance(account.balance)
    book = await rates.load_rate_book(session, account.id)
    frozen = book.require_all((n for n, _ in spec.numbers), spec.number_field)
    if str(spec.fields.get("toSeat")) == "1" and spec.fields.get("sipGroupId") is not None:
        await _require_group(session, account.id, spec.app_id, spec.fields["sipGroupId"])
    if spec.kind == TaskKind.AI and spec.fields.get("scriptId") is not None:
        await scripts.require_script(session, account.id, int(spec.fields["scriptId"]))
    return frozen


async def _require_group(session: AsyncSession, account_id: int, app_id: str, raw: Any) -> None:
    """A transfer task's agent group must be one of the app's (-74)."""
    try:
        group_id = int(raw)
    except (TypeError, ValueError):
        raise ApiError(Code.PARAMETER, "sipGroupId: must be an agent group id") from None
    await agents.transfer_group(session, account_id, group_id, "sipGroupId", app_id)


def check_fields(spec: Spec, extra_templates: Sequence[str | None] = ()) -> None:
    """Field rules of a task and of its recall nodes: prompt, SMS and transfer of a normal
    task, the script of an AI task; every ${textN} a text uses must be given for each callee
    (`extra_templates`: texts of recall nodes stored earlier)."""
    fields = spec.fields
    nodes = (spec.recall_flow or {}).get("nodeList") or []
    if spec.kind == TaskKind.GROUP:
        task_rules.check_prompt(fields)
        task_rules.check_sms(fields)
        task_rules.check_seat(fields)
    elif fields.get("scriptId") is not None and int(fields["scriptId"]) <= 0:
        raise ApiError(Code.SCRIPT_NOT_FOUND, f"scriptId: {fields['scriptId']} does not exist")
    for i, node in enumerate(nodes):
        recall.check_node(node, f"recallFlow.nodeList[{i}].", spec.kind)
    if spec.kind == TaskKind.GROUP:
        needed = task_rules.variables_used(
            fields.get("smsContent"),
            fields.get("text") if fields.get("source") == 3 else None,
            *recall.node_templates(nodes),
            *extra_templates,
        )
        task_rules.check_variables(needed, (i for _, i in spec.numbers), spec.number_field)


async def check_voices(session: AsyncSession, account_id: int, spec: Spec) -> None:
    """Every TTS prompt of the task (its own, its recall nodes') must have an installed voice
    for its lan, accent, ssmlGender and speakingRate (-39 naming the field)."""
    rules = await speech.rules_of(session, account_id)
    if spec.kind == TaskKind.GROUP and spec.fields.get("source") == 3:
        speech.voice_for(spec.fields, rules)
    for i, node in enumerate((spec.recall_flow or {}).get("nodeList") or []):
        if node.get("source") == 3:
            speech.voice_for(node, rules, prefix=f"recallFlow.nodeList[{i}].")


async def _prompt_file(
    session: AsyncSession,
    account: Account,
    fields: dict[str, Any],
    now: datetime,
    settings: Settings,
) -> None:
    """source 1: the file must be the account's; source 2: store the upload, keep its id."""
    if fields.get("source") == 1:
        await files.require_file(session, account.id, str(fields["voiceFileId"]), "voiceFileId")
    elif fields.get("source") == 2 and fields.get("baseFile"):
        fields["voiceFileId"] = await files.store_upload(
            session,
            account_id=account.id,
            file_name=str(fields["uploadName"]),
            content_b64=str(fields["baseFile"]),
            now=now,
            max_bytes=settings.max_upload_bytes,
            name_field="uploadName",
            file_field="baseFile",
        )


#: the talk time a task allows without `maxCalls`: a message plays in seconds, while a robot's
#: conversation takes minutes (the vendor's AI agent page gives 300 s as its example)
DEFAULT_MAX_TALK_S = {TaskKind.AI: 300}


def _columns(fields: dict[str, Any], send_time: datetime | None, kind: TaskKind) -> dict[str, Any]:
    return {
        "source": fields.get("source"),
        "voice_file_id": fields.get("voiceFileId"),
        "text": fields.get("text"),
        "lan": str(fields["lan"]).upper() if fields.get("lan") else None,
        "display_num": fields.get("displayNum") or None,
        "send_time": send_time,
        "loop_count": int(fields.get("loopCount") or 1),
        "max_calls": int(fields.get("maxCalls") or DEFAULT_MAX_TALK_S.get(kind, 60)),
        "max_ringing_time": int(fields.get("maxRingingTime") or 60),
        "delay_play": int(fields.get("delayPlay") or 0),
        "delay_hangup": int(fields.get("delayHangup") or 0),
        "script_id": fields.get("scriptId"),
    }


def _json_encoder() -> Callable[[dict[str, str]], str]:
    """The encoder of callee infos: JSONEncoder(ensure_ascii=False, compact).encode's output.
    Its encode builds a new C encoder on every call (2.7x the cost of the encoding itself for
    these small dicts); this one is built once."""
    base = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return base.encode
    # the arguments JSONEncoder.iterencode passes, but no markers: an info is a flat dict of
    # strings, it cannot hold itself
    chunks = make(
        None,
        base.default,
        json.encoder.encode_basestring,
        base.indent,
        base.key_separator,
        base.item_separator,
        base.sort_keys,
        base.skipkeys,
        base.allow_nan,
    )
    return lambda info: "".join(chunks(info, 0))


_to_json = _json_encoder()
_SQLITE_INSERT = (
    "INSERT INTO callees (task_id, seq, callee, info, state, attempts, rate)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_COLUMNS = ["task_id", "seq", "callee", "info", "state", "attempts", "rate"]


#: callee rows are made this many at a time: each batch's info JSON in one encoder call
_ROW_BATCH = 5_000


def _infos_json(infos: list[dict[str, str] | None]) -> list[str | None]:
    """Each info as `_to_json` writes it (None stays None). A batch whose infos are all given
    is encoded as one JSON list and cut between its objects: one C call instead of one
    Python call per info (100,000 infos: 50 → 15 ms). A text holding "},{" would make a cut
    ambiguous: then the count of pieces differs and each info is encoded by itself."""
    if infos and all(infos):  # an empty info is stored as None, as below
        # "\x00" cannot occur in the JSON (a NUL inside a string is written \u0000)
        listed = _to_json(infos)  # type: ignore[arg-type]
        pieces = listed[1:-1].replace("},{", "}\x00{").split("\x00")
        if len(pieces) == len(infos):
            return cast("list[str | None]", pieces)
    return [_to_json(info) if info else None for info in infos]


def _rows(
    task_id: int, numbers: list[Number], frozen: Sequence[Decimal], postgres: bool
) -> Iterator[tuple[int, int, str, str | None, int, int, Decimal | float]]:
    """The callee rows in the driver's own types: Decimal for asyncpg, float for SQLite (a
    NUMERIC column there; read back at six decimals), as SQLAlchemy would bind them. Made a
    batch at a time by C-level zips, so that on PostgreSQL the server stores one batch while
    the next is made."""
    if len(frozen) != len(numbers):
        raise ValueError("one frozen rate per number")
    for start in range(0, len(numbers), _ROW_BATCH):
        batch = numbers[start : start + _ROW_BATCH]
        rates = frozen[start : start + _ROW_BATCH]
        yield from zip(
            repeat(task_id),
            range(start + 1, start + 1 + len(batch)),
            map(itemgetter(0), batch),
            _infos_json(list(map(itemgetter(1), batch))),
            repeat(0),
            repeat(0),
            rates if postgres else map(float, rates),
            strict=False,
        )


async def insert_numbers(
    session: AsyncSession, task_id: int, numbers: list[Number], frozen: Sequence[Decimal]
) -> None:
    """All of a task's callees, each with its rate frozen at submission, in one bulk
    statement: COPY on PostgreSQL, executemany on SQLite, straight through the driver
    (100,000 numbers arrive in one request)."""
    if len(frozen) != len(numbers):
        raise ValueError("one frozen rate per number")
    if not numbers:
        return  # every number was on a do-not-call list
    conn = await session.connection()
    if conn.dialect.name == "postgresql":
        raw = await conn.get_raw_connection()
        # the rows are made as the driver sends them: the server stores one batch while the
        # next is encoded, instead of waiting for all 100,000 to be built first
        await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
            CALLEES.name, records=_rows(task_id, numbers, frozen, True), columns=_COLUMNS
        )
        return
    await conn.exec_driver_sql(_SQLITE_INSERT, list(_rows(task_id, numbers, frozen, False)))


async def create(
    session: AsyncSession, account: Account, spec: Spec, now: datetime, settings: Settings
) -> int:
    """Store a new task (status 0, waiting) with its numbers and recall flow; its id."""
    check_fields(spec)
    await check_voices(session, account.id, spec)
    send_time = task_rules.check_times(spec.fields, _zone_of(spec.fields, account))
    frozen = await _check_submission(session, account, spec)
    fields = dict(spec.fields)
    await _prompt_file(session, account, fields, now, settings)
    params = settings_of(fields)
    task = Task(
        account_id=account.id,
        app_id=spec.app_id,
        kind=spec.kind,
        task_name=spec.task_name,
        status=task_states.INITIAL,
        status_reason="",
        num_cnt=len(spec.numbers),
        dnc_skipped=spec.dnc_skipped,
        params=params,
        parent_task_id=spec.parent_task_id,
        created_at=now,
        updated_at=now,
        **_columns(fields, send_time, spec.kind),
    )
    flow = dict(spec.recall_flow) if spec.recall_flow else None
    if flow is not None:
        flow["nodeList"] = await recall.prepare_nodes(
            session, account.id, flow.get("nodeList") or [], "recallFlow.nodeList", now, settings
        )
    session.add(task)
    await session.flush()
    await insert_numbers(session, task.id, spec.numbers, frozen)
    if flow is not None:
        await recall.create_flow(session, account.id, task.id, flow, now)
    return task.id


def _zone_of(fields: dict[str, Any], account: Account) -> str:
    return from_params(settings_of(fields)).send_window.zone_name(account.timezone)


async def owned_task(
    session: AsyncSession, account_id: int, task_id: int, *, for_update: bool = False
) -> Task:
    """The account's group-call task; anything else is answered as not existing (-24)."""
    query = select(Task).where(
        Task.id == task_id, Task.account_id == account_id, Task.kind.in_(GROUP_KINDS)
    )
    if for_update:
        query = query.with_for_update()
    task = await session.scalar(query)
    if task is None:
        raise ApiError(Code.NOT_FOUND, f"task {task_id} does not exist")
    return task


async def update_task(
    session: AsyncSession,
    account: Account,
    task_id: int,
    spec: Spec,
    now: datetime,
    settings: Settings,
) -> None:
    """Change a task that has not started (status 0); numbers are replaced when given."""
    task = await owned_task(session, account.id, task_id, for_update=True)
    task_status.move(task, TaskEvent.EDIT, now)  # IllegalTransition unless still waiting
    if (spec.kind == TaskKind.AI) != (task.kind == TaskKind.AI):
        raise ApiError(Code.TASK_STATE, f"keyId: task {task_id} is not of this kind")
    if not spec.replace_numbers:
        spec.numbers = await _numbers_of(session, task.id, failed_only=False)
    check_fields(spec, await recall.pending_node_templates(session, task.id))
    await check_voices(session, account.id, spec)
    send_time = task_rules.check_times(spec.fields, _zone_of(spec.fields, account))
    frozen = await _check_submission(session, account, spec, exclude_task=task.id)
    fields = dict(spec.fields)
    await _prompt_file(session, account, fields, now, settings)
    params = settings_of(fields)
    for key, value in _columns(fields, send_time, TaskKind(task.kind)).items():
        setattr(task, key, value)
    task.task_name = spec.task_name
    task.app_id = spec.app_id
    task.params = params
    task.updated_at = now
    if spec.replace_numbers:
        await session.execute(delete(Callee).where(Callee.task_id == task.id))
        await insert_numbers(session, task.id, spec.numbers, frozen)
        task.num_cnt = len(spec.numbers)
        task.dnc_skipped = spec.dnc_skipped


async def _numbers_of(session: AsyncSession, task_id: int, *, failed_only: bool) -> list[Number]:
    query = select(Callee.callee, Callee.info).where(Callee.task_id == task_id)
    if failed_only:
        query = query.where(or_(Callee.success.is_(None), Callee.success.is_(False)))
    rows = (await session.execute(query.order_by(Callee.seq))).all()
    return [(n, info) for n, info in rows]


async def resend(
    session: AsyncSession,
    account: Account,
    source_id: int,
    *,
    task_name: str,
    failed_only: bool,
    fields: dict[str, Any],
    kind: TaskKind,
    now: datetime,
    settings: Settings,
) -> int:
    """A new task with all or only the failed numbers of a finished or cancelled one."""
    source = await owned_task(session, account.id, source_id)
    if source.kind != kind:
        endpoint = "resend/ai" if kind == TaskKind.AI else "resend"
        raise ApiError(
            Code.TASK_STATE,
            f"keyId: task {source_id} is {'an AI' if source.kind == TaskKind.AI else 'a normal'}"
            f" task; {endpoint} resends {'AI' if kind == TaskKind.AI else 'normal'} tasks",
        )
    if source.status not in (TaskStatus.FINISHED, TaskStatus.CANCELED):
        raise ApiError(
            Code.RESEND_STATE,
            f"keyId: task {source_id} is {TaskStatus(source.status).name.lower()}",
        )
    numbers = await _numbers_of(session, source.id, failed_only=failed_only)
    if not numbers:
        raise ApiError(
            Code.NO_CALLABLE_NUMBER,
            f"keyId: task {source_id} has no {'failed ' if failed_only else ''}number",
        )
    merged = dict(source.params or {})
    if source.voice_file_id and "voiceFileId" not in merged:
        merged["voiceFileId"] = source.voice_file_id
    given = {k: v for k, v in fields.items() if v is not None}
    if given.get("source") not in (None, merged.get("source")):
        # a new prompt replaces the old one entirely
        for key in ("voiceFileId", "uploadName", "text", "lan"):
            merged.pop(key, None)
    merged.update(given)
    if merged.get("source") == 2 and not merged.get("baseFile") and merged.get("voiceFileId"):
        # the source task's upload is stored by now: the new task plays that file
        merged["source"] = 1
    app_id = str(merged.pop("appId", None) or source.app_id)
    spec = Spec(
        kind, app_id, task_name, merged, numbers, "numberInfoList", parent_task_id=source.id
    )
    return await create(session, account, spec, now, settings)


async def change_status(
    session: AsyncSession,
    account_id: int,
    ids: list[int],
    *,
    event: TaskEvent,
    now: datetime,
) -> None:
    """Apply `event` to every listed task, or to none: an unknown (or another account's) id is
    -24, checked for every id before any state (IllegalTransition, naming the first task whose
    status does not allow it). Cancelling also cancels a pending recall flow."""
    if not ids:
        raise ApiError(Code.PARAMETER, "jobIdList/taskIdList: at least one task id is required")
    tasks = [
        await owned_task(session, account_id, task_id, for_update=True)
        for task_id in dict.fromkeys(ids)
    ]
    for task in tasks:
        task_states.next_status(task.status, event, task.id)
    for task in tasks:
        task_status.move(task, event, now)
        if event == TaskEvent.CANCEL:
            await recall.cancel_pending_flows(session, task.id)


# -- reading ------------------------------------------------------------------------------------


def _fmt(value: datetime | None, zone_name: str) -> str | None:
    return value.astimezone(zone(zone_name)).strftime(SEND_TIME_FORMAT) if value else None


def _percent(part: int, whole: int) -> str:
    return f"{(100.0 * part / whole) if whole else 0.0:.2f}%"


async def _counters(session: AsyncSession, task_ids: list[int]) -> dict[int, dict[str, int]]:
    """Per task: numbers, called, answered, dialing, pending — from the callee rows."""
    if not task_ids:
        return {}
    done = Callee.state == CalleeState.DONE
    rows = await session.execute(
        select(
            Callee.task_id,
            func.count(),
            func.sum(case((done, 1), else_=0)),
            func.sum(case((done & Callee.success.is_(True), 1), else_=0)),
            func.sum(case((Callee.state == CalleeState.DIALING, 1), else_=0)),
            func.sum(case((Callee.state == CalleeState.PENDING, 1), else_=0)),
        )
        .where(Callee.task_id.in_(task_ids))
        .group_by(Callee.task_id)
    )
    out: dict[int, dict[str, int]] = {}
    for task_id, total, called, answered, dialing, pending in rows:
        out[task_id] = {
            "total": int(total or 0),
            "called": int(called or 0),
            "answered": int(answered or 0),
            "dialing": int(dialing or 0),
            "pending": int(pending or 0),
        }
    return out


async def query(
    session: AsyncSession,
    account: Account,
    *,
    current: int,
    size: int,
    params: dict[str, Any],
) -> tuple[list[dict[str, Any]], int]:
    """The account's group-call tasks, newest first, with progress counters."""
    where: list[Any] = [Task.account_id == account.id, Task.kind.in_(GROUP_KINDS)]
    where += created_between(Task.created_at, params, account.timezone)
    if params.get("statusList"):
        where.append(Task.status.in_([int(s) for s in params["statusList"]]))
    if params.get("idxAppId"):
        where.append(Task.app_id == str(params["idxAppId"]))
    if params.get("taskType"):
        where.append(Task.kind == int(params["taskType"]))
    if params.get("searchCondition"):
        text = str(params["searchCondition"])
        where.append(
            or_(
                matching(Task.task_name, text),
                matching(Task.voice_file_id, text),
                matching(Task.text, text),
            )
        )
    total, tasks = await listing.task_page(session, where, current, size)
    counts = await _counters(session, [t.id for t in tasks])
    records = []
    for t in tasks:
        c = counts.get(t.id, {"total": 0, "called": 0, "answered": 0})
        records.append(
            {
                "taskId": t.id,
                "jobId": t.id,
                "taskName": t.task_name,
                "status": t.status,
                "rate": _percent(c["called"], c["total"]),
                "numCnt": t.num_cnt,
                "callNum": c["called"],
                "success": c["answered"],
                "fail": c["called"] - c["answered"],
                "createdTime": _fmt(t.created_at, account.timezone),
                "scriptId": t.script_id,
                "taskType": t.kind,
            }
        )
    return records, total


async def _transfer_counts(session: AsyncSession, task_id: int) -> tuple[int, int, int]:
    """Of a transfer task's calls: how many waited for an agent, reached one, were lost."""
    queued, transferred, lost = (
        await session.execute(
            select(
                func.count(CcRecord.transfer_time),
                func.count(CcRecord.agent_name),
                func.coalesce(func.sum(case((CcRecord.abandoned, 1), else_=0)), 0),
            ).where(CcRecord.task_id == task_id)
        )
    ).one()
    return int(queued or 0), int(transferred or 0), int(lost or 0)


def _country_code(number: str | None) -> str | None:
    """The calling code of a number ("86" for 8613000000000), as detail's `code` shows."""
    if not number:
        return None
    try:
        return str(phonenumbers.parse("+" + number).country_code)
    except phonenumbers.NumberParseException:
        return None


async def detail(session: AsyncSession, account: Account, task_id: int) -> dict[str, Any]:
    """Everything about one task, with live counters and call statistics."""
    task = await owned_task(session, account.id, task_id)
    c = (await _counters(session, [task.id])).get(
        task.id, {"total": 0, "called": 0, "answered": 0, "dialing": 0, "pending": 0}
    )
    stats = (
        await session.execute(
            select(
                func.count(),
                func.coalesce(func.sum(CallRecord.charged_duration), 0),
                func.coalesce(func.sum(CallRecord.call_duration), 0),
                func.sum(case((CallRecord.feedback_value != "-1", 1), else_=0)),
            ).where(CallRecord.task_id == task.id)
        )
    ).one()
    calls, charged, talk, keyed = (int(v or 0) for v in stats)
    first = await session.scalar(
        select(Callee.callee).where(Callee.task_id == task.id).order_by(Callee.seq).limit(1)
    )
    settings = from_params(task.params)
    zone_name = account.timezone
    answered = c["answered"]
    queued, transferred, lost = await _transfer_counts(session, task.id)
    return {
        "jobId": task.id,
        "taskId": task.id,
        "taskName": task.task_name,
        "displayNum": task.display_num,
        "text": task.text,
        "status": task.status,
        "statusReason": task.status_reason,
        "rate": _percent(c["called"], c["total"]),
        "numCnt": task.num_cnt,
        "chargeLen": charged,
        "success": answered,
        "fail": c["called"] - answered,
        "toseatNum": transferred,
        "successRate": _percent(answered, c["called"]),
        "toseatNumRate": _percent(transferred, answered),
        "sendTime": _fmt(task.send_time, zone_name),
        "createdTime": _fmt(task.created_at, zone_name),
        "mdfTime": _fmt(task.updated_at, zone_name),
        "appId": task.app_id,
        "source": task.source,
        "voiceFileId": task.voice_file_id,
        "calloutRate": settings.transfer.callout_rate,
        "finishTime": _fmt(task.finished_at, zone_name),
        "keyFeedbackNum": keyed,
        "uploadName": settings.prompt.upload_name,
        "baseFile": None,  # the upload is stored as voiceFileId, never echoed back
        "callLossNum": lost,
        "callDuration": talk,
        # the abandon rate: callees who waited for an agent and gave up or were hung up on
        "callLossNumRate": _percent(lost, queued),
        "code": _country_code(first),
        "maxCalls": task.max_calls,
        "loopCount": task.loop_count,
        "lan": task.lan,
        "allCallToseatNum": queued,
        "callTotal": calls,
        "acd": round(talk / answered, 1) if answered else 0,
        "maxRingingTime": task.max_ringing_time,
        "taskType": task.kind,
        "scriptId": task.script_id,
        "parentTaskId": task.parent_task_id,
        "called": c["called"],
        "answered": answered,
        "failed": c["called"] - answered,
        "dialing": c["dialing"],
        "pending": c["pending"],
        # voxcast extension: numbers left out at submission because a do-not-call list
        # holds them (numbers added to a list later show in their records, code 608)
        "dncCount": task.dnc_skipped,
    }


# -- the operator's view (`voxcast tasks list / show`) -------------------------------------------


@dataclass(frozen=True)
class TaskCounts:
    """A task's callees by state: how far it has got."""

    total: int = 0
    called: int = 0
    answered: int = 0
    dialing: int = 0
    pending: int = 0

    @property
    def failed(self) -> int:
        return self.called - self.answered


@dataclass(frozen=True)
class TaskSummary:
    """One task of any kind as an operator sees it: the row and its progress."""

    task: Task
    counts: TaskCounts


async def account_tasks(
    session: AsyncSession, account_id: int, *, size: int, page: int = 1
) -> tuple[list[TaskSummary], int]:
    """The account's tasks of every kind, newest first, with their counts; and how many it
    has. An unknown account is answered -24."""
    await accounts.get_account(session, account_id)
    total, rows = await listing.task_page(session, [Task.account_id == account_id], page, size)
    counts = await _counters(session, [t.id for t in rows])
    return [TaskSummary(t, TaskCounts(**counts.get(t.id, {}))) for t in rows], total


async def task_summary(session: AsyncSession, task_id: int) -> TaskSummary:
    """Any task by id, whoever owns it, with its counts; -24 when there is none."""
    task = await session.get(Task, task_id)
    if task is None:
        raise ApiError(Code.NOT_FOUND, f"task {task_id} does not exist")
    counts = (await _counters(session, [task.id])).get(task.id, {})
    return TaskSummary(task, TaskCounts(**counts))
