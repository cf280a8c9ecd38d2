"""Dial-time compliance: claimed callees a do-not-call list holds (click-to-call included) are
recorded as not dialed (608), those outside the account's calling hours wait for them, and a
callee pressing the task's optOutKey is put on the list at once, hears a confirmation and is
hung up on by the carrier (docs/compliance.md)."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator
from datetime import datetime

from voxcast import compliance
from voxcast.dialer import store
from voxcast.dialer.context import AccountLimits, Claimed, TaskContext
from voxcast.dialer.recorder import Finished
from voxcast.domain.callresult import DNC_CODE, CallFacts
from voxcast.domain.enums import TaskKind
from voxcast.domain.ids import voice_id as make_voice_id
from voxcast.domain.task_settings import SmsSettings
from voxcast.ports import AgentAnswered, Call, CallEvent, DialRequest, Dtmf, HangupBy
from voxcast.runtime import Runtime

log = logging.getLogger("voxcast.dialer")

Pair = tuple[TaskContext, Claimed]


async def screen(
    session: store.Session, claimed: list[Pair], now: datetime
) -> tuple[list[Pair], list[Pair]]:
    """Of callees just claimed (in the claim's transaction): those to dial, and those a
    do-not-call list holds (to be recorded with `not_dialed`), click-to-call (sendSip)
    included. Callees outside their account's calling hours are given back, due again when
    the hours open (no attempt used); a click-to-call, a seat's own call made now, is not."""
    if not claimed:
        return claimed, []
    hit: set[int] = set()
    by_list: dict[tuple[int, str], list[Claimed]] = {}
    for ctx, c in claimed:
        by_list.setdefault((ctx.account_id, ctx.app_id), []).append(c)
    for (account_id, app_id), group in by_list.items():
        found = await store.listed_numbers(session, account_id, app_id, [c.callee for c in group])
        hit.update(c.id for c in group if c.callee in found)
    timed = {ctx.account_id for ctx, _ in claimed if ctx.kind != TaskKind.SIP_CALL}
    hours = await store.calling_hours(session, timed) if timed else {}
    keep: list[Pair] = []
    listed: list[Pair] = []
    held: list[tuple[int, datetime]] = []
    for ctx, c in claimed:
        if c.id in hit:
            listed.append((ctx, c))
        elif ctx.kind == TaskKind.SIP_CALL:
            keep.append((ctx, c))
        elif (opens := compliance.held_until(hours.get(ctx.account_id), c.callee, now)) is not None:
            held.append((c.id, opens))
        else:
            keep.append((ctx, c))
    if held:
        await store.release(session, held)
    return keep, listed


def not_dialed(ctx: TaskContext, c: Claimed, limits: AccountLimits, now: datetime) -> Finished:
    """The result of a listed callee: no call, a record with code 608, final (no redial), and
    no hang-up SMS (the number must not be contacted)."""
    if c.voice_id is None:
        c.voice_id = make_voice_id(now, c.id)
    quiet = dataclasses.replace(
        ctx, settings=dataclasses.replace(ctx.settings.without_redials(), sms=SmsSettings())
    )
    facts = CallFacts(
        call_time=now,
        hangup_time=now,
        sip_code=DNC_CODE,
        hangup_by=HangupBy.US,
        reason="on a do-not-call list",
    )
    return Finished(quiet, c, limits, facts)


async def watch_opt_out(
    rt: Runtime, ctx: TaskContext, c: Claimed, call: Call, request: DialRequest
) -> AsyncIterator[CallEvent]:
    """The call's events; when the callee presses the task's optOutKey (before an agent took
    the call) the number goes on the app's do-not-call list at once (source "key", audited),
    while the carrier plays the confirmation and hangs up (`DialRequest.opt_out`); a request
    without one (no confirmation) is hung up on here."""
    key = ctx.settings.opt_out_key
    pressed = bridged = False
    async for event in call.events():
        if isinstance(event, AgentAnswered):
            bridged = True
        elif (
            not pressed
            and not bridged
            and key is not None
            and isinstance(event, Dtmf)
            and event.digit == key
        ):
            pressed = True
            if request.opt_out is None:
                await call.hangup()
            await opt_out(rt, ctx, c)
        yield event


async def opt_out(
    rt: Runtime, ctx: TaskContext, c: Claimed, *, source: str = compliance.KEY_PRESS
) -> None:
    """Put the callee on the app's do-not-call list now (audited as this task's call)."""
    try:
        async with rt.sessions.begin() as session:
            await store.add_to_dnc(
                session,
                ctx.account_id,
                ctx.app_id,
                [compliance.callee_key(c.callee)],
                source=source,
                actor=f"task {ctx.id} call {c.voice_id}",
                now=rt.clock.now(),
            )
    except Exception:
        # the call still ends; the operator must add the number by hand (the log says which)
        log.exception("opt-out of %s (task %s) could not be stored", c.callee, ctx.id)
