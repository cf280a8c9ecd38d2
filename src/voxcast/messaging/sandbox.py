"""The sandbox SMS transport: accepts every text and reports it delivered a moment later on
the runtime clock, except numbers ending in 7 (the sandbox's "number does not exist"). Its
carrier id carries that verdict, so a message re-armed after a restart is reported too."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from voxcast.domain.sms import segment_count
from voxcast.ports import Clock, OutgoingSms, SmsReceipt, Submitted

#: clock seconds between a submit and its receipt, as a real SMSC would take
RECEIPT_DELAY_S = 2.0
#: the last digit of a number that does not exist (docs/sandbox.md), as for calls
UNKNOWN_NUMBER_DIGIT = "7"
#: a sandbox carrier id: sandbox-<n>-<final state>
_ID_PREFIX = "sandbox-"


class SandboxSmsTransport:
    """Implements `ports.SmsTransport` without a carrier: DELIVRD, or UNDELIV for numbers
    ending in 7, `delay_s` clock seconds after the submit."""

    def __init__(self, clock: Clock, *, delay_s: float = RECEIPT_DELAY_S) -> None:
        self.clock = clock
        self.delay_s = delay_s
        self.submitted: list[OutgoingSms] = []
        self._receipts: asyncio.Queue[SmsReceipt | None] = asyncio.Queue()
        self._pending: set[asyncio.Task[None]] = set()
        self._closed = False
        self._ids = 0

    async def start(self) -> None:
        return None

    async def submit(self, message: OutgoingSms) -> Submitted:
        if self._closed:
            raise RuntimeError("the sandbox SMS transport is closed")
        self.submitted.append(message)
        self._ids += 1
        stat = "UNDELIV" if message.number.endswith(UNKNOWN_NUMBER_DIGIT) else "DELIVRD"
        self._schedule(message.message_id, stat)
        return Submitted(segment_count(message.text), (f"{_ID_PREFIX}{self._ids}-{stat}",))

    def expect(self, message_id: str, carrier_ids: tuple[str, ...]) -> None:
        if self._closed or not carrier_ids or not carrier_ids[0].startswith(_ID_PREFIX):
            return  # not one of ours (an SMSC's id from a run that used one)
        self._schedule(message_id, carrier_ids[0].rsplit("-", 1)[1])

    def _schedule(self, message_id: str, stat: str) -> None:
        task = asyncio.create_task(self._report(message_id, stat), name=f"sms-receipt-{message_id}")
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _report(self, message_id: str, stat: str) -> None:
        await self.clock.sleep(self.delay_s)
        await self._receipts.put(
            SmsReceipt(message_id, delivered=stat == "DELIVRD", stat=stat, at=self.clock.now())
        )

    async def receipts(self) -> AsyncIterator[SmsReceipt]:
        while True:
            receipt = await self._receipts.get()
            if receipt is None:
                return
            yield receipt

    async def close(self) -> None:
        self._closed = True
        for task in list(self._pending):
            task.cancel()
        for task in list(self._pending):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._receipts.put(None)
