"""SRTP through libsrtp between two of our call legs: what one protects the other decrypts to
the same packet; tampered, replayed and plain packets are dropped and counted; over real
sockets a prompt arrives whole and the wire carries no plain audio."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

from voxcast.telephony.rtp.media import MediaEngine
from voxcast.telephony.rtp.packet import RtpPacket, parse
from voxcast.telephony.rtp.srtp import SrtpContext
from voxcast.telephony.rtp.stream import Playout
from voxcast.telephony.sip.core.sdes import (
    AES_CM_128_HMAC_SHA1_32,
    AES_CM_128_HMAC_SHA1_80,
    SrtpKeys,
)

KEY_A = bytes(range(30))
KEY_B = bytes(range(50, 80))
#: RFC 3711 §3.1: the 80-bit (10-byte) or 32-bit (4-byte) authentication tag is appended
TAG_BYTES = {AES_CM_128_HMAC_SHA1_80: 10, AES_CM_128_HMAC_SHA1_32: 4}


def pair(suite: str = AES_CM_128_HMAC_SHA1_80) -> tuple[SrtpContext, SrtpContext]:
    """Two legs of one call: each sends with its own key and receives with the other's."""
    a = SrtpContext(SrtpKeys(1, suite, KEY_A, KEY_B))
    b = SrtpContext(SrtpKeys(1, suite, KEY_B, KEY_A))
    return a, b


def packets(count: int) -> list[bytes]:
    playout = Playout(0, 0x1234ABCD, 100, 5000)
    playout.play(bytes(range(160)) * count)
    out = [playout.next_frame() for _ in range(count)]
    return [p for p in out if p is not None]


def test_round_trip_both_suites_both_ways() -> None:
    for suite in (AES_CM_128_HMAC_SHA1_80, AES_CM_128_HMAC_SHA1_32):
        a, b = pair(suite)
        for plain in packets(5):
            protected = a.protect(plain)
            assert protected is not None
            assert len(protected) == len(plain) + TAG_BYTES[suite]
            assert protected[:12] == plain[:12]  # the header stays readable
            assert protected[12:172] != plain[12:]  # the payload does not
            assert b.unprotect(protected) == plain
            back = b.protect(plain)
            assert back is not None and a.unprotect(back) == plain
        assert (a.protected, b.unprotected, b.failed) == (5, 5, 0)


def test_tampered_replayed_plain_and_foreign_packets_are_dropped_and_counted() -> None:
    a, b = pair()
    first, second, third = packets(3)
    good = a.protect(first)
    assert good is not None and b.unprotect(good) == first
    assert b.unprotect(good) is None  # a replay
    tampered = a.protect(second)
    assert tampered is not None
    flipped = tampered[:20] + bytes([tampered[20] ^ 1]) + tampered[21:]
    assert b.unprotect(flipped) is None
    assert b.unprotect(third) is None  # plain RTP: no valid tag
    stranger = SrtpContext(SrtpKeys(1, AES_CM_128_HMAC_SHA1_80, KEY_B, KEY_B))
    foreign = stranger.protect(third)
    assert foreign is not None and b.unprotect(foreign) is None  # someone else's key
    assert b.unprotect(b"\x80") is None  # not even a header
    assert (b.unprotected, b.failed) == (1, 5)


def test_a_re_invite_with_their_new_key_keeps_our_sending_side() -> None:
    a, b = pair()
    first, second = packets(2)
    sent = a.protect(first)
    assert sent is not None and b.unprotect(sent) == first
    new_key = bytes(range(200, 230))
    # a re-keys its receiving side only; b sends under new_key from now on
    a.rekey(SrtpKeys(1, AES_CM_128_HMAC_SHA1_80, KEY_A, new_key))
    b_new = SrtpContext(SrtpKeys(1, AES_CM_128_HMAC_SHA1_80, new_key, KEY_A))
    back = b_new.protect(first)
    assert back is not None and a.unprotect(back) == first
    # our outbound session went on: the next packet continues the same stream for b
    sent = a.protect(second)
    assert sent is not None and b.unprotect(sent) == second


async def until(check: Callable[[], bool], timeout: float = 2.0) -> None:
    for _ in range(int(timeout / 0.01)):
        if check():
            return
        await asyncio.sleep(0.01)


async def test_two_streams_talk_srtp_over_sockets() -> None:
    engine = MediaEngine("127.0.0.1")
    caller, callee = await engine.open_stream(), await engine.open_stream()
    sniffer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sniffer.bind(("127.0.0.1", 0))
    sniffer.setblocking(False)
    try:
        keys = SrtpKeys(1, AES_CM_128_HMAC_SHA1_80, KEY_A, KEY_B)
        mirrored = SrtpKeys(1, AES_CM_128_HMAC_SHA1_80, KEY_B, KEY_A)
        caller.start(("127.0.0.1", callee.port), 0, None, srtp=keys)
        callee.start(("127.0.0.1", caller.port), 0, None, record=True, srtp=mirrored)
        audio = bytes(range(256)) * 5  # 8 frames of 160 bytes
        await asyncio.wait_for(caller.play(audio), 5)
        await until(lambda: callee.received >= 8)
        assert callee.reception is not None and callee.reception.audio == audio
        assert (callee.received, callee.srtp_failed) == (8, 0)

        # a plain RTP packet, and an SRTP one under a wrong key, from the caller's own
        # address: dropped before the decoder, counted
        plain = RtpPacket(0, 9, 9, 0x77, b"\x00" * 160).pack()
        wrong = SrtpContext(SrtpKeys(1, AES_CM_128_HMAC_SHA1_80, KEY_B, KEY_B)).protect(plain)
        assert wrong is not None
        assert caller._transport is not None
        caller._transport.sendto(plain, ("127.0.0.1", callee.port))
        caller._transport.sendto(wrong, ("127.0.0.1", callee.port))
        await until(lambda: callee.srtp_failed >= 2)
        assert (callee.received, callee.srtp_failed) == (8, 2)
        assert callee.reception.audio == audio

        # on the wire: the header, then no plain audio, then the 10-byte tag
        caller.start(("127.0.0.1", sniffer.getsockname()[1]), 0, None, srtp=keys)
        await asyncio.wait_for(caller.play(audio[:160]), 5)
        loop = asyncio.get_running_loop()
        data = await asyncio.wait_for(loop.sock_recv(sniffer, 2048), 2)
        assert len(data) == 12 + 160 + 10
        header = parse(data[:12] + b"\x00")
        assert header.payload_type == 0
        assert data[12:172] != audio[:160]
    finally:
        sniffer.close()
        caller.close()
        callee.close()
        await engine.close()


async def test_a_bridge_decrypts_the_srtp_leg_and_encrypts_towards_it() -> None:
    """Callee leg SRTP, agent leg plain (transfers ring softphones with plain RTP): what the
    callee says reaches the agent decrypted, what the agent says reaches the callee encrypted
    under the callee leg's keys."""
    engine = MediaEngine("127.0.0.1")
    far_callee, our_callee, our_agent, far_agent = [await engine.open_stream() for _ in range(4)]
    try:
        theirs = SrtpKeys(1, AES_CM_128_HMAC_SHA1_80, KEY_B, KEY_A)
        ours = SrtpKeys(1, AES_CM_128_HMAC_SHA1_80, KEY_A, KEY_B)
        far_callee.start(("127.0.0.1", our_callee.port), 0, None, record=True, srtp=theirs)
        our_callee.start(("127.0.0.1", far_callee.port), 0, None, srtp=ours)
        our_agent.start(("127.0.0.1", far_agent.port), 0, None)
        far_agent.start(("127.0.0.1", our_agent.port), 0, None, record=True)
        our_callee.relay_to, our_agent.relay_to = our_agent, our_callee
        said, answered = bytes(range(160)) * 4, bytes(range(96, 256)) * 4
        await asyncio.wait_for(far_callee.play(said), 5)
        await until(lambda: far_agent.received >= 4)
        await asyncio.wait_for(far_agent.play(answered), 5)
        await until(lambda: far_callee.received >= 4)
        assert far_agent.reception is not None and far_agent.reception.audio == said
        assert far_callee.reception is not None and far_callee.reception.audio == answered
        assert (our_callee.relayed, our_agent.relayed) == (4, 4)
        assert (far_callee.srtp_failed, our_callee.srtp_failed) == (0, 0)
    finally:
        for stream in (far_callee, our_callee, our_agent, far_agent):
            stream.close()
        await engine.close()
