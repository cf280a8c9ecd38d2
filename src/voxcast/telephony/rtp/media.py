"""RTP over asyncio: one UDP socket per call (symmetric: we send from the port we receive on)
and one shared 20 ms pacer for every call's packets, not a timer per call, so a thousand calls
cost one wake-up each 20 ms. The pacer measures its own lateness (pacing jitter). A stream
keyed for SRTP protects and checks every packet here, in `_send` and `datagram_received`."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import secrets
import socket
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from voxcast import metrics
from voxcast.telephony.rtp.packet import HEADER, RtpError, parse
from voxcast.telephony.rtp.srtp import SrtpContext
from voxcast.telephony.rtp.stream import FRAME_SECONDS, PCMA, Playout, Reception
from voxcast.telephony.sip.core.sdes import SrtpKeys

if TYPE_CHECKING:
    from voxcast.audio.hearing.ear import Ear, HearingEvent
    from voxcast.audio.hearing.machine import Heard, MachineListener
    from voxcast.audio.recording import LiveRecording
    from voxcast.domain.amd import AmdSettings

log = logging.getLogger("voxcast.rtp")

Address = tuple[str, int]
#: a late pacer sends every frame that is due, up to this far back: a stalled event loop (a
#: busy machine, a long callback) must not cut holes into what the caller hears. Frames older
#: than this are dropped: by then the far end's jitter buffer has played out their slot.
MAX_CATCH_UP_S = 0.5
#: frames sent to each stream per pass while catching up; between passes the loop runs (SIP)
BURST_FRAMES = 5
JITTER_SAMPLES = 100_000
#: datagrams read at most when the audio ends (`MediaStream._read_waiting`): a stall's worth
#: at 50 packets a second, bounded so a flood cannot hold the loop
MAX_WAITING_READS = 1024
MAX_DATAGRAM = 2048


class JitterStats:
    """Lateness of pacer ticks, in seconds, over a bounded window of recent ticks."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self.skipped = 0  # ticks whose frames were dropped, not sent (see MAX_CATCH_UP_S)

    def add(self, late: float) -> None:
        if len(self.samples) >= JITTER_SAMPLES:
            del self.samples[: JITTER_SAMPLES // 2]
        self.samples.append(late)
        metrics.pacer_late(late)

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
        self._on_audio: Callable[[bytes], None] | None = None
        self._done: asyncio.Future[None] | None = None
        self._held_at: float | None = None  # loop time the far end put us on hold
        self.sent = 0
        #: frames of audio never sent: their time had passed when the pacer could send them
        self.dropped = 0
        self._sock: socket.socket | None = None
        self._backlog = False  # the transport holds packets the socket did not take
        #: a bridged stream: packets accepted here are relayed to it (callee ↔ agent)
        self.relay_to: MediaStream | None = None
        self.relayed = 0
        #: SRTP (RFC 3711) when the call's SDP gave keys, else plain RTP
        self.srtp: SrtpContext | None = None
        self.srtp_failed = 0  # packets dropped: not authentic under the far end's key
        #: why the stream's media is gone (its worker process died, `RemoteStream`); a stream
        #: in this process never fails so
        self.failure: str | None = None
        self.on_lost: Callable[[str], None] | None = None
        self._machine: MachineListener | None = None
        #: a conversation's hearing of the callee (`hear`), once its voice detector is made
        self.ear: Ear | None = None
        self._hearing = False
        #: the call's recording, from `record()` to `finish_recording()`
        self._recording: LiveRecording | None = None

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
        srtp: SrtpKeys | None = None,
    ) -> None:
        """Send to `remote` (the SDP's address) in `codec`, until the far end's own packets
        show where it really is (see `Reception`: symmetric RTP behind NAT); with `srtp`,
        every packet both ways is SRTP under those keys."""
        self.remote = remote
        if srtp is None:
            self.srtp = None
        elif self.srtp is None:
            self.srtp = SrtpContext(srtp)
        else:
            self.srtp.rekey(srtp)
        if self.playout is None or self.playout.payload_type != codec:
            self.playout = Playout(
                codec, secrets.randbits(32), secrets.randbits(16), secrets.randbits(32)
            )
        if self.reception is None:
            self.reception = Reception(
                remote, codec, dtmf_payload, record, int(8000 * max_record_s)
            )
            self.reception.on_audio = self._on_audio
        else:  # a re-INVITE moved the far end: latch anew
            self.reception.expect(remote)
        self.reception.own_ssrc = self.playout.ssrc

    @property
    def on_audio(self) -> Callable[[bytes], None] | None:
        """Called with the G.711 payload of each audio packet the far end sends, as it arrives
        (in this process, with no delay: barge-in stops the prompt from inside this call)."""
        return self._on_audio

    @on_audio.setter
    def on_audio(self, listener: Callable[[bytes], None] | None) -> None:
        self._on_audio = listener
        if self.reception is not None:
            self.reception.on_audio = listener

    def listen_for_machine(
        self, settings: AmdSettings, *, greeting_end: bool, on_heard: Callable[[Heard], None]
    ) -> None:
        """Answering-machine detection on the far end's audio from now on (call it at the
        answer, after `start`): `on_heard` gets the `AmdResult` once and, with
        `greeting_end`, after a MACHINE verdict the `GreetingOver` (the beep). Runs where the
        socket is: in this process here, in the worker for a `RemoteStream`."""
        reception = self.reception
        if reception is None or reception.on_machine is not None or self._machine is not None:
            return
        from voxcast.audio.hearing import machine  # numpy and the VAD: only calls that ask

        early: list[bytes] = []
        reception.on_machine = early.append  # audio that comes while the listener is made

        def hear(payload: bytes) -> None:
            listener = self._machine
            if listener is None:
                return
            for event in listener.feed(payload):
                on_heard(event)
            if listener.done:
                self._stop_listening()

        def ready(made: asyncio.Future[MachineListener]) -> None:
            if made.cancelled() or made.exception() is not None:
                log.warning("no answering-machine detection: %s", made.exception())
                reception.on_machine = None
                return
            self._machine = made.result()
            if self.reception is not reception or self._transport is None:
                self._stop_listening()  # closed meanwhile
                return
            reception.on_machine = hear
            for payload in early:
                hear(payload)

        # a new voice detector loads a model (150 ms): not on the loop that paces the calls
        made = asyncio.get_running_loop().run_in_executor(
            None,
            lambda: machine.listener(settings, reception.codec, greeting_end=greeting_end),
        )
        made.add_done_callback(ready)

    def hear(
        self,
        make_ear: Callable[[], Ear],
        on_heard: Callable[[list[HearingEvent], int], None],
        on_ready: Callable[[Ear], None],
    ) -> None:
        """A conversation's hearing of the far end from now on (call it at the answer, after
        `start`): each audio payload goes through the `Ear` that `make_ear` makes (in a
        thread: a new voice detector loads a model), whose events and audio clock (ms heard)
        go to `on_heard` as the packet arrives. The Ear's own `on_barge_in` thus runs inside
        the arrival of the packet that decides it. `on_ready` gets the Ear once it hears (the
        audio that came meanwhile is fed to it then). In this process only: not for a
        worker's stream (`RemoteStream.on_audio`)."""
        if self.reception is None or self._hearing:
            return
        self._hearing = True
        early: list[bytes] = []
        self.on_audio = early.append  # audio that comes while the Ear is made

        def feed(payload: bytes) -> None:
            ear = self.ear
            if ear is None:
                return
            events = ear.feed(payload)
            if events:
                on_heard(events, ear.now_ms)

        def ready(made: asyncio.Future[Ear]) -> None:
            if made.cancelled() or made.exception() is not None:
                log.warning("the callee cannot be heard: %s", made.exception())
                self.on_audio = None
                return
            ear = made.result()
            if self._transport is None:  # closed meanwhile
                _give_back(ear)
                return
            self.ear = ear
            on_ready(ear)
            self.on_audio = feed
            for payload in early:
                feed(payload)

        made = asyncio.get_running_loop().run_in_executor(None, make_ear)
        made.add_done_callback(ready)

    def _stop_hearing(self) -> None:
        ear, self.ear = self.ear, None
        if self._hearing:
            self.on_audio = None
        if ear is not None:
            _give_back(ear)

    def _stop_listening(self) -> None:
        listener, self._machine = self._machine, None
        if self.reception is not None:
            self.reception.on_machine = None
        if listener is not None:
            listener.close()

    def record(
        self, folder: Path, name: str, max_seconds: float, origin: float | None = None
    ) -> None:
        """Record the call from now on (call it at the answer, after `start`): the frames the
        pacer sends (and packets relayed to the far end) on the left, the far end's audio on
        the right, on one clock from `origin` (the loop's time of the answer; now by default),
        written to `folder` as it comes (`LiveRecording`)."""
        reception = self.reception
        if reception is None or self._recording is not None:
            return
        loop = asyncio.get_running_loop()
        origin = loop.time() if origin is None else origin
        from voxcast.audio import g711  # numpy: only calls that record
        from voxcast.audio.recording import LiveRecording

        decode = g711.alaw_decode if reception.codec == PCMA else g711.ulaw_decode
        try:
            recording = LiveRecording(folder, name, decode, origin, max_seconds)
        except OSError as err:  # the call goes on, unrecorded
            log.warning("the call cannot be recorded in %s: %s", folder, err)
            return
        self._recording = recording

        def heard(ssrc: int, timestamp: int, payload: bytes) -> None:
            ours = self.playout is not None and ssrc == self.playout.ssrc
            recording.heard(loop.time(), ssrc, timestamp, payload, ours=ours)

        reception.on_record = heard

    async def finish_recording(self) -> tuple[Path | None, Path | None]:
        """Stop recording: the files (stereo, the callee's), or Nones when not recording."""
        recording = self._stop_recording()
        if recording is None:
            return None, None
        at = asyncio.get_running_loop().time()
        try:
            return await asyncio.to_thread(recording.finish, at)
        except OSError as err:
            log.warning("the call's recording could not be written: %s", err)
            return None, None

    def _stop_recording(self) -> LiveRecording | None:
        recording, self._recording = self._recording, None
        if self.reception is not None:
            self.reception.on_record = None
        return recording

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
        """Stop the audio now: the pacer sends none of it from here on (nothing is queued
        ahead of the 20 ms tick, so no buffered audio keeps playing), and `play()`'s future
        is done."""
        if self.playout is not None:
            self.playout.stop()
        self._engine.deactivate(self)
        self._finish_playing()

    def _finish_playing(self) -> None:
        if self._done is not None and not self._done.done():
            self._done.set_result(None)
        self._done = None

    def send_frame(self, due: float) -> bool:
        """Called by the pacer for the frame due at `due` (loop time); False once the audio
        is over."""
        playout = self.playout
        if playout is None or self._sock is None or self.remote is None:
            self._finish_playing()
            return False
        packet = playout.next_frame()
        if packet is None:
            self._read_waiting()
            self._finish_playing()
            return False
        self._send(packet)
        self.sent += 1
        if self._recording is not None:
            self._recording.sent(due, packet[HEADER.size :])
        if not playout.playing:
            self._read_waiting()
            # the last packet carries the final 20 ms: the audio is over one frame later
            done, self._done = self._done, None
            if done is not None:
                asyncio.get_running_loop().call_later(FRAME_SECONDS, _resolve, done)
            return False
        return True

    def drop_frames(self, frames: int) -> bool:
        """The pacer fell more than `MAX_CATCH_UP_S` behind: these frames' time is gone
        unsent (see `Playout.drop`). False once that was the rest of the audio."""
        playout = self.playout
        if playout is None:
            return False
        self.dropped += playout.drop(frames)
        if not playout.playing:
            self._read_waiting()
            self._finish_playing()
            return False
        return True

    def _read_waiting(self) -> None:
        """Take what already waits in the socket before the audio is declared over: after a
        stall asyncio reads one datagram per loop pass, and a key pressed during the prompt
        must not be lost to the hang-up that follows its end."""
        sock = self._sock
        if sock is None or self._transport is None:
            return
        for _ in range(MAX_WAITING_READS):
            try:
                data, addr = sock.recvfrom(MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as err:
                self.error_received(err)
                return
            self.datagram_received(data, addr)

    def _send(self, packet: bytes) -> None:
        """To the far end, straight through the socket: asyncio's transport costs as much
        again per packet, so it only takes over what the kernel would not take at once."""
        if self.srtp is not None:
            protected = self.srtp.protect(packet)
            if protected is None:
                return
            packet = protected
        reception = self.reception
        destination = (reception.latched if reception is not None else None) or self.remote
        transport = self._transport
        assert transport is not None and self._sock is not None and destination is not None
        if self._backlog:
            # every asyncio datagram transport has it; typeshed lists it on write transports
            if cast(asyncio.WriteTransport, transport).get_write_buffer_size():
                transport.sendto(packet, destination)  # behind the queued packets, in order
                return
            self._backlog = False
        try:
            self._sock.sendto(packet, destination)
        except (BlockingIOError, InterruptedError):
            self._backlog = True
            transport.sendto(packet, destination)  # queued until the socket is writable
        except OSError as err:
            self.error_received(err)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        reception = self.reception
        if reception is None:
            return  # media before the answer's SDP: nothing to check it against
        if self.srtp is not None:
            # a packet that is not authentic goes no further: not latched onto, not decoded,
            # not relayed
            plain = self.srtp.unprotect(data)
            if plain is None:
                self.srtp_failed += 1
                return
            data = plain
        before = reception.received
        key = reception.feed(data, (str(addr[0]), int(addr[1])))
        if key is not None and self.on_dtmf is not None:
            self.on_dtmf(key)
        peer = self.relay_to
        if peer is not None and reception.received > before:
            peer.forward(data)

    def forward(self, data: bytes) -> None:
        """Send a packet relayed from the bridged stream as it came (same codec both ways:
        the agent leg is offered only the callee's codec), decrypted by the leg it came in
        on, renumbered as this stream's own (`Playout.relay`) and protected here under this
        leg's keys if it has any."""
        if self._transport is not None and self._sock is not None and self.remote is not None:
            if self._recording is not None:
                self._record_relayed(data)
            if self.playout is not None and len(data) >= 12:
                data = self.playout.relay(data)
            self._send(data)
            self.relayed += 1

    def _record_relayed(self, data: bytes) -> None:
        """What the bridged party says to the far end, on the left, by its own timestamps."""
        assert self._recording is not None
        try:
            packet = parse(data)
        except RtpError:
            return
        reception = self.reception
        if reception is not None and packet.payload_type == reception.codec:
            at = asyncio.get_running_loop().time()
            self._recording.relayed(at, packet.ssrc, packet.timestamp, packet.payload)

    def error_received(self, exc: Exception) -> None:
        log.debug("RTP socket error: %s", exc)  # ICMP unreachable from a far end gone away

    @property
    def received(self) -> int:
        return self.reception.received if self.reception is not None else 0

    async def sync(self) -> None:
        """Bring the counters and recorded audio up to date (they are, in this process)."""

    def close(self) -> None:
        self.relay_to = None
        self.stop_playing()
        self._stop_listening()
        self._stop_hearing()
        recording = self._stop_recording()
        if recording is not None:  # closed before the recording was asked for: written now
            try:
                recording.finish(asyncio.get_running_loop().time())
            except OSError as err:
                log.warning("the call's recording could not be written: %s", err)
        if self._transport is not None:
            self._transport.close()  # closes the socket too
            self._transport = None
            self._sock = None


def _bound_socket(host: str, port: int) -> socket.socket:
    """A non-blocking UDP socket bound to (host, port), as `create_datagram_endpoint` would
    make it, but ours to send through."""
    family, kind, proto, address = _bind_address(host)
    sock = socket.socket(family, kind, proto)
    try:
        sock.setblocking(False)
        sock.bind((address[0], port, *address[2:]))
    except OSError:
        sock.close()
        raise
    return sock


@functools.lru_cache(maxsize=64)
def _bind_address(host: str) -> tuple[int, int, int, tuple[Any, ...]]:
    """(family, type, protocol, address) to bind a media socket on `host`: looked up once per
    host, not for every call's socket (the port is put in by the caller)."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, 0, type=socket.SOCK_DGRAM, flags=socket.AI_PASSIVE
    )[0]
    return family, kind, proto, tuple(address)


def _give_back(ear: Ear) -> None:
    """An Ear done with: its voice detector goes to the next call's."""
    from voxcast.audio.hearing.machine import give_back

    give_back(ear.vad)


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
        self._joining: set[MediaStream] = set()
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
                sock = _bound_socket(self.host, port)
            except OSError as err:
                last = err
                continue
            bound = int(sock.getsockname()[1])
            if bound % 2:  # the kernel's pick (no range configured) was odd
                sock.close()
                last = OSError(f"port {bound} is odd")
                # its even neighbour is most often free: one bind instead of a new pick,
                # which is odd half the time
                try:
                    sock = _bound_socket(self.host, bound - 1)
                except OSError:
                    continue
            _, stream = await loop.create_datagram_endpoint(lambda: MediaStream(self), sock=sock)
            stream._sock = sock  # the pacer sends through it directly
            self.open_streams += 1
            return stream
        raise OSError(f"no free RTP port on {self.host}: {last}")

    async def open_local_stream(self) -> MediaStream:
        """A stream in this process, whatever `open_stream` does: a conversation's, whose
        hearing must stop the prompt within a frame (`MediaStream.hear`)."""
        return await MediaEngine.open_stream(self)

    def _take_port(self) -> int:
        if self.port_range is None:
            return 0
        low, high = self.port_range
        port = self._next_port
        self._next_port = port + 2 if port + 2 < high else low
        return port  # RTP on even ports (RFC 3550 §11), RTCP's odd neighbour left free

    def activate(self, stream: MediaStream) -> None:
        self._active.add(stream)
        # a stream that starts while the pacer is behind owes nothing for the ticks before it
        self._joining.add(stream)
        if self._pacer is None or self._pacer.done():
            self._pacer = asyncio.get_running_loop().create_task(self._pace(), name="rtp-pacer")

    def deactivate(self, stream: MediaStream) -> None:
        self._active.discard(stream)
        self._joining.discard(stream)

    async def _pace(self) -> None:
        loop = asyncio.get_running_loop()
        next_tick = loop.time()
        active, joining = self._active, self._joining
        while active:
            # once a tick at least, even when behind: a pacer that cannot keep up must still
            # let SIP and everything else on the loop run
            await asyncio.sleep(max(0.0, next_tick - loop.time()))
            late = loop.time() - next_tick
            due = int(late / FRAME_SECONDS) + 1  # this tick's frame and any missed since
            limit = int(MAX_CATCH_UP_S / FRAME_SECONDS)
            if due > limit:
                self._drop(due - limit, late)
                next_tick += (due - limit) * FRAME_SECONDS
                late -= (due - limit) * FRAME_SECONDS
                due = limit
            burst = min(due, BURST_FRAMES)
            for k in range(burst):
                self.jitter.add(late - k * FRAME_SECONDS)
            new = joining.copy() if joining else ()
            joining.clear()
            for stream in list(active):
                # a stream just started sends this pass's last frame only
                first = burst - 1 if stream in new else 0
                for k in range(first, burst):
                    if not stream.send_frame(next_tick + k * FRAME_SECONDS):
                        active.discard(stream)
                        break
            next_tick += burst * FRAME_SECONDS

    def _drop(self, frames: int, late: float) -> None:
        self.jitter.skipped += frames
        metrics.pacer_skipped(frames)
        streams = [s for s in self._active if s not in self._joining]
        for stream in streams:
            if not stream.drop_frames(frames):
                self._active.discard(stream)
        log.warning(
            "RTP pacer %.0f ms late: %d frames of each of %d calls dropped",
            late * 1000,
            frames,
            len(streams),
        )

    async def close(self) -> None:
        self._active.clear()
        if self._pacer is not None:
            self._pacer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pacer
