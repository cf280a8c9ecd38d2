"""The dialer's only door to the database: every statement the dialer runs, as typed functions
that take the caller's session (the caller owns the transaction).

On PostgreSQL a claim takes a per-account advisory lock, so several workers never exceed the
account's limits together, and `FOR UPDATE SKIP LOCKED` so they never claim the same row. SQLite
is the single-node mode: one dialer per database file (docs/deployment.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Integer, bindparam, cast, exists, func, insert, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from voxcast import compliance
from voxcast.audio.catalog import VoiceRule
from voxcast.dialer.context import AccountLimits, Claimed, TaskContext
from voxcast.domain.callin_strategy import calls_on, count_day
from voxcast.domain.enums import CalleeState, RecallStatus, TaskStatus
from voxcast.domain.task_states import TaskEvent
from voxcast.ports import ReservedAgent
from voxcast.services import rates as rate_service
from voxcast.services import recordings, speech
from voxcast.services.agents import AgentStatus
from voxcast.storage import task_status
from voxcast.storage.models import (
    CALLEES,
    Account,
    Agent,
    AgentGroup,
    Callee,
    CallRecord,
    CcRecord,
    RecallFlow,
    RecallNode,
    SmsMessage,
    StoredRecording,
    Task,
    VoiceFile,
)
from voxcast.storage.scripts import ScriptRow
from voxcast.webhooks import pushes

#: the transaction handle the other dialer modules pass around (they import no SQLAlchemy)
Session = AsyncSession

PACING_WINDOW = timedelta(seconds=1)

_ACCOUNT_LOCK_BASE = 7_311_931_000_000
#: lease renewals go in chunks of this many ids (bound parameter limits)
_ID_CHUNK = 1000


# -- tasks --------------------------------------------------------------------------------------


async def calling_tasks(session: Session) -> list[tuple[AccountLimits, list[TaskContext]]]:
    """The tasks now calling of every account with a balance, grouped by account."""
    rows = (
        await session.execute(
            select(Task, Account, RecallNode.seq)
            .join(Account, Account.id == Task.account_id)
            .outerjoin(RecallNode, RecallNode.id == Task.recall_node_id)
            .where(Task.status == TaskStatus.CALLING, Account.balance > 0)
            .order_by(Task.account_id, Task.id)
        )
    ).all()
    grouped: dict[int, tuple[AccountLimits, list[TaskContext]]] = {}
    for task, account, recall_seq in rows:
        if account.id not in grouped:
            grouped[account.id] = (AccountLimits.of(account), [])
        ctx = TaskContext.of(task)
        ctx.out_recall_count = int(recall_seq or 0)
        grouped[account.id][1].append(ctx)
    return list(grouped.values())


async def task(session: Session, task_id: int) -> Task | None:
    return await session.get(Task, task_id)


async def script_document(
    session: Session, account_id: int, script_id: int
) -> dict[str, Any] | None:
    """The script an AI task follows, as last saved (None: deleted, or not the account's)."""
    row = await session.get(ScriptRow, script_id)
    return None if row is None or row.account_id != account_id else row.document


async def submitted_tasks(session: Session, stale: datetime, limit: int = 20) -> list[int]:
    """Tasks submitted (status 6) that no worker took, or took before `stale`."""
    return list(
        (
            await session.scalars(
                select(Task.id)
                .where(
                    Task.status == TaskStatus.SUBMITTING,
                    or_(Task.started_at.is_(None), Task.started_at < stale),
                )
                .order_by(Task.id)
                .limit(limit)
            )
        ).all()
    )


async def take_submitted(session: Session, task_id: int, now: datetime, stale: datetime) -> bool:
    """Take a submitted task to prepare its prompts; False when another worker has it."""
    took = await session.execute(
        update(Task)
        .where(
            Task.id == task_id,
            Task.status == TaskStatus.SUBMITTING,
            or_(Task.started_at.is_(None), Task.started_at < stale),
        )
        .values(started_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(took.rowcount)  # type: ignore[attr-defined]


async def move_task(
    session: Session, task_id: int, event: TaskEvent, now: datetime, *, reason: str = ""
) -> int:
    """Apply `event` to one task if its status allows it (see `voxcast.storage.task_status`)."""
    return await task_status.move_where(session, event, now, Task.id == task_id, reason=reason)


async def start_due_tasks(session: Session, now: datetime) -> int:
    return await task_status.move_where(
        session, TaskEvent.START, now, or_(Task.send_time.is_(None), Task.send_time <= now)
    )


async def finish_done_tasks(session: Session, now: datetime) -> int:
    left = exists().where(
        Callee.task_id == Task.id,
        Callee.state.in_([CalleeState.PENDING, CalleeState.DIALING]),
    )
    return await task_status.move_where(session, TaskEvent.FINISH, now, ~left)


async def suspend_broke_tasks(session: Session, now: datetime, reason: str) -> int:
    broke = select(Account.id).where(Account.balance <= 0)
    return await task_status.move_where(
        session, TaskEvent.BALANCE_OUT, now, Task.account_id.in_(broke), reason=reason
    )


# -- claims -------------------------------------------------------------------------------------


async def capacity(
    session: Session,
    account_id: int,
    task_ids: list[int],
    now: datetime,
    max_cps: int,
    max_channels: int,
) -> int:
    """How many calls the account may start now: free channels and what the last second
    allows, none when its balance is not above zero. One statement: the two counts and the
    balance are read together (the caller holds the account's lock)."""
    if not task_ids:
        return 0
    in_flight = (
        select(func.count())
        .select_from(Callee)
        .where(Callee.task_id.in_(task_ids), Callee.state == CalleeState.DIALING)
        .scalar_subquery()
    )
    recent = (
        select(func.count())
        .select_from(Callee)
        .where(
            Callee.dialed_at >= now - PACING_WINDOW,
            Callee.dialed_at <= now,
            Callee.task_id.in_(task_ids),
        )
        .scalar_subquery()
    )
    balance = select(Account.balance).where(Account.id == account_id).scalar_subquery()
    dialing, started, left = (await session.execute(select(in_flight, recent, balance))).one()
    room = max(0, min(max_channels - int(dialing or 0), max_cps - int(started or 0)))
    return room if left is not None and left > 0 else 0


async def waiting_callees(session: Session, task_id: int) -> int:
    """The task's calls in progress on every worker that no agent has answered yet: claimed,
    ringing, or waiting in the agent queue (counted until their results are written)."""
    waiting = await session.scalar(
        select(func.count())
        .select_from(Callee)
        .where(
            Callee.task_id == task_id,
            Callee.state == CalleeState.DIALING,
            Callee.agent_at.is_(None),
        )
    )
    return int(waiting or 0)


async def agent_answered(session: Session, callee_id: int, at: datetime) -> None:
    """An agent took the callee's call: it no longer waits (see `waiting_callees`)."""
    await session.execute(
        update(Callee)
        .where(Callee.id == callee_id, Callee.state == CalleeState.DIALING)
        .values(agent_at=at)
        .execution_options(synchronize_session=False)
    )


async def lock_account(session: Session, account_id: int) -> None:
    """Serialize claims of one account across workers; returns once the lock is held, so what
    the caller reads next (its clock) comes after every commit the lock waited for."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(
            text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ACCOUNT_LOCK_BASE + account_id}
        )
        return
    # SQLite's lock is its one write lock, taken by BEGIN IMMEDIATE (storage/db.py) when the
    # transaction gets its connection: here, not at the first statement. A clock read before
    # it was read before the recorder's commits it then waited for, and their calls' hang-ups
    # came after the new calls' start (record times overlapped past the channels; issue 17)
    await session.connection()


async def claim(
    session: Session,
    task_id: int,
    limit: int,
    now: datetime,
    worker_id: str,
    lease_until: datetime,
) -> list[Claimed]:
    """Lease up to `limit` due callees of one task, in list order."""
    if limit <= 0:
        return []
    due = (
        select(Callee.id)
        .where(
            Callee.task_id == task_id,
            Callee.state == CalleeState.PENDING,
            or_(Callee.next_attempt_at.is_(None), Callee.next_attempt_at <= now),
        )
        .order_by(Callee.seq)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    # the ids first: an UPDATE on `id IN (due)` may rescan the subquery, and each rescan
    # skips other locked rows, so it could take more than `limit`
    ids = list((await session.scalars(due)).all())
    if not ids:
        return []
    # leased and returned in one statement; RETURNING keeps no order: the list order is
    # restored here
    rows = await session.execute(
        update(Callee)
        .where(Callee.id.in_(ids), Callee.state == CalleeState.PENDING)
        .values(
            state=CalleeState.DIALING,
            lease_owner=worker_id,
            lease_until=lease_until,
            dialed_at=now,
            attempts=Callee.attempts + 1,
            agent_at=None,
        )
        .returning(
            Callee.id,
            Callee.task_id,
            Callee.seq,
            Callee.callee,
            Callee.info,
            Callee.voice_id,
            Callee.attempts,
            Callee.rate,
        )
        .execution_options(synchronize_session=False)
    )
    return sorted((Claimed(*row) for row in rows), key=lambda c: c.seq)


async def release(session: Session, held: list[tuple[int, datetime]]) -> None:
    """Undo claims without dialing: back to pending, due at the given time, no attempt used."""
    table = CALLEES
    await session.execute(
        update(table)
        .where(table.c.id == bindparam("cid"))
        .values(
            state=CalleeState.PENDING,
            lease_owner=None,
            lease_until=None,
            dialed_at=None,
            attempts=table.c.attempts - 1,
            next_attempt_at=bindparam("due"),
        ),
        [{"cid": cid, "due": due} for cid, due in held],
    )


async def set_voice_ids(session: Session, claimed: Sequence[Claimed]) -> None:
    """Store the voiceIds given to callees on their first attempt."""
    if not claimed:
        return
    await session.execute(
        update(CALLEES).where(CALLEES.c.id == bindparam("cid")).values(voice_id=bindparam("vid")),
        [{"cid": c.id, "vid": c.voice_id} for c in claimed],
    )


# -- leases -------------------------------------------------------------------------------------


async def renew_leases(session: Session, owner: str, ids: list[int], until: datetime) -> None:
    """Extend to `until` the leases `owner` holds on `ids` that would run out before it."""
    for i in range(0, len(ids), _ID_CHUNK):
        await session.execute(
            update(Callee)
            .where(
                Callee.id.in_(ids[i : i + _ID_CHUNK]),
                Callee.lease_owner == owner,
                Callee.state == CalleeState.DIALING,
                Callee.lease_until < until,
            )
            .values(lease_until=until)
            .execution_options(synchronize_session=False)
        )


async def expired_leases(session: Session, now: datetime, limit: int = 500) -> list[int]:
    """Callees whose worker died mid-call (lease run out while still DIALING)."""
    rows = await session.scalars(
        select(Callee.id)
        .where(Callee.state == CalleeState.DIALING, Callee.lease_until < now)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(rows.all())


async def lease_horizon(session: Session, me: str) -> datetime | None:
    """The earliest end of any call's lease and of any other worker's hold on a seat (None:
    none held): until then the reaper has nothing to find. One statement, both by index."""
    calls = (
        select(func.min(Callee.lease_until))
        .where(Callee.state == CalleeState.DIALING)
        .scalar_subquery()
    )
    seats = (
        select(func.min(Agent.held_until))
        .where(
            Agent.status.in_((AgentStatus.BUSY, AgentStatus.WRAP_UP)),
            Agent.held_by.is_not(None),
            Agent.held_by != me,
        )
        .scalar_subquery()
    )
    ends = [end for end in (await session.execute(select(calls, seats))).one() if end is not None]
    return min(ends) if ends else None


@dataclass
class LeasedCall:
    """A call in progress as the database has it: what a reaper needs to record it."""

    ctx: TaskContext
    limits: AccountLimits
    claimed: Claimed
    dialed_at: datetime | None


async def leased_calls(session: Session, ids: list[int]) -> list[LeasedCall]:
    rows = (
        await session.execute(
            select(Callee, Task, Account, RecallNode.seq)
            .join(Task, Task.id == Callee.task_id)
            .join(Account, Account.id == Task.account_id)
            .outerjoin(RecallNode, RecallNode.id == Task.recall_node_id)
            .where(Callee.id.in_(ids))
        )
    ).all()
    out: list[LeasedCall] = []
    for callee, task_row, account, recall_seq in rows:
        ctx = TaskContext.of(task_row)
        ctx.out_recall_count = int(recall_seq or 0)
        claimed = Claimed(
            callee.id,
            callee.task_id,
            callee.seq,
            callee.callee,
            callee.info,
            callee.voice_id,
            callee.attempts,
            callee.rate,
        )
        out.append(LeasedCall(ctx, AccountLimits.of(account), claimed, callee.dialed_at))
    return out


# -- results ------------------------------------------------------------------------------------


async def leased_attempts(session: Session, ids: list[int], owner: str | None) -> dict[int, int]:
    """Callee id -> attempt of those of `ids` still DIALING (leased to `owner` unless None),
    locked until the transaction ends."""
    still = select(Callee.id, Callee.attempts).where(
        Callee.id.in_(ids), Callee.state == CalleeState.DIALING
    )
    if owner is not None:
        still = still.where(Callee.lease_owner == owner)
    rows = (await session.execute(still.with_for_update())).all()
    return {int(cid): int(attempts) for cid, attempts in rows}


async def update_callees(session: Session, values: list[dict[str, Any]]) -> None:
    """Bulk update of callees by primary key (each dict has `id` and the columns to set)."""
    await session.execute(update(Callee), values)


async def rate_book(session: Session, account_id: int) -> rate_service.RateBook:
    return await rate_service.load_rate_book(session, account_id)


#: CallRecord's columns with a Python default: what a None in a record stands for
_RECORD_DEFAULTS = {
    column.key: column.default.arg
    for column in CallRecord.__table__.columns
    if column.default is not None and column.default.is_scalar
}


async def add_call_records(session: Session, records: list[dict[str, Any]]) -> None:
    """One INSERT for the batch: the ORM's bulk insert leaves out None values by default and
    so splits a batch by which of its columns are None (a statement per run of alike rows,
    a third of a call's statements); each None is here what leaving it out stored, the
    column's default or NULL, and sent as such."""
    rows = [
        {key: _RECORD_DEFAULTS.get(key) if value is None else value for key, value in r.items()}
        for r in records
    ]
    await session.execute(insert(CallRecord).execution_options(render_nulls=True), rows)


async def add_recordings(session: Session, rows: list[dict[str, Any]]) -> None:
    """Recordings' packed audio, written with their calls' records (services.recordings)."""
    if rows:
        await session.execute(insert(StoredRecording), rows)


async def add_cc_records(
    session: Session, rows: list[dict[str, Any]], now: datetime, *, due: datetime
) -> None:
    """Insert call-center records and queue their pushes."""
    if not rows:
        return
    await session.execute(insert(CcRecord), rows)
    await pushes.queue_cc_records(session, rows, now, due=due)


async def queue_voice_reports(
    session: Session,
    records: list[dict[str, Any]],
    now: datetime,
    *,
    due: datetime,
    links: recordings.Links | None = None,
) -> None:
    """Queue the push of each call record just added (derived by `voxcast.webhooks.pushes`),
    recorded calls with `links` to their recordings."""
    await pushes.queue_voice_reports(session, records, now, due=due, links=links)


async def debit(session: Session, account_id: int, amount: Decimal) -> None:
    await session.execute(
        update(Account).where(Account.id == account_id).values(balance=Account.balance - amount)
    )


async def add_sms(session: Session, rows: list[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(SmsMessage), rows)


async def queue_ringing(
    session: Session,
    *,
    account_id: int,
    app_id: str,
    call_id: str,
    called: str,
    called_info: str | None,
    task_id: int | None,
    agent: ReservedAgent,
    no_answer: list[str],
    at: datetime,
    ring_type: int,
    now: datetime,
    due: datetime,
) -> None:
    """The agent ringing push of one offer to an agent (see `voxcast.webhooks.pushes`)."""
    await pushes.queue_ringing(
        session,
        account_id=account_id,
        app_id=app_id,
        call_id=call_id,
        called=called,
        called_info=called_info,
        task_id=task_id,
        agent=agent,
        no_answer=no_answer,
        at=at,
        ring_type=ring_type,
        now=now,
        due=due,
    )


# -- prompts ------------------------------------------------------------------------------------


async def voice_file_ms(session: Session, file_id: str | None) -> tuple[bool, int]:
    """Whether the voice file exists, and its measured length in milliseconds."""
    row = (
        await session.execute(select(VoiceFile.duration_ms).where(VoiceFile.file_id == file_id))
    ).first()
    if row is None:
        return False, 0
    return True, int(row[0] or 0)


async def callee_infos(session: Session, task_id: int) -> list[dict[str, Any] | None]:
    """Each callee's variables (for per-callee speech), in list order."""
    return list(
        (
            await session.scalars(
                select(Callee.info).where(Callee.task_id == task_id).order_by(Callee.seq)
            )
        ).all()
    )


async def voice_rules(session: Session, account_id: int) -> list[VoiceRule]:
    return await speech.rules_of(session, account_id)


# -- agents -------------------------------------------------------------------------------------


async def agent_group(session: Session, group_id: int) -> AgentGroup | None:
    return await session.get(AgentGroup, group_id)


async def agent(session: Session, agent_id: int) -> Agent | None:
    return await session.get(Agent, agent_id)


@dataclass(frozen=True)
class FreeAgent:
    id: int
    #: when its status last changed
    since: datetime
    priority: int
    calls_today: int
    #: the day `calls_today` counts
    calls_day: date | None


async def free_agents(
    session: Session,
    group_id: int,
    free: Sequence[int],
    *,
    registered_only: bool,
    exclude: frozenset[int] = frozenset(),
) -> list[FreeAgent]:
    """The group's enabled agents in one of the `free` statuses."""
    query = select(
        Agent.id, Agent.status_changed_at, Agent.priority, Agent.calls_today, Agent.calls_day
    ).where(Agent.group_id == group_id, Agent.enable.is_(True), Agent.status.in_(free))
    if registered_only:
        query = query.where(Agent.contact.is_not(None))
    if exclude:
        query = query.where(Agent.id.not_in(list(exclude)))
    return [FreeAgent(*row) for row in (await session.execute(query)).all()]


async def count_free_agents(
    session: Session, group_id: int, free: Sequence[int], *, registered_only: bool
) -> int:
    query = select(func.count()).where(
        Agent.group_id == group_id, Agent.enable.is_(True), Agent.status.in_(free)
    )
    if registered_only:
        query = query.where(Agent.contact.is_not(None))
    return int(await session.scalar(query) or 0)


async def last_offered_agent(session: Session, group_id: int) -> int | None:
    return await session.scalar(
        select(AgentGroup.last_offered_seat_id).where(AgentGroup.id == group_id)
    )


@dataclass(frozen=True)
class SeatHolder:
    """The worker that holds the seats it reserves, and until when each hold lasts unless
    renewed (`renew_seats`); past it another worker gives them back (`free_orphaned_seats`)."""

    owner: str
    until: datetime


async def take_agent(
    session: Session,
    agent_id: int,
    free: Sequence[int],
    now: datetime,
    holder: SeatHolder | None = None,
) -> bool:
    """Mark a free agent busy (held by `holder`); False when another worker took it first
    (the status guard makes the reservation atomic between workers)."""
    took = await session.execute(
        update(Agent)
        .where(Agent.id == agent_id, Agent.status.in_(free))
        .values(
            status=AgentStatus.BUSY,
            status_changed_at=now,
            held_by=holder.owner if holder else None,
            held_until=holder.until if holder else None,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(took.rowcount)  # type: ignore[attr-defined]


async def renew_seats(session: Session, holder: SeatHolder) -> None:
    """Extend the holds `holder.owner` has on busy or wrapping-up seats to `holder.until`."""
    await session.execute(
        update(Agent)
        .where(
            Agent.held_by == holder.owner,
            Agent.status.in_((AgentStatus.BUSY, AgentStatus.WRAP_UP)),
        )
        .values(held_until=holder.until)
        .execution_options(synchronize_session=False)
    )


async def free_orphaned_seats(session: Session, now: datetime, me: str) -> list[int]:
    """Seats another worker holds busy or in wrap-up past its lease (it died: SIGKILL, a lost
    machine): back to idle when registered, else offline, as its own release would have
    left them. Returns their ids."""
    rows = (
        await session.scalars(
            select(Agent)
            .where(
                Agent.status.in_((AgentStatus.BUSY, AgentStatus.WRAP_UP)),
                Agent.held_by.is_not(None),
                Agent.held_by != me,
                Agent.held_until < now,
            )
            .with_for_update(skip_locked=True)
        )
    ).all()
    for row in rows:
        row.status = AgentStatus.IDLE if row.contact else AgentStatus.OFFLINE
        row.status_changed_at = now
        row.held_by = row.held_until = None
    return [row.id for row in rows]


async def set_last_offered(session: Session, group_id: int, agent_id: int) -> None:
    await session.execute(
        update(AgentGroup)
        .where(AgentGroup.id == group_id)
        .values(last_offered_seat_id=agent_id)
        .execution_options(synchronize_session=False)
    )


async def set_agent_status(
    session: Session,
    agent_id: int,
    now: datetime,
    *,
    wrap_up: bool,
    only_from: int | None = None,
    counted: bool = False,
    holder: SeatHolder | None = None,
) -> None:
    """Busy (or wrap-up) -> wrap-up (held by `holder` until it ends), idle (registered) or
    offline (not registered), if the agent is in `only_from` (when given); `counted`: one
    more call taken today."""
    row = await session.get(Agent, agent_id)
    if row is None or (only_from is not None and row.status != only_from):
        return
    if counted:
        # only the worker holding the (busy) agent releases it: no concurrent writer
        today = count_day(now)
        row.calls_today = calls_on(today, row.calls_day, row.calls_today) + 1
        row.calls_day = today
    if wrap_up:
        row.status = AgentStatus.WRAP_UP
        row.held_by = holder.owner if holder else None
        row.held_until = holder.until if holder else None
    else:
        row.status = AgentStatus.IDLE if row.contact else AgentStatus.OFFLINE
        row.held_by = row.held_until = None
    row.status_changed_at = now


async def recent_abandons(session: Session, task_id: int, window: int) -> tuple[int, int]:
    """Of the task's last `window` calls put through to agents: how many, how many abandoned."""
    recent = (
        select(CcRecord.abandoned)
        .where(CcRecord.task_id == task_id, CcRecord.transfer_time.is_not(None))
        .order_by(CcRecord.call_start_time.desc())
        .limit(window)
        .subquery()
    )
    total, abandoned = (
        await session.execute(
            select(func.count(), func.coalesce(func.sum(cast(recent.c.abandoned, Integer)), 0))
        )
    ).one()
    return int(total), int(abandoned)


# -- recall flows -------------------------------------------------------------------------------


def _flows_to_start() -> Any:
    return (
        select(RecallFlow, Task)
        .join(Task, Task.id == RecallFlow.task_id)
        .where(RecallFlow.status == RecallStatus.PENDING, Task.status == TaskStatus.FINISHED)
    )


def _due_nodes(now: datetime) -> Any:
    return (
        select(RecallNode, RecallFlow)
        .join(RecallFlow, RecallFlow.id == RecallNode.flow_id)
        .where(
            RecallFlow.status == RecallStatus.IN_PROGRESS,
            RecallNode.status == RecallStatus.PENDING,
            RecallNode.run_at.is_not(None),
            RecallNode.run_at <= now,
        )
    )


def _ended_nodes() -> Any:
    return (
        select(RecallNode, RecallFlow, Task)
        .join(RecallFlow, RecallFlow.id == RecallNode.flow_id)
        .join(Task, Task.id == RecallNode.task_id)
        .where(
            RecallNode.status == RecallStatus.IN_PROGRESS,
            Task.status.in_([TaskStatus.FINISHED, TaskStatus.CANCELED, TaskStatus.SUBMIT_FAILED]),
        )
    )


@dataclass(frozen=True)
class RecallWork:
    """Which of the recall flows' three steps have something to do now."""

    flows_to_start: bool
    due_nodes: bool
    ended_nodes: bool


async def recall_work(session: Session, now: datetime) -> RecallWork:
    """One statement (three EXISTS) instead of the three reads, for the ticks with none."""
    row = (
        await session.execute(
            select(_flows_to_start().exists(), _due_nodes(now).exists(), _ended_nodes().exists())
        )
    ).one()
    return RecallWork(*(bool(found) for found in row))


async def flows_to_start(session: Session) -> list[tuple[RecallFlow, Task]]:
    """Pending flows whose parent task has finished, with that task."""
    rows = await session.execute(_flows_to_start())
    return [(flow, parent) for flow, parent in rows.all()]


async def start_flow(session: Session, flow_id: int) -> bool:
    """Pending -> in progress; False when another worker started it."""
    claimed = await session.execute(
        update(RecallFlow)
        .where(RecallFlow.id == flow_id, RecallFlow.status == RecallStatus.PENDING)
        .values(status=RecallStatus.IN_PROGRESS)
        .execution_options(synchronize_session=False)
    )
    return bool(claimed.rowcount)  # type: ignore[attr-defined]


async def due_nodes(session: Session, now: datetime) -> list[tuple[RecallNode, RecallFlow]]:
    """Pending rounds of flows in progress whose time has come."""
    rows = await session.execute(_due_nodes(now))
    return [(node, flow) for node, flow in rows.all()]


async def ended_nodes(session: Session) -> list[tuple[RecallNode, RecallFlow, Task]]:
    """Rounds in progress whose task is finished, cancelled or failed before dialing."""
    rows = await session.execute(_ended_nodes())
    return [(node, flow, child) for node, flow, child in rows.all()]


async def schedule_node(session: Session, flow_id: int, seq: int, run_at: datetime) -> bool:
    """Set when a pending round runs; False when the flow has no such pending round."""
    result = await session.execute(
        update(RecallNode)
        .where(
            RecallNode.flow_id == flow_id,
            RecallNode.seq == seq,
            RecallNode.status == RecallStatus.PENDING,
        )
        .values(run_at=run_at)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def start_node(session: Session, node_id: int) -> bool:
    """Pending -> in progress; False when another worker started it."""
    took = await session.execute(
        update(RecallNode)
        .where(RecallNode.id == node_id, RecallNode.status == RecallStatus.PENDING)
        .values(status=RecallStatus.IN_PROGRESS)
        .execution_options(synchronize_session=False)
    )
    return bool(took.rowcount)  # type: ignore[attr-defined]


async def node_task(session: Session, flow_id: int, seq: int) -> int | None:
    """The task of a flow's round `seq`."""
    return await session.scalar(
        select(RecallNode.task_id).where(RecallNode.flow_id == flow_id, RecallNode.seq == seq)
    )


async def recall_numbers(
    session: Session, task_id: int, *, failed_only: bool, intents: list[str] | None = None
) -> list[tuple[str, dict[str, Any] | None, Decimal | None]]:
    """A task's callees to call again (number, variables, frozen rate), in list order. With
    `intents` (an AI flow's recallIntent): those whose last call's conversation ended on one of
    these intent levels, answered or not by recallType."""
    numbers = select(Callee.id, Callee.callee, Callee.info, Callee.rate).where(
        Callee.task_id == task_id
    )
    if failed_only and not intents:
        numbers = numbers.where(or_(Callee.success.is_(None), Callee.success.is_(False)))
    rows = (await session.execute(numbers.order_by(Callee.seq))).all()
    if intents:
        ended_on = await _final_intents(session, task_id)
        rows = [r for r in rows if ended_on.get(r.id) in intents]
    return [(callee, info, rate) for _id, callee, info, rate in rows]


async def _final_intents(session: Session, task_id: int) -> dict[int, str | None]:
    """Each callee's intent level at the end of its last call (robot calls only)."""
    found: dict[int, str | None] = {}
    records = await session.execute(
        select(CallRecord.callee_id, CallRecord.conversation)
        .where(CallRecord.task_id == task_id, CallRecord.conversation.is_not(None))
        .order_by(CallRecord.call_time)
    )
    for callee_id, conversation in records.all():
        if callee_id is not None:
            found[callee_id] = (conversation or {}).get("intent_level")
    return found


async def add_round_task(
    session: Session,
    child: Task,
    node: RecallNode,
    numbers: list[tuple[str, dict[str, Any] | None, Decimal | None]],
) -> None:
    """Store a recall round's new task with its callees, and link the round to it."""
    session.add(child)
    await session.flush()
    await session.execute(
        insert(Callee),
        [
            {
                "task_id": child.id,
                "seq": i,
                "callee": callee,
                "info": info,
                "state": 0,
                "attempts": 0,
                "rate": rate,
            }
            for i, (callee, info, rate) in enumerate(numbers, start=1)
        ],
    )
    node.task_id = child.id


# -- do-not-call lists and calling hours (docs/compliance.md) ----------------------------------

# the lists' SQL is compliance's (one owner); the dialer reaches it through this module
screen_numbers = compliance.screen
listed_numbers = compliance.listed
add_to_dnc = compliance.add


async def calling_hours(session: Session, account_ids: set[int]) -> dict[int, str]:
    """Each account's calling-hours setting, for the accounts that have one."""
    rows = await session.execute(
        select(Account.id, Account.calling_hours).where(
            Account.id.in_(account_ids), Account.calling_hours.is_not(None)
        )
    )
    return {account_id: hours for account_id, hours in rows.all() if hours is not None}


async def end_node(session: Session, node_id: int, status: RecallStatus) -> bool:
    """In progress -> `status`; False when another worker ended it."""
    done = await session.execute(
        update(RecallNode)
        .where(RecallNode.id == node_id, RecallNode.status == RecallStatus.IN_PROGRESS)
        .values(status=status)
        .execution_options(synchronize_session=False)
    )
    return bool(done.rowcount)  # type: ignore[attr-defined]


async def count_finished_round(session: Session, flow_id: int) -> None:
    await session.execute(
        update(RecallFlow)
        .where(RecallFlow.id == flow_id)
        .values(finish_num=RecallFlow.finish_num + 1)
        .execution_options(synchronize_session=False)
    )


async def other_node_statuses(session: Session, flow_id: int, node_id: int) -> set[int]:
    return set(
        (
            await session.scalars(
                select(RecallNode.status).where(
                    RecallNode.flow_id == flow_id, RecallNode.id != node_id
                )
            )
        ).all()
    )


async def end_flow(session: Session, flow_id: int, status: RecallStatus) -> None:
    await session.execute(
        update(RecallFlow)
        .where(RecallFlow.id == flow_id, RecallFlow.status == RecallStatus.IN_PROGRESS)
        .values(status=status)
        .execution_options(synchronize_session=False)
    )
