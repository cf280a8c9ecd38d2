"""A media worker process: owns a share of the calls' RTP sockets and paces them with its own
`MediaEngine`, driven by `MediaWorkers` in the SIP process over an inherited Unix socket."""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import pickle
import socket
import struct
import sys
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from voxcast.telephony.rtp.media import MediaEngine, MediaStream

log = logging.getLogger("voxcast.rtp.worker")

LENGTH = struct.Struct("!I")
#: prompts a worker keeps, first in first out; its parent mirrors the same cache to know which
#: prompts it need not send again (a prompt crosses the socket once, not once per call)
AUDIO_CACHE = 256
#: how often a worker reports its pacer's lateness (and streams' DTMF as it comes)
REPORT_S = 0.1

Message = tuple[Any, ...]


def frame(message: Message) -> bytes:
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return LENGTH.pack(len(body)) + body


class AudioCache:
    """Prompts by key, evicted oldest first: both sides apply the same inserts in the same
    order, so the parent knows exactly what its worker holds."""

    def __init__(self) -> None:
        self._items: OrderedDict[bytes, bytes] = OrderedDict()

    def __contains__(self, key: bytes) -> bool:
        return key in self._items

    def get(self, key: bytes) -> bytes:
        return self._items[key]

    def put(self, key: bytes, audio: bytes) -> None:
        self._items[key] = audio
        if len(self._items) > AUDIO_CACHE:
            self._items.popitem(last=False)


class _Elsewhere(MediaStream):
    """The far side of a bridge whose stream lives in another worker: relayed packets go to
    the parent, which hands them to that worker."""

    def __init__(self, engine: MediaEngine, target: int, send: Callable[[Message], None]) -> None:
        super().__init__(engine)
        self._target = target
        self._send_up = send

    def forward(self, data: bytes) -> None:
        self._send_up(("pkt", self._target, data))


class Worker:
    def __init__(self, engine: MediaEngine, writer: asyncio.StreamWriter) -> None:
        self.engine = engine
        self.writer = writer
        self.streams: dict[int, MediaStream] = {}
        self.audio = AudioCache()
        self.plays: dict[int, int] = {}  # stream -> its current play's number
        self._finishing: set[asyncio.Future[None]] = set()

    def send(self, message: Message) -> None:
        if not self.writer.is_closing():  # the parent closed its end: nobody to tell
            self.writer.write(frame(message))

    async def handle(self, message: Message) -> None:
        op, sid = message[0], message[1]
        if op == "open":
            try:
                stream = await self.engine.open_stream()
            except OSError as err:
                self.send(("opened", sid, 0, str(err)))
                return
            self.streams[sid] = stream
            stream.on_dtmf = lambda key: self.send(("dtmf", sid, key))
            self.send(("opened", sid, stream.port, ""))
            return
        found = self.streams.get(sid)
        if found is None:
            return  # closed already: a late command
        stream = found
        if op == "start":
            remote, codec, dtmf_payload, record, max_record_s, srtp = message[2:]
            stream.start(
                remote, codec, dtmf_payload, record=record, max_record_s=max_record_s, srtp=srtp
            )
        elif op == "play":
            number, key, audio, loops = message[2:]
            if audio is not None:
                self.audio.put(key, audio)
            self.plays[sid] = number
            done = stream.play(self.audio.get(key), loops)
            done.add_done_callback(lambda _: self._played(sid, number))
        elif op == "stop":
            stream.stop_playing()
        elif op == "hold":
            stream.hold()
        elif op == "resume":
            stream.resume()
        elif op == "relay":
            target, here = message[2:]
            if target is None:
                stream.relay_to = None
            elif here:
                peer = self.streams.get(target)
                stream.relay_to = peer
            else:
                stream.relay_to = _Elsewhere(self.engine, target, self.send)
        elif op == "forward":
            stream.forward(message[2])
        elif op == "amd":
            settings, greeting_end = message[2:]
            stream.listen_for_machine(
                settings,
                greeting_end=greeting_end,
                on_heard=lambda event: self.send(("heard", sid, event)),
            )
        elif op == "record":
            folder, name, max_seconds, origin = message[2:]
            stream.record(Path(folder), name, max_seconds, origin)
        elif op == "finish":
            # written in a thread: the other calls' packets go on meanwhile
            finishing = asyncio.ensure_future(self._recorded(sid, stream))
            self._finishing.add(finishing)
            finishing.add_done_callback(self._finishing.discard)
        elif op == "sync":
            self.send(("synced", sid, self.snapshot(stream)))
        elif op == "close":
            self.send(("synced", sid, self.snapshot(stream)))
            stream.close()
            del self.streams[sid]
            self.plays.pop(sid, None)

    async def _recorded(self, sid: int, stream: MediaStream) -> None:
        full, customer = await stream.finish_recording()
        self.send(("recorded", sid, full and str(full), customer and str(customer)))

    def _played(self, sid: int, number: int) -> None:
        stream = self.streams.get(sid)
        if stream is not None and self.plays.get(sid) == number:
            self.send(("done", sid, number, stream.sent, stream.dropped))

    @staticmethod
    def snapshot(stream: MediaStream) -> dict[str, Any]:
        reception = stream.reception
        return {
            "sent": stream.sent,
            "dropped": stream.dropped,
            "relayed": stream.relayed,
            "srtp_failed": stream.srtp_failed,
            "received": reception.received if reception is not None else 0,
            "strangers": reception.strangers if reception is not None else 0,
            "audio": reception.audio if reception is not None and reception.record else b"",
        }

    async def report(self) -> None:
        jitter = self.engine.jitter
        while True:
            await asyncio.sleep(REPORT_S)
            if jitter.samples or jitter.skipped:
                self.send(("jitter", 0, list(jitter.samples), jitter.skipped))
                jitter.reset()


async def serve(sock: socket.socket, host: str, port_range: tuple[int, int] | None) -> None:
    reader, writer = await asyncio.open_connection(sock=sock)
    worker = Worker(MediaEngine(host, port_range), writer)
    reporter = asyncio.ensure_future(worker.report())
    try:
        while True:
            try:
                header = await reader.readexactly(LENGTH.size)
                body = await reader.readexactly(LENGTH.unpack(header)[0])
            except (asyncio.IncompleteReadError, ConnectionError):
                return  # the parent is gone or done with us
            # a socketpair to our own parent, never the network: nobody else can write to it
            await worker.handle(pickle.loads(body))  # noqa: S301
    finally:
        reporter.cancel()
        for stream in worker.streams.values():
            stream.close()
        await worker.engine.close()


def main(argv: list[str]) -> None:
    """`python -m voxcast.telephony.rtp.mediaproc FD HOST [LOW HIGH]`"""
    fd, host = int(argv[0]), argv[1]
    port_range = (int(argv[2]), int(argv[3])) if len(argv) > 3 else None
    logging.basicConfig(level=os.environ.get("VOXCAST_LOG_LEVEL", "WARNING"))
    # loaded before any call: building G.711's tables would stall the pacer for a few
    # hundred ms at a call's answer (`MediaStream.record`)
    importlib.import_module("voxcast.audio.recording")
    importlib.import_module("voxcast.audio.g711")
    sock = socket.socket(fileno=fd)
    asyncio.run(serve(sock, host, port_range))


if __name__ == "__main__":
    main(sys.argv[1:])
