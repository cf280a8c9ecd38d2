"""A trunk with `--register`: voxcast registers with digest, refreshes the binding before it
expires and removes it on close, against SIPp as the registrar."""

from __future__ import annotations

import asyncio

from tests.sipp.runner import Sipp
from voxcast.audio.playback import PromptAudio
from voxcast.clock import SystemClock
from voxcast.telephony.rtp.media import MediaEngine
from voxcast.telephony.sip.aio.carrier import SipCarrier, TrunkConfig


async def test_register_refresh_and_unregister(tmp_path: object) -> None:
    sipp = await Sipp.start("register.xml", timeout_s=15)
    media = MediaEngine("127.0.0.1")
    trunk = TrunkConfig(
        "reg", sipp.host, sipp.port, username="voxcast", password="s3cret", register=True
    )
    carrier = SipCarrier(trunk, SystemClock(), media, PromptAudio(None))
    try:
        await carrier.endpoint()
        for _ in range(100):
            if carrier.registered:
                break
            await asyncio.sleep(0.02)
        assert carrier.registered
        registration = carrier.registration
        assert registration is not None
        first_until = registration.registered_until
        await asyncio.sleep(1.6)  # granted 2 s: the refresh happens after 1 s
        assert carrier.registered and registration.registered_until != first_until
        await carrier.close()
        assert registration.finished
        far = await sipp.wait(10)
    finally:
        sipp.cleanup()
        await carrier.close()
        await media.close()
    assert far.ok, far
