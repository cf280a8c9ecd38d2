"""The dialer's own hold on a call's limits (maxRingingTime, maxCalls): whatever the carrier
does, a call still ringing or talking past its task's limit is hung up, and recorded as ended
at the limit, so a carrier that fails to enforce them never runs up a longer bill."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta

from voxcast.domain.callresult import CallFacts
from voxcast.ports import (
    Answered,
    Call,
    CallEvent,
    Clock,
    DialRequest,
    EarlyMedia,
    HangupBy,
    HungUp,
    Ringing,
    TransferStarted,
)

#: carriers enforce the limits themselves: the dialer steps in only this long after one, so
#: a carrier ending the call at its limit always comes first
GRACE_S = 1.0
#: a far end that never even rings is given up this long past maxRingingTime from the dial
#: (the SIP carrier's own backstop is as long), and recorded as the SIP carrier does: 408
DIAL_BACKSTOP_S = 10.0

DIALING, RINGING, TALKING = "dialing", "ringing", "talking"


class CallLimits:
    """Watches one call's events; hangs it up at the limit of the phase it is in. Ringing
    counts from the first provisional (as carriers do), talking from the answer; a callee
    handed to an agent is the carrier's (its conversation has its own limit)."""

    def __init__(self, clock: Clock, call: Call, request: DialRequest, dialed_at: datetime):
        self._clock = clock
        self._call = call
        self._request = request
        self._phase = DIALING
        self._limit: datetime | None = dialed_at + timedelta(
            seconds=request.max_ringing_s + DIAL_BACKSTOP_S
        )
        self._changed = asyncio.Event()
        #: the phase and the instant of its limit, once the dialer cut the call there
        self.cut: tuple[str, datetime] | None = None
        self._watcher = asyncio.ensure_future(self._watch())

    def seen(self, event: CallEvent) -> None:
        if isinstance(event, (Ringing, EarlyMedia)) and self._phase == DIALING:
            self._phase = RINGING
            self._set(event.at + timedelta(seconds=self._request.max_ringing_s))
        elif isinstance(event, Answered):
            self._phase = TALKING
            self._set(event.at + timedelta(seconds=self._request.max_talk_s))
        elif isinstance(event, (TransferStarted, HungUp)):
            self._set(None)

    def _set(self, limit: datetime | None) -> None:
        self._limit = limit
        self._changed.set()

    async def _watch(self) -> None:
        while True:
            self._changed.clear()
            limit = self._limit
            if limit is None:
                await self._changed.wait()
                continue
            wait = (limit - self._clock.now()).total_seconds() + GRACE_S
            if wait > 0:
                sleeper = asyncio.ensure_future(self._clock.sleep(wait))
                changed = asyncio.ensure_future(self._changed.wait())
                try:
                    await asyncio.wait({sleeper, changed}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    sleeper.cancel()
                    changed.cancel()
                if self._changed.is_set():
                    continue
            self.cut = (self._phase, limit)
            await self._call.hangup()
            return

    async def aclose(self) -> None:
        self._watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._watcher

    def settle(self, facts: CallFacts) -> None:
        """A call the dialer cut is recorded as the carrier would have ended it: at the limit;
        one that rang unanswered as "no answer" (480), one that never rang as 408."""
        if self.cut is None:
            return
        phase, limit = self.cut
        if phase == TALKING:
            facts.hangup_time = min(facts.hangup_time or limit, limit)
            facts.hangup_by = HangupBy.US
            facts.reason = "maximum call duration reached"
        elif facts.answered:  # answered as we gave up: the answer stands
            return
        elif phase == RINGING:
            facts.hangup_time = limit
            facts.sip_code = 480
            facts.hangup_by = HangupBy.US
            facts.reason = "no answer"
        else:
            facts.hangup_time = limit
            facts.sip_code = 408
            facts.hangup_by = HangupBy.NETWORK
            facts.reason = "request timeout"
