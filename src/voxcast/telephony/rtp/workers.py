"""Media sharded over worker processes: each call's RTP socket, pacing, reception and SRTP live
in one of N `mediaproc` workers, while SIP stays in this process and drives them through
`RemoteStream`s that look like local `MediaStream`s. One event loop cannot send 4,000 calls'
packets (200,000 a second) and leave room for SIP; N loops on N cores can."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import pickle
import signal
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from voxcast.telephony.rtp.media import MediaEngine, MediaStream
from voxcast.telephony.rtp.mediaproc import LENGTH, AudioCache, Message, frame
from voxcast.telephony.rtp.stream import Reception
from voxcast.telephony.sip.core.sdes import SrtpKeys

if TYPE_CHECKING:
    from voxcast.audio.hearing.machine import Heard
    from voxcast.domain.amd import AmdSettings

log = logging.getLogger("voxcast.rtp.workers")

Address = tuple[str, int]
#: how long a stream's statistics may take to come back from its worker
SYNC_TIMEOUT_S = 5.0
#: how long a worker may take to exit once told to
STOP_TIMEOUT_S = 5.0


class RemoteStream(MediaStream):
    """A call's media in a worker process: the same face as `MediaStream`, every action sent
    to the worker, counters fetched by `sync()`. The worker writes the call's recording
    itself, where its packets are, and names the files when it is finished. When the worker
    dies, `failure` says why, pending plays end and `on_lost` is called once (a recording it
    was writing is lost)."""

    def __init__(self, engine: MediaWorkers, shard: Shard, sid: int, port: int) -> None:
        self._relay: MediaStream | None = None
        self._shard = shard
        self.sid = sid
        super().__init__(engine)
        self.port = port
        self._held = False
        self._plays = 0
        self._syncing: asyncio.Future[None] | None = None
        self._closed = False
        self._on_heard: Callable[[Heard], None] | None = None
        self._recording_asked = False
        self._finished: asyncio.Future[tuple[Path | None, Path | None]] | None = None

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
        self.remote = remote
        if self.reception is None:
            self.reception = Reception(
                remote, codec, dtmf_payload, record, int(8000 * max_record_s)
            )
        self._shard.send(
            ("start", self.sid, remote, codec, dtmf_payload, record, max_record_s, srtp)
        )

    def record(
        self, folder: Path, name: str, max_seconds: float, origin: float | None = None
    ) -> None:
        if self._recording_asked or self._closed or self.failure is not None:
            return
        self._recording_asked = True
        # the answer's time on our loop's clock, the monotonic clock the worker's loop reads
        # too: its recording starts then, not when this message reaches it (the far end's
        # first packets may come before: they are not in the recording)
        if origin is None:
            origin = asyncio.get_running_loop().time()
        self._shard.send(("record", self.sid, str(folder), name, max_seconds, origin))

    async def finish_recording(self) -> tuple[Path | None, Path | None]:
        if not self._recording_asked or self._closed or self.failure is not None:
            return None, None
        if self._finished is None:
            self._finished = asyncio.get_running_loop().create_future()
            self._shard.send(("finish", self.sid))
        try:
            return await asyncio.wait_for(asyncio.shield(self._finished), SYNC_TIMEOUT_S)
        except TimeoutError:
            log.warning("media worker %s: the call's recording was not finished", self._shard.pid)
            return None, None

    def recorded(self, full: str | None, customer: str | None) -> None:
        if self._finished is not None and not self._finished.done():
            self._finished.set_result(
                (Path(full) if full else None, Path(customer) if customer else None)
            )

    def hold(self) -> None:
        if not self._held:
            self._held = True
            self._shard.send(("hold", self.sid))

    def resume(self) -> None:
        if self._held:
            self._held = False
            self._shard.send(("resume", self.sid))

    @property
    def held(self) -> bool:
        return self._held

    def play(self, audio: bytes, loops: int = 1) -> asyncio.Future[None]:
        self._finish_playing()
        done = self._done = asyncio.get_running_loop().create_future()
        if self.failure is not None or self._closed:
            self._finish_playing()
            return done
        self._plays += 1
        self._shard.play(self.sid, self._plays, audio, loops)
        return done

    def played(self, number: int, sent: int, dropped: int) -> None:
        self.sent, self.dropped = sent, dropped
        if number == self._plays:
            self._finish_playing()

    def stop_playing(self) -> None:
        if not self._closed:
            self._shard.send(("stop", self.sid))
        self._finish_playing()

    @property
    def on_audio(self) -> Callable[[bytes], None] | None:
        return None

    @on_audio.setter
    def on_audio(self, listener: Callable[[bytes], None] | None) -> None:
        # barge-in must stop the prompt within a frame: hearing runs where the socket is, so
        # a call that listens keeps its media in this process (MediaEngine, not workers)
        if listener is not None:
            raise TypeError("a worker's stream cannot be listened to from the SIP process")

    def listen_for_machine(
        self, settings: AmdSettings, *, greeting_end: bool, on_heard: Callable[[Heard], None]
    ) -> None:
        # the worker hears the audio where it arrives and sends back only what it concluded
        if self._on_heard is None and not self._closed:
            self._on_heard = on_heard
            self._shard.send(("amd", self.sid, settings, greeting_end))

    def heard(self, event: Heard) -> None:
        if self._on_heard is not None and not self._closed:
            self._on_heard(event)

    @property
    def relay_to(self) -> MediaStream | None:
        return self._relay

    @relay_to.setter
    def relay_to(self, peer: MediaStream | None) -> None:
        if peer is self._relay:
            return
        if peer is not None and not isinstance(peer, RemoteStream):
            raise TypeError("a worker's stream relays only to another worker's stream")
        self._relay = peer
        if self._closed:
            return
        if peer is None:
            self._shard.send(("relay", self.sid, None, True))
        else:
            self._shard.send(("relay", self.sid, peer.sid, peer._shard is self._shard))

    def update(self, stats: dict[str, Any]) -> None:
        self.sent, self.dropped = stats["sent"], stats["dropped"]
        self.relayed, self.srtp_failed = stats["relayed"], stats["srtp_failed"]
        reception = self.reception
        if reception is not None:
            reception.received, reception.strangers = stats["received"], stats["strangers"]
            reception._audio = bytearray(stats["audio"])
        if self._syncing is not None and not self._syncing.done():
            self._syncing.set_result(None)

    async def sync(self) -> None:
        """Fetch the worker's counters (sent, received, relayed...) and recorded audio."""
        if self._closed or self.failure is not None:
            return
        if self._syncing is None or self._syncing.done():
            self._syncing = asyncio.get_running_loop().create_future()
            self._shard.send(("sync", self.sid))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._syncing), SYNC_TIMEOUT_S)

    @property
    def received(self) -> int:
        return self.reception.received if self.reception is not None else 0

    def lost(self, reason: str) -> None:
        if self.failure is not None:
            return
        self.failure = reason
        self._finish_playing()
        if self._syncing is not None and not self._syncing.done():
            self._syncing.set_result(None)
        self.recorded(None, None)
        if self.on_lost is not None:
            self.on_lost(reason)

    def close(self) -> None:
        if self._closed:
            return
        self._relay = None
        self._finish_playing()
        self._closed = True
        self._shard.close_stream(self)


class Shard:
    """One worker process and the socket to it."""

    def __init__(
        self,
        engine: MediaWorkers,
        process: asyncio.subprocess.Process,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self.engine = engine
        self.process = process
        self.writer = writer
        self.streams: dict[int, RemoteStream] = {}
        self.opening: dict[int, asyncio.Future[tuple[int, str]]] = {}
        self.audio = AudioCache()
        self.failure: str | None = None
        self.reading = asyncio.ensure_future(self._read(reader))

    @property
    def pid(self) -> int:
        return self.process.pid

    def send(self, message: Message) -> None:
        if self.failure is None and not self.writer.is_closing():
            self.writer.write(frame(message))

    def play(self, sid: int, number: int, audio: bytes, loops: int) -> None:
        key = hashlib.blake2b(audio, digest_size=16).digest()
        if key in self.audio:
            self.send(("play", sid, number, key, None, loops))
        else:
            self.audio.put(key, audio)
            self.send(("play", sid, number, key, audio, loops))

    async def open(self, sid: int) -> RemoteStream:
        if self.failure is not None:
            raise OSError(self.failure)
        opened = self.opening[sid] = asyncio.get_running_loop().create_future()
        self.send(("open", sid))
        port, error = await opened
        if error:
            raise OSError(error)
        stream = self.streams[sid] = RemoteStream(self.engine, self, sid, port)
        return stream

    def close_stream(self, stream: RemoteStream) -> None:
        self.send(("close", stream.sid))
        self.streams.pop(stream.sid, None)

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                header = await reader.readexactly(LENGTH.size)
                body = await reader.readexactly(LENGTH.unpack(header)[0])
                # a socketpair to our own child, never the network
                self._on_message(pickle.loads(body))  # noqa: S301
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        if self.engine.closing:
            return
        code = await self.process.wait()
        cause = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
        self._lost(f"media worker {self.pid} died ({cause})")

    def _on_message(self, message: Message) -> None:
        op, sid = message[0], message[1]
        if op == "jitter":
            jitter = self.engine.jitter
            for late in message[2]:
                jitter.add(late)
            jitter.skipped += message[3]
            return
        if op == "opened":
            opened = self.opening.pop(sid, None)
            if opened is not None and not opened.done():
                opened.set_result((message[2], message[3]))
            return
        if op == "pkt":
            self.engine.forward(sid, message[2])
            return
        stream = self.streams.get(sid)
        if stream is None:
            return
        if op == "dtmf":
            if stream.on_dtmf is not None:
                stream.on_dtmf(message[2])
        elif op == "done":
            stream.played(message[2], message[3], message[4])
        elif op == "synced":
            stream.update(message[2])
        elif op == "heard":
            stream.heard(message[2])
        elif op == "recorded":
            stream.recorded(message[2], message[3])

    def _lost(self, reason: str) -> None:
        log.error("%s: its %d calls' media is gone", reason, len(self.streams))
        self.failure = reason
        for opened in self.opening.values():
            if not opened.done():
                opened.set_result((0, reason))
        self.opening.clear()
        for stream in list(self.streams.values()):
            stream.lost(reason)

    async def stop(self) -> None:
        self.writer.close()
        try:
            await asyncio.wait_for(self.process.wait(), STOP_TIMEOUT_S)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGKILL)
            await self.process.wait()
        self.reading.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.reading


class MediaWorkers(MediaEngine):
    """A `MediaEngine` whose streams live in `workers` processes (default: one per core), each
    new stream in the worker holding the fewest. `jitter` gathers every worker's pacer
    lateness; a port range is split between the workers."""

    def __init__(
        self, host: str, port_range: tuple[int, int] | None = None, workers: int | None = None
    ) -> None:
        super().__init__(host, port_range)
        self.workers = max(1, workers or os.cpu_count() or 1)
        self.shards: list[Shard] = []
        self._starting = asyncio.Lock()
        self._next_sid = 0
        self.closing = False

    async def start(self) -> None:
        """Start the workers (the first `open_stream` does it otherwise)."""
        async with self._starting:
            if not self.shards:
                for index in range(self.workers):
                    self.shards.append(await self._spawn(index))

    async def _spawn(self, index: int) -> Shard:
        ours, theirs = socket.socketpair()
        args = [str(theirs.fileno()), self.host]
        if self.port_range is not None:
            low, high = self.port_range
            share = (high - low) // self.workers // 2 * 2
            first = low + index * share
            args += [str(first), str(first + share)]
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "voxcast.telephony.rtp.mediaproc",
                *args,
                pass_fds=(theirs.fileno(),),
                stdin=asyncio.subprocess.DEVNULL,
            )
        finally:
            theirs.close()
        reader, writer = await asyncio.open_connection(sock=ours)
        return Shard(self, process, reader, writer)

    async def open_stream(self) -> MediaStream:
        if not self.shards:
            await self.start()
        alive = [shard for shard in self.shards if shard.failure is None]
        if not alive:
            raise OSError("every media worker has died")
        shard = min(alive, key=lambda s: len(s.streams) + len(s.opening))
        self._next_sid += 1
        stream = await shard.open(self._next_sid)
        self.open_streams += 1
        return stream

    def forward(self, sid: int, data: bytes) -> None:
        """A packet relayed from one worker's stream to a stream in another worker."""
        for shard in self.shards:
            if sid in shard.streams:
                shard.send(("forward", sid, data))
                return

    async def close(self) -> None:
        self.closing = True
        shards, self.shards = self.shards, []
        await asyncio.gather(*(shard.stop() for shard in shards))
        await super().close()
