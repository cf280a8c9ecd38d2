"""The sandbox SMS transport across a restart: the carrier id it answers carries its verdict, so
a new transport re-armed with it (`expect`) reports the same receipt (voxcast.messaging.sandbox)."""

from __future__ import annotations

import asyncio

from voxcast.clock import ScaledClock
from voxcast.messaging.sandbox import SandboxSmsTransport
from voxcast.ports import OutgoingSms, SmsReceipt


async def _first(t: SandboxSmsTransport) -> SmsReceipt:
    async for receipt in t.receipts():
        return receipt
    raise AssertionError("the stream ended")


async def test_a_sandbox_message_re_armed_after_a_restart_is_reported() -> None:
    clock = ScaledClock(1000.0)
    first = SandboxSmsTransport(clock)
    ok = await first.submit(OutgoingSms("m1", "8613000000001", "V", "hi"))
    gone = await first.submit(OutgoingSms("m2", "8613000000007", "V", "x" * 200))
    await first.close()  # before any receipt
    assert (ok.segments, gone.segments) == (1, 2)
    second = SandboxSmsTransport(clock)
    try:
        second.expect("m1", ok.carrier_ids)
        second.expect("m2", gone.carrier_ids)
        second.expect("m3", ("4f2a",))  # an SMSC's id from a run that used one: ignored
        got = [await asyncio.wait_for(_first(second), 5) for _ in range(2)]
        await clock.sleep(5.0)
        assert second._receipts.empty()  # nothing for m3
    finally:
        await second.close()
    assert sorted((r.message_id, r.delivered, r.stat) for r in got) == [
        ("m1", True, "DELIVRD"),
        ("m2", False, "UNDELIV"),
    ]
