"""Barge-in on real RTP over loopback UDP: a far end plays a callee talking over our prompt
(espeak-ng speech as µ-law packets every 20 ms); the stream hands each packet's audio to the
Ear, whose barge-in stops the prompt from inside that packet's arrival. Not one packet of
the prompt leaves the socket after the stop; a non-interruptible prompt plays to its end."""

from __future__ import annotations

import asyncio
import secrets
from typing import cast

from tests.unit.hearing.speech import flags, said, silence, ulaw
from voxcast.audio.hearing import FRAME_MS, BargedIn, Ear, TurnEnded, detector
from voxcast.telephony.rtp.media import MediaEngine
from voxcast.telephony.rtp.packet import parse
from voxcast.telephony.rtp.stream import FRAME_SAMPLES, PCMU, Playout

#: the prompt's audio, 3 s of one byte (what the far end gets from us is nothing else)
PROMPT = b"\x2a" * FRAME_SAMPLES * 150
CALLEE = silence(300) + said("No, stop calling me.") + silence(800)


class FarEnd(asyncio.DatagramProtocol):
    """The callee's phone: records each packet it gets, with the loop time it came."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.arrivals: list[tuple[float, bytes]] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.arrivals.append((asyncio.get_running_loop().time(), data))


async def talk(far: FarEnd, to: tuple[str, int], pcm: bytes) -> None:
    """Send `pcm` as µ-law RTP, one packet each 20 ms on the loop's clock."""
    playout = Playout(PCMU, secrets.randbits(32), secrets.randbits(16), secrets.randbits(32))
    playout.play(ulaw(pcm))
    loop = asyncio.get_running_loop()
    start = loop.time()
    sent = 0
    while (packet := playout.next_frame()) is not None:
        assert far.transport is not None
        far.transport.sendto(packet, to)
        sent += 1
        await asyncio.sleep(max(0.0, start + sent * FRAME_MS / 1000 - loop.time()))


async def call(
    interruptible: bool,
) -> tuple[list[tuple[float, bytes]], list[object], dict[str, float]]:
    loop = asyncio.get_running_loop()
    engine = MediaEngine("127.0.0.1")
    stream = await engine.open_stream()
    _, far = await loop.create_datagram_endpoint(FarEnd, local_addr=("127.0.0.1", 0))
    assert far.transport is not None
    far_address = far.transport.get_extra_info("sockname")
    stream.start(far_address, PCMU, None)
    stop: dict[str, float] = {}

    def barge_in() -> None:
        stop["sent"] = stream.sent
        stream.stop_playing()

    ear = Ear(PCMU, on_barge_in=barge_in)
    events: list[object] = []
    stream.on_audio = lambda payload: events.extend(ear.feed(payload))
    try:
        played = stream.play(PROMPT)
        ear.prompt(interruptible)
        await talk(far, ("127.0.0.1", stream.port), CALLEE)
        await asyncio.wait_for(played, 10)
        ear.prompt_over()
        await asyncio.sleep(0.2)  # anything still on its way through loopback
        stop["final_sent"] = stream.sent
    finally:
        stream.close()
        far.transport.close()
        await engine.close()
    return far.arrivals, events, stop


async def test_barge_in_stops_the_prompt_with_no_packet_sent_after_the_stop() -> None:
    arrivals, events, stop = await call(interruptible=True)
    prompt_packets = [(t, parse(d)) for t, d in arrivals if parse(d).payload[:1] == b"\x2a"]
    # the stop came on the callee's 13th speech frame (260 ms of speech), as heard
    heard = flags(detector(), CALLEE)
    deciding = [i for i, s in enumerate(heard) if s][12]
    assert [e for e in events if isinstance(e, BargedIn)] == [BargedIn((deciding + 1) * FRAME_MS)]
    # not one prompt packet was sent after the stop, and every one sent before it arrived
    assert stop["final_sent"] == stop["sent"]
    assert len(prompt_packets) == stop["sent"]
    assert stop["sent"] < len(PROMPT) // FRAME_SAMPLES  # it was really cut short
    # the packets are the prompt's first ones, unbroken: nothing was skipped or sent twice
    sequences = [p.sequence for _, p in prompt_packets]
    assert sequences == [(sequences[0] + i) & 0xFFFF for i in range(len(sequences))]
    # the callee's words were still heard out as a turn
    assert sum(isinstance(e, TurnEnded) for e in events) == 1


async def test_a_non_interruptible_prompt_plays_to_its_end_over_the_same_speech() -> None:
    arrivals, events, stop = await call(interruptible=False)
    prompt_packets = [d for _, d in arrivals if parse(d).payload[:1] == b"\x2a"]
    assert "sent" not in stop  # never stopped
    assert len(prompt_packets) == len(PROMPT) // FRAME_SAMPLES == stop["final_sent"]
    assert not any(isinstance(e, BargedIn) for e in events)
