"""Single API sends: voice OTP (sendCode) and a file message to a few numbers (sendGroup).

Each is stored as a task of its own kind with its callees, voiceIds assigned at once so the
caller can poll the record; the dialer calls them like any task.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from voxcast import compliance
from voxcast.audio.voices import LANGUAGES
from voxcast.domain import ids
from voxcast.domain.codes import ApiError, Code
from voxcast.domain.enums import Source, TaskKind
from voxcast.domain.task_states import INITIAL
from voxcast.services import accounts, files, rates
from voxcast.storage.models import Account, Callee, Task

#: talk cap (seconds after answer) when the request gives no maxDuration
DEFAULT_MAX_DURATION = 60


@dataclass(frozen=True)
class Send:
    """What both kinds of send store; `numbers` in the caller's order."""

    kind: TaskKind
    app_id: str
    numbers: list[str]
    number_field: str
    display_num: str | None
    params: dict[str, Any]
    text: str | None = None
    lan: str | None = None
    voice_file_id: str | None = None
    loop_count: int = 1
    max_duration: int | None = None
    max_ringing_time: int = 60
    delay_play: int = 0
    delay_hangup: int = 0
    called_info: str | None = None


def check_language(text: str | None, language: str | None, field: str = "language") -> str:
    """-22 naming the field when text or language is missing (sendCode's page lists -22, not
    callSend's -38), -39 when the language is not one voxcast speaks."""
    if not text or not language:
        missing = "text" if not text else field
        raise ApiError(Code.PARAMETER, f"{missing}: is required")
    code = language.strip().upper()
    if code not in LANGUAGES:
        raise ApiError(
            Code.TTS_LANGUAGE, f"{field}: {language} is not one of {', '.join(LANGUAGES)}"
        )
    return code


async def submit(session: AsyncSession, account: Account, send: Send, now: datetime) -> list[str]:
    """Check the app, the rates and the balance, store the task; return one voiceId a number."""
    await accounts.require_app(session, account.id, send.app_id)
    if send.voice_file_id is not None:
        await files.require_file(session, account.id, send.voice_file_id, "fileId")
    book = await rates.load_rate_book(session, account.id)
    frozen: list[Decimal] = []
    for i, number in enumerate(send.numbers):
        rate = book.lookup(number)
        if rate is None:
            # sendCode has one callee: name the field itself; sendGroup names the position
            field = send.number_field if send.kind == TaskKind.CODE else f"{send.number_field}[{i}]"
            raise ApiError(Code.FEE, f"{field}: no rate for destination {number}")
        frozen.append(rate)
    fresh = await session.scalar(select(Account.balance).where(Account.id == account.id))
    rates.require_balance(fresh if fresh is not None else account.balance)
    # a listed number still gets its voiceId: the dialer records it as not dialed (608)
    # instead of calling it, so the caller polling the record learns why
    listed = await compliance.listed(session, account.id, send.app_id, send.numbers)
    task = Task(
        account_id=account.id,
        app_id=send.app_id,
        kind=send.kind,
        task_name=None,
        status=INITIAL,
        source=Source.TTS if send.kind == TaskKind.CODE else Source.UPLOADED,
        voice_file_id=send.voice_file_id,
        text=send.text,
        lan=send.lan,
        display_num=send.display_num or None,
        loop_count=send.loop_count,
        # maxDuration absent: the same 60 s talk cap as a group-call task's maxCalls default
        max_calls=send.max_duration or DEFAULT_MAX_DURATION,
        max_ringing_time=send.max_ringing_time,
        delay_play=send.delay_play,
        delay_hangup=send.delay_hangup,
        num_cnt=len(send.numbers),
        dnc_skipped=sum(1 for n in send.numbers if n in listed),
        params=send.params,
        created_at=now,
        updated_at=now,
    )
    session.add(task)
    await session.flush()
    info = {"calledInfo": send.called_info} if send.called_info else None
    ids_ = list(
        (
            await session.scalars(
                insert(Callee).returning(Callee.id, sort_by_parameter_order=True),
                [
                    {
                        "task_id": task.id,
                        "seq": i,
                        "callee": n,
                        "info": info,
                        "state": 0,
                        "attempts": 0,
                        "rate": rate,
                    }
                    for i, (n, rate) in enumerate(zip(send.numbers, frozen, strict=True), start=1)
                ],
            )
        ).all()
    )
    # the voiceId embeds the callee's row id, so it is set once the rows exist: one
    # executemany UPDATE by primary key for all of them
    voice_ids = [ids.voice_id(now, callee_id) for callee_id in ids_]
    await session.execute(
        update(Callee),
        [{"id": cid, "voice_id": vid} for cid, vid in zip(ids_, voice_ids, strict=True)],
    )
    return voice_ids
