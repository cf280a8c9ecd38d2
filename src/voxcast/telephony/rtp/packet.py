"""RTP packets (RFC 3550 §5.1): pack and parse the fixed header; CSRCs, extensions and padding
are read past. Malformed packets raise `RtpError`, nothing else."""

from __future__ import annotations

import struct
from dataclasses import dataclass

HEADER = struct.Struct("!BBHII")
MAX_PACKET = 1500


class RtpError(ValueError):
    """Not an RTP packet voxcast accepts."""


@dataclass(frozen=True)
class RtpPacket:
    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes
    marker: bool = False

    def pack(self) -> bytes:
        first = 0x80  # version 2, no padding, no extension, no CSRC
        second = (0x80 if self.marker else 0) | (self.payload_type & 0x7F)
        return (
            HEADER.pack(
                first,
                second,
                self.sequence & 0xFFFF,
                self.timestamp & 0xFFFFFFFF,
                self.ssrc & 0xFFFFFFFF,
            )
            + self.payload
        )


def parse(data: bytes) -> RtpPacket:
    if len(data) < HEADER.size or len(data) > MAX_PACKET:
        raise RtpError(f"{len(data)} bytes is not an RTP packet size")
    first, second, seq, ts, ssrc = HEADER.unpack_from(data)
    if first >> 6 != 2:
        raise RtpError("not RTP version 2")
    offset = HEADER.size + 4 * (first & 0x0F)
    if first & 0x10:  # header extension: 4-byte header, then its length in words
        if len(data) < offset + 4:
            raise RtpError("truncated header extension")
        (words,) = struct.unpack_from("!H", data, offset + 2)
        offset += 4 + 4 * words
    end = len(data)
    if first & 0x20:  # padding: the last byte says how much
        pad = data[-1]
        if pad == 0 or pad > end - offset:
            raise RtpError("bad padding")
        end -= pad
    if offset > end:
        raise RtpError("header longer than the packet")
    return RtpPacket(second & 0x7F, seq, ts, ssrc, data[offset:end], bool(second & 0x80))


class Sequencer:
    """Sequence numbers and timestamps of one outgoing stream: 20 ms G.711 frames at 8 kHz."""

    def __init__(self, ssrc: int, first_sequence: int, first_timestamp: int) -> None:
        self.ssrc = ssrc
        self.sequence = first_sequence & 0xFFFF
        self.timestamp = first_timestamp & 0xFFFFFFFF
        self._first = True

    def next(self, payload_type: int, payload: bytes, samples: int = 160) -> RtpPacket:
        packet = RtpPacket(
            payload_type, self.sequence, self.timestamp, self.ssrc, payload, marker=self._first
        )
        self._first = False
        self.sequence = (self.sequence + 1) & 0xFFFF
        self.timestamp = (self.timestamp + samples) & 0xFFFFFFFF
        return packet
