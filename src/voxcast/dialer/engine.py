"""The dialer loop: each tick advances task states, reaps dead workers' calls, claims due
callees within each account's limits and runs their calls; results go to the recorder.

Database outages: a tick that cannot reach the database claims nothing and logs one warning per
outage (and a line when it is back); calls in progress go on and their results wait in the
recorder. The reaper's rule: a call is recorded as lost only when its lease has run out, this
process does not hold it (dialing it or holding its unwritten result), and this process has
reached the database without a failure for at least one lease margin. A live worker renews the
leases of the calls it holds at least every quarter margin once the database answers, so
another worker's reaper, which waits out that margin after any outage it saw (or after its own
start), finds them renewed: a worker that is alive and reaches the database is never reaped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from voxcast.audio import RenderPool
from voxcast.dialer import claims, scheduler
from voxcast.dialer.context import AccountLimits, TaskContext
from voxcast.dialer.desk import DEFAULT_WAIT_S, DbAgentDesk
from voxcast.dialer.prompts import PromptError, PromptResolver
from voxcast.dialer.recorder import Finished, Recorder
from voxcast.domain.callresult import CallFacts, called_info_text
from voxcast.domain.enums import CalleeState, TaskStatus
from voxcast.domain.ids import voice_id as make_voice_id
from voxcast.ports import AgentAnswered, AgentRinging, Carrier, DialRequest, HangupBy, Transfer
from voxcast.runtime import Runtime
from voxcast.services import ccrecords
from voxcast.storage.db import Outage
from voxcast.storage.models import CALLEES, Account, App, Callee, RecallNode, Task
from voxcast.webhooks import outbox

log = logging.getLogger("voxcast.dialer")

CarrierFor = Callable[[int], Carrier]
LOST_CALL_CODE = 500
#: seconds between ticks while the database is unreachable
OUTAGE_TICK_S = 0.5


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class Stats:
    started: int = 0
    lost: int = 0
    in_flight: set[asyncio.Task[None]] = field(default_factory=set)


class Dialer:
    """One worker's dialer. Any number of them may share one PostgreSQL database."""

    def __init__(
        self,
        rt: Runtime,
        carrier_for: CarrierFor,
        *,
        pool: RenderPool,
        worker_id: str | None = None,
        tick_seconds: float | None = None,
    ) -> None:
        self.rt = rt
        self.carrier_for = carrier_for
        self.worker_id = worker_id or new_worker_id()
        speed = max(rt.settings.sandbox_speed, 1.0)
        self.tick_seconds = tick_seconds or max(0.01, min(0.2, 0.25 / speed))
        self.prompts = PromptResolver(pool)
        self._preparing: set[int] = set()
        self._jobs: set[asyncio.Task[None]] = set()
        self.stats = Stats()
        self.desks = {virtual: DbAgentDesk(rt, virtual=virtual) for virtual in (True, False)}
        #: per task, its calls in progress not yet with an agent (proportional dialing)
        self._waiting: dict[int, set[int]] = {}
        self.recorder = Recorder(rt, self.worker_id)
        #: callees of the calls this process is running
        self._calling: set[int] = set()
        self.outage = Outage(log, "not claiming calls until it is back")
        #: monotonic time since which every tick reached the database (start counts)
        self._reachable_since: float | None = time.monotonic()
        self._renewed_at = 0.0

    # -- loop -------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Tick until `stop` is set, then let the calls in progress finish and be written."""
        writer_stop = asyncio.Event()
        writer = asyncio.create_task(self.recorder.run(writer_stop), name="recorder")
        try:
            while not stop.is_set():
                await self._tick_once()
                pause = self.tick_seconds
                if self.outage.since is not None:
                    pause = max(pause, OUTAGE_TICK_S)  # one connection attempt, not a spin
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=pause)
            await self.drain(flush=False)
        finally:
            for job in list(self._jobs):
                job.cancel()
            writer_stop.set()
            await writer

    async def _tick_once(self) -> None:
        try:
            await self.tick()
        except Exception as exc:
            if self.outage.failed(exc, "dialer tick"):
                self._reachable_since = None
            return
        if self.outage.since is not None or self._reachable_since is None:
            self.recorder.poke()  # results waiting for the database need not wait out a backoff
        self.outage.ok()
        if self._reachable_since is None:
            self._reachable_since = time.monotonic()

    async def drain(self, grace_seconds: float = 10.0, *, flush: bool = True) -> None:
        """Wait for calls in progress; past the grace period they are cut (their leases run
        out and a live worker records them as lost). With `flush`, also wait until their
        results are written."""
        if self.stats.in_flight:
            _done, pending = await asyncio.wait(set(self.stats.in_flight), timeout=grace_seconds)
            for task in pending:
                task.cancel()
            if pending:
                log.warning("stopped with %d calls in progress", len(pending))
        if flush:
            await self.recorder.flushed()

    async def tick(self) -> int:
        """One pass; returns how many calls it started."""
        now = self.rt.clock.now()
        async with self.rt.sessions.begin() as session:
            await scheduler.advance(session, now)
        await self._renew(now)
        await self._reap(now)
        await self._prepare_submitted(now)
        started = 0
        for limits, contexts in await self._calling_tasks():
            started += await self._dial_account(limits, contexts)
        return started

    async def _calling_tasks(self) -> list[tuple[AccountLimits, list[TaskContext]]]:
        async with self.rt.sessions() as session:
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

    async def _dial_account(self, limits: AccountLimits, contexts: list[TaskContext]) -> int:
        now = self.rt.clock.now()
        open_tasks = [
            c for c in contexts if scheduler.in_send_window(c.params, limits.timezone, now)
        ]
        if not open_tasks:
            return 0
        claimed: list[tuple[TaskContext, claims.Claimed]] = []
        # read before the claim transaction (on SQLite a second one would wait on it)
        caps = {ctx.id: await self._proportional_room(ctx) for ctx in open_tasks}
        async with self.rt.sessions.begin() as session:
            await claims.lock_account(session, limits.id)
            # read the clock after the lock: calls that ended before this instant are counted
            # out, so record times (call start to hang-up) never overlap past the limits
            now = self.rt.clock.now()
            room = await claims.capacity(
                session, [c.id for c in contexts], now, limits.max_cps, limits.max_channels
            )
            # fair between the account's tasks: each open task gets an equal share in turn
            pending = [ctx for ctx in open_tasks if caps[ctx.id] != 0]
            while room > 0 and pending:
                share = max(1, room // len(pending))
                for ctx in list(pending):
                    want = min(share, room)
                    cap = caps[ctx.id]
                    if cap is not None:
                        want = min(want, cap)
                        caps[ctx.id] = cap - want
                        if want <= 0:
                            pending.remove(ctx)
                            continue
                    got = await claims.claim(
                        session, ctx.id, want, now, self.worker_id, now + self._lease_for(ctx)
                    )
                    if len(got) < want:
                        pending.remove(ctx)
                    claimed.extend((ctx, c) for c in got)
                    room -= len(got)
                    if room <= 0:
                        break
            claimed = await self._hold_outside_local_windows(session, claimed, now)
            fresh = [c for _ctx, c in claimed if c.voice_id is None]
            for c in fresh:
                c.voice_id = make_voice_id(now, c.id)
            if fresh:
                await session.execute(
                    update(CALLEES)
                    .where(CALLEES.c.id == bindparam("cid"))
                    .values(voice_id=bindparam("vid")),
                    [{"cid": c.id, "vid": c.voice_id} for c in fresh],
                )
        for ctx, c in claimed:
            self._start(ctx, c, limits, now)
        return len(claimed)

    async def _hold_outside_local_windows(
        self,
        session: AsyncSession,
        claimed: list[tuple[TaskContext, claims.Claimed]],
        now: datetime,
    ) -> list[tuple[TaskContext, claims.Claimed]]:
        """With per-callee windows, give back callees whose local window is closed, due again
        when it opens (not counted as an attempt)."""
        keep: list[tuple[TaskContext, claims.Claimed]] = []
        held: list[tuple[int, datetime]] = []
        for ctx, c in claimed:
            if scheduler.per_callee_windows(ctx.params):
                opens = scheduler.callee_in_window(ctx.params, c.callee, now)
                if opens is not None:
                    held.append((c.id, opens))
                    continue
            keep.append((ctx, c))
        if held:
            await claims.release(session, held)
        return keep

    async def _prepare_submitted(self, now: datetime) -> None:
        """Start preparing the prompts of tasks that were just submitted (status 6), each in
        the background; a task another worker began long ago and never finished is taken over."""
        stale = now - self._stall_margin()
        async with self.rt.sessions.begin() as session:
            ids = list(
                (
                    await session.scalars(
                        select(Task.id)
                        .where(
                            Task.status == TaskStatus.SUBMITTING,
                            or_(Task.started_at.is_(None), Task.started_at < stale),
                        )
                        .order_by(Task.id)
                        .limit(20)
                    )
                ).all()
            )
            mine = []
            for task_id in ids:
                if task_id in self._preparing:
                    continue
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
                if took.rowcount:  # type: ignore[attr-defined]
                    mine.append(task_id)
        for task_id in mine:
            self._preparing.add(task_id)
            self._jobs.add(asyncio.create_task(self._prepare(task_id)))

    async def _prepare(self, task_id: int) -> None:
        try:
            await self._prepare_one(task_id)
        finally:
            self._preparing.discard(task_id)
            current = asyncio.current_task()
            if current is not None:
                self._jobs.discard(current)

    async def _prepare_one(self, task_id: int) -> None:
        try:
            async with self.rt.sessions() as session:
                task = await session.get(Task, task_id)
                if task is None:
                    return
                await self.prompts.prepare(session, task)
            status, reason = TaskStatus.CALLING, ""
        except PromptError as err:
            status, reason = TaskStatus.SUBMIT_FAILED, str(err)
            log.warning("task %s cannot be dialed: %s", task_id, reason)
        except Exception as exc:
            # retried on a later tick; an outage is logged once, not per task and tick
            self.outage.failed(exc, f"preparing task {task_id}")
            return
        now = self.rt.clock.now()
        async with self.rt.sessions.begin() as session:
            await session.execute(
                update(Task)
                .where(Task.id == task_id, Task.status == TaskStatus.SUBMITTING)
                .values(
                    status=status,
                    status_reason=reason,
                    updated_at=now,
                    started_at=now,
                    finished_at=now if status == TaskStatus.SUBMIT_FAILED else None,
                )
                .execution_options(synchronize_session=False)
            )

    def _stall_margin(self) -> timedelta:
        speed = max(self.rt.settings.sandbox_speed, 1.0)
        return timedelta(seconds=self.rt.settings.lease_margin_seconds * speed)

    def _lease_for(self, ctx: TaskContext) -> timedelta:
        """Longest possible call plus a margin for stalls (in wall seconds, scaled)."""
        return ctx.longest_call + self._stall_margin()

    def _start(
        self, ctx: TaskContext, c: claims.Claimed, limits: AccountLimits, now: datetime
    ) -> None:
        task = asyncio.create_task(self._run_call(ctx, c, limits, now))
        self.stats.started += 1
        self.stats.in_flight.add(task)
        task.add_done_callback(self.stats.in_flight.discard)

    # -- one call --------------------------------------------------------------------------
    async def _run_call(
        self, ctx: TaskContext, c: claims.Claimed, limits: AccountLimits, now: datetime
    ) -> None:
        facts = CallFacts(call_time=now)
        self._calling.add(c.id)
        try:
            if not self.prompts.knows(ctx.id):
                async with self.rt.sessions() as session:
                    await self.prompts.load(session, ctx.id)
            prompt = await self.prompts.for_call(ctx.id, c.info)
            carrier = self.carrier_for(ctx.account_id)
            transfer = await self._transfer_for(ctx, carrier)
            request = DialRequest(
                callee=c.callee,
                caller_id=ctx.display_num,
                prompt=prompt,
                loop_count=ctx.loop_count,
                max_ringing_s=ctx.max_ringing_time,
                max_talk_s=ctx.max_calls,
                delay_play_s=ctx.delay_play,
                delay_hangup_s=ctx.delay_hangup,
                transfer=transfer,
            )
            call = await carrier.dial(request)
            self._waiting.setdefault(ctx.id, set()).add(c.id)
            async for event in call.events():
                facts.apply(event)
                if isinstance(event, AgentAnswered):
                    self._waiting[ctx.id].discard(c.id)
                elif isinstance(event, AgentRinging):
                    await self._ringing_push(ctx, c, facts, event)
        except Exception as exc:
            log.exception("call %s to %s failed in the carrier", c.voice_id, c.callee)
            facts.hangup_time = self.rt.clock.now()
            facts.sip_code = LOST_CALL_CODE
            facts.hangup_by = HangupBy.NETWORK
            facts.reason = f"carrier error: {exc}"[:120]
        finally:
            self._waiting.get(ctx.id, set()).discard(c.id)
            self._calling.discard(c.id)
        # no await in between: the reaper never sees the call neither calling nor pending
        self.recorder.submit(Finished(ctx, c, limits, facts))

    # -- transfer to agents -------------------------------------------------------------------
    def _desk(self, carrier: Carrier) -> DbAgentDesk:
        return self.desks[bool(getattr(carrier, "virtual_agents", False))]

    async def _transfer_for(self, ctx: TaskContext, carrier: Carrier) -> Transfer | None:
        group_id = ctx.transfer_group
        if group_id is None:
            return None
        desk = self._desk(carrier)
        info = await desk.group(group_id)
        key = ctx.params.get("toSeatKey")
        return Transfer(
            desk=desk,
            group_id=group_id,
            mode=int(ctx.params.get("toSeatType") or 1),
            key=None if key in (None, "") else str(key),
            delay_s=float(ctx.params.get("delayTransfer") or 0),
            wait_s=info.wait_s if info else DEFAULT_WAIT_S,
        )

    async def _proportional_room(self, ctx: TaskContext) -> int | None:
        """How many more calls a proportional task (outboundControl=1) may place now:
        calloutRate (lowered while it abandons too many) times the free agents, less its
        calls still waiting for one. None: no such limit."""
        group_id = ctx.transfer_group
        if group_id is None or str(ctx.params.get("outboundControl")) != "1":
            return None
        desk = self._desk(self.carrier_for(ctx.account_id))
        rate = float(ctx.params.get("calloutRate") or 1)
        return await desk.room(ctx.id, group_id, rate, len(self._waiting.get(ctx.id, ())))

    async def _ringing_push(
        self, ctx: TaskContext, c: claims.Claimed, facts: CallFacts, event: AgentRinging
    ) -> None:
        """The agent ringing push (§4.2), queued at once in its own transaction."""
        try:
            async with self.rt.sessions.begin() as session:
                url = await session.scalar(
                    select(App.ring_push_url).where(App.app_id == ctx.app_id)
                )
                if not url or c.voice_id is None:
                    return
                payload = ccrecords.ringing_json(
                    voice_id=c.voice_id,
                    called=c.callee,
                    called_info=called_info_text(c.info),
                    task_id=ctx.id,
                    agent=event.agent,
                    no_answer=facts.no_answer_agents,
                    at=event.at,
                )
                key = f"{c.voice_id}:{len(facts.no_answer_agents)}"
                item = outbox.PushItem(
                    ctx.account_id, ctx.app_id, outbox.AGENT_RINGING, key, payload
                )
                await outbox.enqueue_many(
                    session, [item], self.rt.clock.now(), due=self.rt.wall.now()
                )
        except Exception as exc:
            self.outage.failed(exc, f"queueing the ringing push of {c.voice_id}")

    # -- crash recovery ------------------------------------------------------------------------
    async def _renew(self, now: datetime) -> None:
        """Extend the leases of the calls this process holds, running or with their results
        waiting in the recorder (see the module docstring), every quarter margin, and at once
        after an outage; only leases that would run out within a margin are touched."""
        if not self.recorder.pending and not self._calling:
            return
        margin = self.rt.settings.lease_margin_seconds
        fresh = self._reachable_since is not None and self._reachable_since > self._renewed_at
        if not fresh and time.monotonic() - self._renewed_at < margin / 4:
            return
        pending = dict.fromkeys(self._calling, self.worker_id)
        pending.update(self.recorder.pending)
        until = now + self._stall_margin()
        by_owner: dict[str, list[int]] = {}
        for cid, owner in pending.items():
            by_owner.setdefault(owner, []).append(cid)
        async with self.rt.sessions.begin() as session:
            for owner, ids in by_owner.items():
                for i in range(0, len(ids), 1000):
                    await session.execute(
                        update(Callee)
                        .where(
                            Callee.id.in_(ids[i : i + 1000]),
                            Callee.lease_owner == owner,
                            Callee.state == CalleeState.DIALING,
                            Callee.lease_until < until,
                        )
                        .values(lease_until=until)
                        .execution_options(synchronize_session=False)
                    )
        self._renewed_at = time.monotonic()

    async def _reap(self, now: datetime) -> None:
        """Record calls whose worker died as lost; never dial them again (no double calls)."""
        since = self._reachable_since
        if since is None or time.monotonic() - since < self.rt.settings.lease_margin_seconds:
            return  # a live worker may not have renewed its leases since the outage yet
        async with self.rt.sessions.begin() as session:
            ids = await claims.expired_leases(session, now)
            ids = [i for i in ids if i not in self._calling and i not in self.recorder.pending]
            if not ids:
                return
            rows = (
                await session.execute(
                    select(Callee, Task, Account, RecallNode.seq)
                    .join(Task, Task.id == Callee.task_id)
                    .join(Account, Account.id == Task.account_id)
                    .outerjoin(RecallNode, RecallNode.id == Task.recall_node_id)
                    .where(Callee.id.in_(ids))
                )
            ).all()
            lost: list[Finished] = []
            for callee, task, account, recall_seq in rows:
                ctx = TaskContext.of(task)
                ctx.out_recall_count = int(recall_seq or 0)
                ctx.params["recallCount"] = 0  # a lost call is final: never redialed
                c = claims.Claimed(
                    callee.id,
                    callee.task_id,
                    callee.seq,
                    callee.callee,
                    callee.info,
                    callee.voice_id or make_voice_id(now, callee.id),
                    callee.attempts,
                    callee.rate,
                )
                facts = CallFacts(
                    call_time=callee.dialed_at or now,
                    hangup_time=now,
                    sip_code=LOST_CALL_CODE,
                    hangup_by=HangupBy.NETWORK,
                    reason="worker lost during the call",
                )
                lost.append(Finished(ctx, c, AccountLimits.of(account), facts))
            await self.recorder.write(session, lost, owner=None)
            self.stats.lost += len(lost)
            log.warning("recorded %d calls of dead workers as lost", len(lost))
