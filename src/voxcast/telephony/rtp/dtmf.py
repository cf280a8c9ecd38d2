"""RFC 4733 telephone-events: decode the keys a callee pressed (each key once, although its
end packet is sent three times) and encode our own."""

from __future__ import annotations

import struct
from collections import OrderedDict
from dataclasses import dataclass

from voxcast.telephony.rtp.packet import RtpError, RtpPacket

EVENTS = "0123456789*#ABCD"
_EVENT = struct.Struct("!BBH")
#: events remembered per receiver; a retransmitted end packet arrives within milliseconds, so
#: the most recent ones are what matter
REMEMBERED_EVENTS = 1024


@dataclass(frozen=True)
class ToneEvent:
    key: str
    end: bool
    volume: int
    duration: int  # in timestamp units (1/8000 s)


def decode(payload: bytes) -> ToneEvent:
    if len(payload) < 4:
        raise RtpError("telephone-event payload shorter than 4 bytes")
    event, flags, duration = _EVENT.unpack_from(payload)
    if event >= len(EVENTS):
        raise RtpError(f"event {event} is not a DTMF key")
    return ToneEvent(EVENTS[event], bool(flags & 0x80), flags & 0x3F, duration)


def encode(key: str, *, end: bool, duration: int, volume: int = 10) -> bytes:
    return _EVENT.pack(EVENTS.index(key), (0x80 if end else 0) | (volume & 0x3F), duration)


class DtmfReceiver:
    """Turns a stream of telephone-event packets into keys, each reported exactly once: an
    event is identified by its RTP timestamp, and its (redundant) end packets count once."""

    def __init__(self, payload_type: int) -> None:
        self.payload_type = payload_type
        # oldest first: a long call forgets its oldest events, never a recent one
        self._reported: OrderedDict[tuple[int, int], None] = OrderedDict()

    def feed(self, packet: RtpPacket) -> str | None:
        if packet.payload_type != self.payload_type:
            return None
        event = decode(packet.payload)
        if not event.end:
            return None
        key = (packet.ssrc, packet.timestamp)
        if key in self._reported:
            return None
        self._reported[key] = None
        if len(self._reported) > REMEMBERED_EVENTS:
            self._reported.popitem(last=False)
        return event.key
