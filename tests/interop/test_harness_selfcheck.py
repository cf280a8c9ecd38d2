"""The interop harness checked without voxcast: a SIPp caller that follows Record-Route calls
SIPp through the test Kamailio (UDP and TCP, open and with its 407), so a voxcast test that fails
through the same proxy fails for voxcast's messages, not for the proxy's configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.interop.conftest import StartKamailio
from tests.interop.peers import ProxyAuth, Transport
from tests.sipp.runner import Sipp

pytestmark = pytest.mark.timeout(30)

SCENARIOS = Path(__file__).parent / "scenarios"
ROUTED_CALLER = str(SCENARIOS / "uac_routed_call.xml")
ROUTED_CALLEE = str(SCENARIOS / "answer_hold_routed.xml")


@pytest.mark.parametrize("auth", [None, ProxyAuth()], ids=["open", "digest"])
@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_a_caller_following_record_route_gets_ack_and_bye_through(
    kamailio: StartKamailio, transport: Transport, auth: ProxyAuth | None
) -> None:
    callee = await Sipp.start(ROUTED_CALLEE, transport=transport)
    caller = None
    try:
        proxy = await kamailio(callee.address, next_transport=transport, auth=auth)
        creds = auth or ProxyAuth()
        # SIPp sends every message to one address, not to the first Route: -rsa makes it the
        # port the proxy's Record-Route names, where a UA following the Route set sends
        route = f"{proxy.host}:{proxy.route_port}"
        caller = await Sipp.start(
            ROUTED_CALLER, transport=transport, remote=proxy.address, duration_ms=500,
            rtp_echo=False, trace_msg=True,
            extra_args=("-s", "8613000000000", "-au", creds.user, "-ap", creds.password,
                        "-rsa", route),
        )  # fmt: skip
        called = await caller.wait(15)
        answered = await callee.wait(15)
    finally:
        callee.cleanup()
        if caller is not None:
            caller.cleanup()
    context = f"{proxy.log()}\n--- caller ---\n{called.errors}\n{called.messages[-6000:]}"
    assert called.ok and answered.ok, f"{called}\n--- callee ---\n{answered.errors}\n{context}"
    assert proxy.lines("NOROUTE") == [], context
    acks, byes = proxy.lines("ROUTED", "ACK"), proxy.lines("ROUTED", "BYE")
    assert len(acks) == 1 and len(byes) == 1, context
    assert all(f" on {proxy.route_port} " in line for line in acks + byes), context
    assert len(proxy.lines("CHALLENGE", "INVITE")) == (1 if auth else 0), context
