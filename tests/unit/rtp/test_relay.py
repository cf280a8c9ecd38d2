"""Relayed packets (a bridged callee's audio to an agent, and back) go out as packets of the
receiving leg's own stream: one SSRC, sequence numbers and timestamps going on unbroken, so
a receiver never sees an SSRC change (baresip 1.0.0 then dropped everything it was sent)."""

from __future__ import annotations

import struct

from voxcast.telephony.rtp.stream import Playout

OURS = 0x11111111


def packet(ssrc: int, sequence: int, timestamp: int, payload: bytes, marker: bool = False) -> bytes:
    return (
        struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | 0, sequence, timestamp, ssrc)
        + payload
    )


def fields(data: bytes) -> tuple[int, int, int, int, bytes]:
    _, second, sequence, timestamp, ssrc = struct.unpack("!BBHII", data[:12])
    return second >> 7, sequence, timestamp, ssrc, data[12:]


def test_relayed_packets_continue_our_stream_and_a_new_source_opens_a_talkspurt() -> None:
    playout = Playout(0, OURS, first_sequence=65534, first_ts=1000)
    out = [
        fields(playout.relay(packet(0x2222, 5000 + i, 90_000 + 160 * i, bytes([i]) * 160)))
        for i in range(3)
    ]
    # ours from the first: sequence 65534, 65535, 0 (wrapping), timestamps 1000 + 160 i
    assert out == [
        (1, 65534, 1000, OURS, bytes([0]) * 160),
        (0, 65535, 1160, OURS, bytes([1]) * 160),
        (0, 0, 1320, OURS, bytes([2]) * 160),
    ]
    # the bridged side starts another stream: still ours, going on, a new talkspurt
    assert fields(playout.relay(packet(0x3333, 7, 5, b"\xff" * 160))) == (
        1, 1, 1480, OURS, b"\xff" * 160,
    )  # fmt: skip
    # and our own frames, should any follow, go on after the relayed ones
    assert (playout.sequence, playout.timestamp) == (2, 1640)
