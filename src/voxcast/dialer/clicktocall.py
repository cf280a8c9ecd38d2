"""Click-to-call (voice/sendSip): ring the caller's phone (a call-center agent) first; once it
answers, dial the callee through the carrier, bridged to the phone, until either hangs up.

One event stream, as any call's: the phone's `AgentRinging`, then `AgentAnswered` (or
`AgentNoAnswer` and the end), then the callee's own events through its single `HungUp`. A
phone that does not answer ends the call with `HungUp(by=AGENT)` and the phone's code."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

from voxcast.ports import (
    AgentAnswered,
    AgentNoAnswer,
    AgentRinging,
    CallEvent,
    Carrier,
    Clock,
    DialRequest,
    HangupBy,
    HungUp,
    ReservedAgent,
)


async def click_to_call(
    carrier: Carrier, phone: ReservedAgent, request: DialRequest, clock: Clock
) -> AsyncIterator[CallEvent]:
    """Ring `phone`, then dial `request.callee` bridged to it (no prompt is played)."""
    yield AgentRinging(phone, clock.now())
    leg = await carrier.ring_phone(phone, request.callee)
    try:
        if not await leg.answered():
            yield AgentNoAnswer(phone, clock.now())
            yield HungUp(clock.now(), HangupBy.AGENT, leg.sip_code, "phone did not answer")
            return
        yield AgentAnswered(phone, clock.now())
        call = await carrier.dial(replace(request, bridge=leg, collect_dtmf=False))
        async for event in call.events():
            yield event
    finally:
        leg.close()
