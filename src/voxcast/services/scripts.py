"""AI robot scripts per account: add, update, read, list and delete them (validated on the way
in), look one up for a task, and list the account's outbound lines for `aivoice/channelList`."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from voxcast.domain import scripts
from voxcast.domain.codes import ApiError, Code
from voxcast.domain.enums import ACTIVE_TASK_STATUSES, AI_KINDS
from voxcast.storage.models import Account, Task
from voxcast.storage.scripts import ScriptRow

#: every stored script has passed validation, so all are usable (B.1's `status`)
STATUS_PUBLISHED = "PUBLISHED"
#: the id `channelList` gives the account's one outbound line (its trunk or the sandbox)
LINE_ID = 1
SANDBOX_LINE = "sandbox"
_EXAMPLE_NAME = re.compile(r"[a-z0-9_]{1,64}")
#: how many problems a refusal lists before "(and N more)"
_LISTED = 5


@dataclass(frozen=True)
class Line:
    """An outbound line: `tenantPhoneNumberId` and `phoneNumber` (its name) in channelList."""

    id: int
    name: str


def example_document(name: str = "payment_reminder") -> dict[str, Any]:
    """A script that ships with voxcast (src/voxcast/domain/examples/NAME.json);
    FileNotFoundError for a name that is none of them."""
    if not _EXAMPLE_NAME.fullmatch(name):
        raise FileNotFoundError(name)
    text = resources.files("voxcast.domain").joinpath("examples", f"{name}.json").read_text()
    document: dict[str, Any] = json.loads(text)
    return document


def checked(document: Any, prefix: str = "") -> scripts.Script:
    """The script a document describes, or -22 listing the problems (field paths prefixed with
    `prefix`, the request field the document came in)."""
    try:
        script = scripts.parse(document)
    except scripts.ScriptFormatError as err:
        raise ApiError(Code.PARAMETER, f"{prefix}{err}") from None
    problems = scripts.validate(script)
    if problems:
        listed = "; ".join(f"{prefix}{p}" for p in problems[:_LISTED])
        more = f" (and {len(problems) - _LISTED} more)" if len(problems) > _LISTED else ""
        raise ApiError(Code.PARAMETER, listed + more)
    return script


async def add_script(
    session: AsyncSession, account_id: int, document: Any, now: datetime, prefix: str = ""
) -> ScriptRow:
    """Store a new script for the account; its id is the dialogFlowId and the scriptId."""
    script = checked(document, prefix)
    row = ScriptRow(
        account_id=account_id,
        name=script.name,
        revision=1,
        document=scripts.to_json(script),
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    await session.flush()
    return row


async def get_script(
    session: AsyncSession, account_id: int, script_id: int, field: str = "dialogFlowId"
) -> ScriptRow:
    """The account's script with this id; -60 naming `field` for an unknown id and another
    account's alike, so no tenant learns which ids exist."""
    row = await session.get(ScriptRow, script_id)
    if row is None or row.account_id != account_id:
        raise ApiError(Code.SCRIPT_NOT_FOUND, f"{field}: {script_id} does not exist")
    return row


async def require_script(
    session: AsyncSession, account_id: int, script_id: int | None, field: str = "scriptId"
) -> None:
    """A task's script must be one of the account's (-60); None: the task names none."""
    if script_id is not None:
        await get_script(session, account_id, script_id, field)


async def update_script(
    session: AsyncSession,
    account_id: int,
    script_id: int,
    document: Any,
    now: datetime,
    prefix: str = "",
) -> ScriptRow:
    """Replace a script's document with a new valid one; its revision goes up by one."""
    row = await get_script(session, account_id, script_id)
    script = checked(document, prefix)
    row.name = script.name
    row.document = scripts.to_json(script)
    row.revision += 1
    row.updated_at = now
    await session.flush()
    return row


async def delete_script(session: AsyncSession, account_id: int, script_id: int) -> None:
    """Delete a script no unfinished AI task uses (-22 naming the task otherwise)."""
    row = await get_script(session, account_id, script_id)
    in_use = await session.scalar(
        select(Task.id)
        .where(
            Task.account_id == account_id,
            Task.kind.in_(AI_KINDS),
            Task.script_id == script_id,
            Task.status.in_(ACTIVE_TASK_STATUSES),
        )
        .limit(1)
    )
    if in_use is not None:
        raise ApiError(
            Code.PARAMETER, f"dialogFlowId: {script_id} is used by unfinished task {in_use}"
        )
    await session.delete(row)
    await session.flush()


async def list_scripts(session: AsyncSession, account_id: int) -> list[ScriptRow]:
    """The account's scripts, oldest first."""
    rows = await session.scalars(
        select(ScriptRow).where(ScriptRow.account_id == account_id).order_by(ScriptRow.id)
    )
    return list(rows)


def variables_of(row: ScriptRow) -> tuple[str, ...]:
    """The customer properties the script's prompts and SMS use."""
    return scripts.parse(row.document).variables_used()


async def lines(session: AsyncSession, account_id: int) -> list[Line]:
    """The account's outbound lines: the trunk its calls go through (`voxcast admin trunk
    use`), else the built-in sandbox carrier."""
    account = await session.get(Account, account_id)
    if account is None:
        raise ApiError(Code.NOT_FOUND, f"account {account_id} does not exist")
    return [Line(LINE_ID, account.trunk or SANDBOX_LINE)]
