"""RTP over asyncio: one UDP socket per call (symmetric: we send from the port we receive on)
and one shared 20 ms pacer for every call's packets, not a timer per call, so a thousand calls
cost one wake-up each 20 ms. The pacer measures its own lateness (pacing jitter)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable
from typing import Any, cast

from voxcast.telephony.rtp.stream import FRAME_SECONDS, Playout, Reception

log = logging.getLogger("voxcast.rtp")

Address = tuple[str, int]
#: beyond this much lateness the pacer gives up catching up (frames are skipped, not burst)
MAX_CATCH_UP_S = 0.1
JITTER_SAMPLES = 100_000


class JitterStats:
    """Lateness of pacer ticks, in seconds, over a bounded window of recent ticks."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self.skipped = 0

    def add(self, late: float) -> None:
        if len(self.samples) >= JITTER_SAMPLES:
            del self.samples[: JITTER_SAMPLES // 2]
        self.samples.append(late)

    def percentile(self, q: float) -> float:
        if not self.samples:
            return 0.0
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]

    def reset(self) -> None:
        self.samples.clear()
        self.skipped = 0


class MediaStream(asyncio.DatagramProtocol):
    """One call's RTP socket. `start()` once the far end's SDP is known; `play()` returns a
    future done when the audio has been sent; `close()` frees the port."""

    def __init__(self, engine: MediaEngine) -> None:
        self._engine = engine
        self._transport: asyncio.DatagramTransport | None = None
        self.port = 0
        self.remote: Address | None = None
        self.playout: Playout | None = None
        self.reception: Reception | None = None
        self.on_dtmf: Callable[[str], None] | None = None
        self._done: asyncio.Future[None] | None = None
        self._held_at: float | None = None  # loop time the far end put us on hold
        self.sent = 0
        #: a bridged stream: packets accepted here are relayed to it (callee ↔ agent)
        self.relay_to: MediaStream | None = None
        self.relayed = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)
        self.port = int(self._transport.get_extra_info("sockname")[1])

    def start(
        self,
        remote: Address,
        codec: int,
        dtmf_payload: int | None,
        *,
        record: bool = False,
        max_record_s: float = 3600,
    ) -> None:
        """Send to `remote` (the SDP's address) in `codec`, until the far end's own packets
        show where it really is (see `Reception`: symmetric RTP behind NAT)."""
        self.remote = remote
        if self.playout is None or self.playout.payload_type != codec:
            self.playout = Playout(
                codec, secrets.randbits(32), secrets.randbits(16), secrets.randbits(32)
            )
        if self.reception is None:
            self.reception = Reception(
                remote, codec, dtmf_payload, record, int(8000 * max_record_s)
            )
        else:  # a re-INVITE moved the far end: latch anew
            self.reception.expect(remote)

    def hold(self) -> None:
        """The far end put us on hold: send nothing, keep our place in the audio."""
        if self._held_at is None:
            self._held_at = asyncio.get_running_loop().time()
            self._engine.deactivate(self)

    def resume(self) -> None:
        """Off hold: the audio goes on where it stopped, a new talkspurt whose RTP timestamp
        has moved on by the time held (RFC 3550 §5.1)."""
        held_at, self._held_at = self._held_at, None
        if held_at is None or self.playout is None:
            return
        self.playout.skip(asyncio.get_running_loop().time() - held_at)
        if self.playout.playing:
            self._engine.activate(self)

    @property
    def held(self) -> bool:
        return self._held_at is not None

    def play(self, audio: bytes, loops: int = 1) -> asyncio.Future[None]:
        """Play G.711 audio `loops` times from the next pacer tick."""
        assert self.playout is not None, "start() the stream before playing"
        self._finish_playing()
        self._done = asyncio.get_running_loop().create_future()
        self.playout.play(audio, loops)
        if self.playout.playing and not self.held:
            self._engine.activate(self)
        else:
            self._finish_playing()
        return self._done

    def stop_playing(self) -> None:
        if self.playout is not None:
            self.playout.stop()
        self._engine.deactivate(self)
        self._finish_playing()

    def _finish_playing(self) -> None:
        if self._done is not None and not self._done.done():
            self._done.set_result(None)
        self._done = None

    def send_frame(self) -> bool:
        """Called by the pacer each tick; False once the audio is over."""
        playout = self.playout
        if playout is None or self._transport is None or self.remote is None:
            self._finish_playing()
            return False
        packet = playout.next_frame()
        if packet is None:
            self._finish_playing()
            return False
        self._transport.sendto(packet, self.destination)
        self.sent += 1
        if not playout.playing:
            # the last packet carries the final 20 ms: the audio is over one frame later
            done, self._done = self._done, None
            if done is not None:
                asyncio.get_running_loop().call_later(FRAME_SECONDS, _resolve, done)
            return False
        return True

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        reception = self.reception
        if reception is None:
            return  # media before the answer's SDP: nothing to check it against
        before = reception.received
        key = reception.feed(data, (str(addr[0]), int(addr[1])))
        if key is not None and self.on_dtmf is not None:
            self.on_dtmf(key)
        peer = self.relay_to
        if peer is not None and reception.received > before:
            peer.forward(data)

    def forward(self, data: bytes) -> None:
        """Send a packet relayed from the bridged stream as it came (same codec both ways:
        the agent leg is offered only the callee's codec)."""
        if self._transport is not None and self.remote is not None:
            self._transport.sendto(data, self.destination)
            self.relayed += 1

    @property
    def destination(self) -> Address:
        """Where our packets go: the address the far end's packets come from once it has
        sent some (symmetric RTP, RFC 4961), else the one its SDP gave."""
        latched = self.reception.latched if self.reception is not None else None
        assert self.remote is not None
        return latched or self.remote

    def error_received(self, exc: Exception) -> None:
        log.debug("RTP socket error: %s", exc)  # ICMP unreachable from a far end gone away

    @property
    def received(self) -> int:
        return self.reception.received if self.reception is not None else 0

    def close(self) -> None:
        self.relay_to = None
        self.stop_playing()
        if self._transport is not None:
            self._transport.close()
            self._transport = None


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class MediaEngine:
    """Opens calls' RTP sockets on `host` and paces all their packets from one task."""

    def __init__(self, host: str, port_range: tuple[int, int] | None = None) -> None:
        self.host = host
        self.port_range = port_range
        self._next_port = port_range[0] if port_range else 0
        self._active: set[MediaStream] = set()
        self._pacer: asyncio.Task[None] | None = None
        self.jitter = JitterStats()
        self.open_streams = 0

    async def open_stream(self) -> MediaStream:
        """A stream on an even port (RFC 3550 §11): a far end's RTCP, sent to port + 1, then
        never lands on another call's RTP."""
        loop = asyncio.get_running_loop()
        attempts = 64 if self.port_range is None else (self.port_range[1] - self.port_range[0])
        last: OSError | None = None
        for _ in range(max(1, attempts // 2)):
            port = self._take_port()
            try:
                transport, stream = await loop.create_datagram_endpoint(
                    lambda: MediaStream(self), local_addr=(self.host, port)
                )
            except OSError as err:
                last = err
                continue
            if stream.port % 2:  # the kernel's pick (no range configured) was odd: again
                transport.close()
                last = OSError(f"port {stream.port} is odd")
                continue
            self.open_streams += 1
            return stream
        raise OSError(f"no free RTP port on {self.host}: {last}")

    def _take_port(self) -> int:
        if self.port_range is None:
            return 0
        low, high = self.port_range
        port = self._next_port
        self._next_port = port + 2 if port + 2 < high else low
        return port  # RTP on even ports (RFC 3550 §11), RTCP's odd neighbour left free

    def activate(self, stream: MediaStream) -> None:
        self._active.add(stream)
        if self._pacer is None or self._pacer.done():
            self._pacer = asyncio.get_running_loop().create_task(self._pace(), name="rtp-pacer")

    def deactivate(self, stream: MediaStream) -> None:
        self._active.discard(stream)

    async def _pace(self) -> None:
        loop = asyncio.get_running_loop()
        next_tick = loop.time()
        while self._active:
            now = loop.time()
            if now < next_tick:
                await asyncio.sleep(next_tick - now)
                now = loop.time()
            late = now - next_tick
            if late > MAX_CATCH_UP_S:
                # far behind (a stalled loop): skip the lost frames rather than burst them
                self.jitter.skipped += int(late / FRAME_SECONDS)
                next_tick = now
                late = 0.0
            self.jitter.add(late)
            for stream in list(self._active):
                if not stream.send_frame():
                    self._active.discard(stream)
            next_tick += FRAME_SECONDS

    async def close(self) -> None:
        self._active.clear()
        if self._pacer is not None:
            self._pacer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pacer
