"""The far-end scenarios of tests/sipp checked without voxcast: a SIPp caller (tests/sipp/uac/)
plays voxcast's part, and both SIPps must count every call as planned."""

from __future__ import annotations

import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from tests.sipp.runner import (
    Sipp,
    SippResult,
    Transport,
    free_media_port,
    free_udp_port,
    free_udp_ports,
    parse_stat_csv,
    sipp_available,
)

pytestmark = pytest.mark.timeout(30)

StartFarEnd = Callable[..., Awaitable[Sipp]]


@pytest.fixture(autouse=True)
def _needs_sipp() -> None:
    if not sipp_available():
        pytest.fail("SIPp is missing: run scripts/setup-system.sh (package sip-tester)")


@pytest.fixture
async def far_end() -> AsyncIterator[StartFarEnd]:
    """Starts UAS scenarios (Sipp.start's arguments); none outlives the test."""
    started: list[Sipp] = []

    async def start(scenario: str, **kw: object) -> Sipp:
        kw.setdefault("timeout_s", 10)
        sipp = await Sipp.start(scenario, trace_msg=True, **kw)  # type: ignore[arg-type]
        started.append(sipp)
        return sipp

    try:
        yield start
    finally:
        for sipp in started:
            await sipp.close()


@pytest.fixture
def rtp_sink() -> socket.socket:
    """Where the caller's SDP points the far end's RTP (SIPp binds its own media port itself)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    return sock


async def call(
    far: Sipp,
    scenario: str,
    *,
    sdp_port: int = 9,
    calls: int = 1,
    duration_ms: int = 0,
    transport: Transport = "udp",
    extra_args: tuple[str, ...] = (),
) -> SippResult:
    """Run the caller tests/sipp/uac/`scenario` against `far` until its calls are done."""
    caller = await Sipp.start(
        f"uac/{scenario}",
        remote=far.address,
        calls=calls,
        keys={"sdp_port": str(sdp_port)},
        duration_ms=duration_ms,
        transport=transport,
        timeout_s=10,
        rtp_echo=False,
        trace_msg=True,
        extra_args=extra_args,
    )
    async with caller:
        result = await caller.wait(12)
    assert result.ok, result
    return result


def assert_all_went_as_planned(result: SippResult, calls: int = 1) -> None:
    assert result.ok, result
    assert (result.successful_calls, result.failed_calls) == (calls, 0), result


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_answer_hold_answers_every_call_until_the_callers_bye(
    far_end: StartFarEnd, transport: Transport
) -> None:
    far = await far_end("answer_hold.xml", calls=3, transport=transport)
    caller = await call(far, "call_bye.xml", calls=3, duration_ms=200, transport=transport)
    assert_all_went_as_planned(caller, 3)
    assert_all_went_as_planned(await far.wait(5), 3)


async def test_answer_lossy_takes_an_ack_that_comes_after_the_bye(far_end: StartFarEnd) -> None:
    """A stalled voxcast may ACK a retransmitted 200 after its BYE; the far end of the lossy
    tests takes it (a real UAS discards it) instead of counting the call failed."""
    far = await far_end("answer_lossy.xml", calls=2)
    caller = await call(far, "ack_after_bye.xml", calls=2, duration_ms=100)
    assert_all_went_as_planned(caller, 2)
    assert_all_went_as_planned(await far.wait(10), 2)


async def test_answer_dtmf_presses_1_as_rfc4733_events(
    far_end: StartFarEnd, rtp_sink: socket.socket
) -> None:
    far = await far_end("answer_dtmf.xml")
    await call(far, "call_bye.xml", sdp_port=rtp_sink.getsockname()[1], duration_ms=1500)
    result = await far.wait(5)
    assert_all_went_as_planned(result)
    assert "m=audio" in result.messages and "a=rtpmap:101 telephone-event/8000" in result.messages
    events = []
    while True:
        try:
            packet = rtp_sink.recv(2048)
        except BlockingIOError:
            break
        if packet[1] & 0x7F == 101:
            events.append(struct.unpack("!B", packet[12:13])[0])
    assert events and set(events) == {1}


async def test_answer_talk_plays_the_pcap_as_20_ms_rtp(
    far_end: StartFarEnd, rtp_sink: socket.socket, tmp_path: Path
) -> None:
    from tests.sipp.pcap import write_rtp_pcap

    audio = bytes(range(256)) * 5  # 1280 bytes: 8 packets of 160
    pcap = write_rtp_pcap(tmp_path / "talk.pcap", audio)
    far = await far_end("answer_talk.xml", keys={"talk_pcap": str(pcap)})
    await call(far, "call_bye.xml", sdp_port=rtp_sink.getsockname()[1], duration_ms=1000)
    assert_all_went_as_planned(await far.wait(5))
    payloads = []
    while True:
        try:
            packet = rtp_sink.recv(2048)
        except BlockingIOError:
            break
        if packet[1] & 0x7F == 0:
            payloads.append(packet[12:])
    assert b"".join(payloads) == audio


async def test_answer_then_hangup_sends_an_in_dialog_bye_after_the_duration(
    far_end: StartFarEnd,
) -> None:
    far = await far_end("answer_then_hangup.xml", duration_ms=300)
    caller = await call(far, "callee_hangs_up.xml")
    result = await far.wait(5)
    assert_all_went_as_planned(result)
    bye = caller.messages[caller.messages.index("BYE sip:voxcast@") :]
    assert ";tag=" in bye.split("From:", 1)[1].split("\n", 1)[0]
    assert "SIPpTag00" in bye.split("To:", 1)[1].split("\n", 1)[0]  # the caller's own tag


async def test_ring_until_cancel_answers_487_with_the_invites_cseq(far_end: StartFarEnd) -> None:
    far = await far_end("ring_until_cancel.xml")
    caller = await call(far, "cancel.xml", duration_ms=300)
    assert_all_went_as_planned(await far.wait(5))
    terminated = caller.messages[caller.messages.index("SIP/2.0 487") :]
    assert "CSeq: 1 INVITE" in terminated.split("\n\n", 1)[0]


@pytest.mark.parametrize(
    ("code", "reason"), [("486", "Busy Here"), ("404", "Not Found"), ("503", "Service Unavailable")]
)
async def test_reject_refuses_with_the_code_and_reason_given(
    far_end: StartFarEnd, code: str, reason: str
) -> None:
    far = await far_end("reject.xml", keys={"code": code, "reason": reason})
    caller = await call(far, "refused.xml")
    # SIPp counts a call refused as planned a success: the runner reads 1 successful, 0 failed
    assert_all_went_as_planned(caller)
    assert_all_went_as_planned(await far.wait(5))
    assert f"SIP/2.0 {code} {reason}" in caller.messages


@pytest.mark.parametrize("code", ["404", "486", "503"])
async def test_fixed_reject_scenarios_still_refuse(far_end: StartFarEnd, code: str) -> None:
    far = await far_end(f"reject_{code}.xml")
    caller = await call(far, "refused.xml")
    assert_all_went_as_planned(await far.wait(5))
    assert f"SIP/2.0 {code} " in caller.messages


async def test_auth_401_answers_once_the_digest_is_right(far_end: StartFarEnd) -> None:
    far = await far_end("auth_401.xml")  # the runner's default credentials: voxcast / s3cret
    caller = await call(far, "auth.xml", extra_args=("-au", "voxcast", "-ap", "s3cret"))
    assert_all_went_as_planned(await far.wait(5))
    assert 'qop="auth", algorithm=MD5' in caller.messages
    assert "Authorization: Digest" in caller.messages and "SIP/2.0 200 OK" in caller.messages


async def test_auth_401_refuses_a_wrong_password_and_counts_the_call_failed(
    far_end: StartFarEnd,
) -> None:
    far = await far_end("auth_401.xml", keys={"auth_user": "carol", "auth_pass": "right"})
    caller = await call(far, "auth.xml", extra_args=("-au", "carol", "-ap", "wrong"))
    assert "SIP/2.0 403 Forbidden" in caller.messages
    result = await far.wait(5)
    assert (result.returncode, result.successful_calls, result.failed_calls) == (1, 0, 1), result
    assert not result.ok


async def test_wait_kills_a_far_end_whose_caller_never_comes(far_end: StartFarEnd) -> None:
    far = await far_end("answer_hold.xml")
    result = await far.wait(0.5)
    assert far.proc.returncode is not None
    assert not result.ok and result.successful_calls == 0


def test_stat_csv_parse_reads_the_last_rows_cumulative_counts(tmp_path: Path) -> None:
    stat = tmp_path / "stat.csv"
    assert parse_stat_csv(stat) == (0, 0)
    stat.write_text(
        "StartTime;SuccessfulCall(P);SuccessfulCall(C);FailedCall(P);FailedCall(C);\n"
        "t0;0;0;0;0;\n"
        "t1;2;5;1;3;\n"
    )
    assert parse_stat_csv(stat) == (5, 3)


def test_free_ports_are_distinct_and_the_media_port_is_even() -> None:
    a, b = free_udp_ports(2)
    assert a != b and free_udp_port() > 0
    assert free_media_port() % 2 == 0
