"""`voxcast call` through Kamailio, a record-routing stateful proxy, to SIPp: over UDP and TCP,
with and without the proxy's digest challenge (407). The ACK and BYE must follow the dialog's
Route set through the proxy (Kamailio's Record-Route names another port than the trunk's, and it
logs each request it relays by its Route set as VXROUTED with the port it arrived on, and each
one it cannot route as VXNOROUTE), and a BYE from the far end, relayed by the proxy,
must be answered 200."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.integration.server import Cli
from tests.interop.conftest import StartKamailio
from tests.interop.peers import Kamailio, ProxyAuth, Transport
from tests.sipp.runner import Sipp, SippResult

pytestmark = pytest.mark.timeout(40)

SCENARIOS = Path(__file__).parent / "scenarios"
TEXT = "Hello, this is voxcast calling through a proxy."
#: tests/sipp's answer_hold and answer_then_hangup, with 180 and 200 copying Record-Route
ROUTED_HOLD = str(SCENARIOS / "answer_hold_routed.xml")
ROUTED_HANGUP = str(SCENARIOS / "answer_then_hangup_routed.xml")


async def run_call(cli: Cli, *args: str) -> tuple[int, str]:
    # in process (a thread, as the command runs its own event loop): the call is the subject,
    # not the process, which would cost seconds of CPU to import the SIP stack and audio again
    call = asyncio.to_thread(cli.invoke, "call", *args, check=False)
    proc = await asyncio.wait_for(call, 30)
    return proc.returncode, proc.stdout + proc.stderr


def add_trunk(cli: Cli, proxy: Kamailio, transport: Transport, auth: ProxyAuth | None) -> None:
    args = ["admin", "trunk", "add", "--name", "proxy", "--host", proxy.host,
            "--port", str(proxy.port), "--transport", transport, "--caller-id", "1000"]  # fmt: skip
    if auth is not None:
        args += ["--username", auth.user, "--password", auth.password]
    cli.invoke(*args)


async def finished(sipp: Sipp) -> SippResult:
    try:
        return await sipp.wait(15)
    finally:
        sipp.cleanup()


def evidence(out: str, proxy: Kamailio, far: SippResult | None = None) -> str:
    far_text = f"\n--- SIPp ---\n{far.errors}\n{far.messages[-6000:]}" if far else ""
    return f"--- voxcast call ---\n{out}\n{proxy.log()}{far_text}"


@pytest.mark.parametrize("auth", [None, ProxyAuth()], ids=["open", "digest"])
@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_a_call_through_the_proxy_sends_ack_and_bye_along_the_route_set(
    tmp_path: Path, kamailio: StartKamailio, transport: Transport, auth: ProxyAuth | None
) -> None:
    sipp = await Sipp.start(ROUTED_HOLD, transport=transport, trace_msg=True)
    try:
        proxy = await kamailio(sipp.address, next_transport=transport, auth=auth)
        cli = Cli.fresh(f"sqlite:///{tmp_path}/v.db", tmp_path / "var")
        add_trunk(cli, proxy, transport, auth)
        code, out = await run_call(cli, "--trunk", "proxy", "--to", "8613000000000", "--say", TEXT)
        far = await finished(sipp)
    finally:
        sipp.cleanup()
    context = evidence(out, proxy, far)
    assert code == 0, context
    assert "outcome: sip 200" in out, context
    if auth is not None:
        # challenged once, answered once with Proxy-Authorization
        assert "407 Proxy Authentication Required" in out, context
        assert len(proxy.lines("CHALLENGE", "INVITE")) == 1, context
        assert len(proxy.lines("IN", "INVITE")) == 2, context
    # the proxy relayed the ACK and the BYE by the Route set it had record-routed, SIPp got
    # both (its scenario waits for them) and its 200 to the BYE came back the same way
    assert proxy.lines("NOROUTE") == [], context
    acks, byes = proxy.lines("ROUTED", "ACK"), proxy.lines("ROUTED", "BYE")
    assert len(acks) >= 1 and len(byes) == 1, context
    # sent where the Record-Route points, not to the trunk's address
    on_route = f" on {proxy.route_port} "
    assert all(on_route in line for line in acks + byes), context
    assert [line.split(" cseq=")[0] for line in proxy.lines("REPLY", "BYE")] == ["200 OK"], context
    assert far.ok, context


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_a_bye_from_the_far_end_through_the_proxy_is_answered(
    tmp_path: Path, kamailio: StartKamailio, transport: Transport
) -> None:
    sipp = await Sipp.start(ROUTED_HANGUP, transport=transport, duration_ms=1500, trace_msg=True)
    try:
        proxy = await kamailio(sipp.address, next_transport=transport)
        cli = Cli.fresh(f"sqlite:///{tmp_path}/v.db", tmp_path / "var")
        add_trunk(cli, proxy, transport, None)
        code, out = await run_call(
            cli, "--trunk", "proxy", "--to", "8613000000003", "--say", TEXT, "--loops", "3"
        )
        far = await finished(sipp)
    finally:
        sipp.cleanup()
    context = evidence(out, proxy, far)
    assert code == 0, context
    # SIPp's BYE went through the proxy to voxcast, and voxcast's 200 came back through it
    byes = proxy.lines("ROUTED", "BYE")
    assert len(byes) == 1 and f"from {sipp.host}:{sipp.port}/" in byes[0], context
    assert [line.split(" cseq=")[0] for line in proxy.lines("REPLY", "BYE")] == ["200 OK"], context
    flat = " ".join(out.split())
    assert "outcome: sip 200" in flat and "hung up by callee" in flat, context
    assert far.ok, context
    # and the ACK of the 200 went through the proxy too, where the Record-Route points
    assert proxy.lines("NOROUTE") == [], context
    acks = proxy.lines("ROUTED", "ACK")
    assert acks and all(f" on {proxy.route_port} " in line for line in acks), context
