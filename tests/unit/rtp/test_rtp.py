"""RTP packets and RFC 4733 DTMF: round trips, sequencing, and what a real stream looks like
(three end packets per key, sent again after loss)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voxcast.telephony.rtp.dtmf import DtmfReceiver, decode, encode
from voxcast.telephony.rtp.packet import RtpError, RtpPacket, Sequencer, parse


def test_pack_parse_round_trip() -> None:
    pkt = RtpPacket(0, 65535, 4294967200, 0x1234ABCD, b"\xff" * 160, marker=True)
    assert parse(pkt.pack()) == pkt


def test_sequencer_wraps_and_marks_only_the_first_packet() -> None:
    seq = Sequencer(ssrc=7, first_sequence=65534, first_timestamp=2**32 - 160)
    packets = [seq.next(0, b"\x00" * 160) for _ in range(3)]
    assert [p.sequence for p in packets] == [65534, 65535, 0]
    assert [p.timestamp for p in packets] == [2**32 - 160, 0, 160]
    assert [p.marker for p in packets] == [True, False, False]


def test_csrc_extension_and_padding_are_skipped() -> None:
    header = bytes([0x80 | 0x20 | 0x10 | 0x01, 0x00]) + b"\x00\x01" + b"\x00" * 8
    csrc = b"\x00\x00\x00\x09"
    extension = b"\xbe\xde\x00\x01" + b"\x11\x22\x33\x44"
    data = header + csrc + extension + b"abc" + b"\x00\x02"  # 2 bytes of padding
    assert parse(data).payload == b"abc"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x80" * 11,
        b"\x40" + b"\x00" * 20,
        bytes([0xA0, 0]) + b"\x00" * 10 + b"\x00",
        bytes([0x8F, 0]) + b"\x00" * 14,
        b"\x80" * 2000,
    ],
)
def test_malformed_packets_raise_only_rtp_error(data: bytes) -> None:
    with pytest.raises(RtpError):
        parse(data)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_rtp_error(data: bytes) -> None:
    with contextlib.suppress(RtpError):
        parse(data)


def test_each_key_is_reported_once_despite_redundant_end_packets() -> None:
    rx = DtmfReceiver(payload_type=101)
    seq = Sequencer(ssrc=5, first_sequence=100, first_timestamp=8000)
    keys = []
    for key, ts in (("1", 8000), ("#", 16000)):
        for duration in (160, 320, 480):
            keys.append(
                rx.feed(
                    RtpPacket(101, seq.sequence, ts, 5, encode(key, end=False, duration=duration))
                )
            )
        for _ in range(3):  # the end packet, three times (RFC 4733 §2.5.1.4)
            keys.append(
                rx.feed(RtpPacket(101, seq.sequence, ts, 5, encode(key, end=True, duration=640)))
            )
    assert [k for k in keys if k] == ["1", "#"]
    assert rx.feed(RtpPacket(0, 1, 1, 5, b"\xff" * 160)) is None  # audio is not DTMF


def test_the_last_1024_events_stay_known_as_duplicates_on_a_long_call() -> None:
    """Past 1,024 events the oldest is forgotten, never a recent one: a late retransmitted end
    packet of any of the last 1,024 events is not a new key press."""
    rx = DtmfReceiver(payload_type=101)
    keys = "0123456789*#ABCD"

    def end(n: int) -> str | None:
        key = keys[n % 16]
        return rx.feed(RtpPacket(101, n & 0xFFFF, 1600 * n, 7, encode(key, end=True, duration=640)))

    assert [end(n) for n in range(1100)] == [keys[n % 16] for n in range(1100)]
    assert [end(n) for n in range(1099, 75, -1)] == [None] * 1024  # the newest first
    assert [end(n) for n in range(76, 1100)] == [None] * 1024
    assert end(75) == "#"  # the newest forgotten one: reported again, and now remembered
    assert end(75) is None
    assert end(76) == "A"  # which pushed out the oldest remembered one
    assert end(1099) is None


def test_event_decode_rejects_non_keys() -> None:
    assert decode(encode("*", end=True, duration=800)).key == "*"
    with pytest.raises(RtpError):
        decode(bytes([16, 0x80, 0, 0]))
    with pytest.raises(RtpError):
        decode(b"\x01")
