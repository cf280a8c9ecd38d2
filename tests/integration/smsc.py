"""A carrier's SMSC for the SMPP tests: smpp34's Rust-backed SMPP 3.4 server, recording what
it accepted, answering throttled or refused when told, and sending delivery receipts. Run as
`python -m tests.integration.smsc PORT [HOLD_AFTER]` it is a process of its own (one a test can
kill), reporting on stdout one JSON line per event."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import smpp34

from voxcast.messaging.encoding import gsm7_decode, parse_udh

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Received:
    """One submit_sm the SMSC accepted, as it saw it."""

    message_id: str
    source: str
    destination: str
    data_coding: int
    esm_class: int
    registered_delivery: int
    payload: bytes

    def text(self) -> str:
        body = parse_udh(self.payload)[3] if self.esm_class & 0x40 else self.payload
        return gsm7_decode(body) if self.data_coding == 0 else body.decode("utf-16-be")


@dataclass
class Carrier:
    """smpp34's SMSC on `port`; what every instance accepted goes to the shared `accepted`."""

    port: int
    accepted: list[Received] = field(default_factory=list)
    throttle_first: int = 0  # answer `throttle_status` to this many submit_sm first
    throttle_status: int = smpp34.ESME_RTHROTTLED
    refuse: dict[str, int] = field(default_factory=dict)  # destination -> refusal status
    answer_after_s: float = 0.0  # the SMSC's latency before each submit_sm_resp
    undeliverable: frozenset[str] = frozenset()  # accepted, then receipted UNDELIV
    hold_after: int | None = None  # leave submit_sm unanswered once this many were accepted
    receipts: bool = True
    # "text": the usual id:... stat:... text; "tlv": receipted_message_id and message_state
    # only; "odd": a hex err: code; "enroute": an ENROUTE notification before the final one
    receipt_style: str = "text"
    sessions: dict[str, smpp34.Esme] = field(default_factory=dict)
    bound: asyncio.Event = field(default_factory=asyncio.Event)  # an ESME bound
    throttled: int = 0
    arrivals: list[float] = field(default_factory=list)  # loop time of every submit_sm
    outstanding: int = 0
    max_outstanding: int = 0  # most submit_sm unanswered at once
    held: list[smpp34.SubmitSmEvent] = field(default_factory=list)
    holding: asyncio.Event = field(default_factory=asyncio.Event)
    next_id: list[int] = field(default_factory=lambda: [0])  # shared across restarts
    on_accept: Callable[[Received], None] | None = None
    on_hold: Callable[[smpp34.SubmitSmEvent], None] | None = None
    _server: smpp34.Server | None = None
    _task: asyncio.Task[None] | None = None
    _sends: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self) -> None:
        self._server = smpp34.Server(host="127.0.0.1", port=self.port, system_id="CARRIER")
        await self._server.start()
        self._task = asyncio.create_task(self._serve(self._server))

    async def stop(self) -> None:
        if self._server is None or self._task is None:
            return  # never started
        self._task.cancel()
        await asyncio.gather(self._task, *self._sends, return_exceptions=True)
        await self._server.stop()
        self.held.clear()

    async def _serve(self, server: smpp34.Server) -> None:
        sessions = self.sessions
        while True:
            ev = await server.next()
            if isinstance(ev, smpp34.Esme):
                sessions[ev.session_id] = ev
                self.bound.set()
            elif isinstance(ev, smpp34.SubmitSmEvent):
                self._submitted(ev, sessions)

    def _submitted(self, ev: smpp34.SubmitSmEvent, sessions: dict[str, smpp34.Esme]) -> None:
        self.arrivals.append(asyncio.get_running_loop().time())
        if self.answer_after_s:
            self.outstanding += 1
            self.max_outstanding = max(self.max_outstanding, self.outstanding)
            self._spawn(self._answer_later(ev, sessions))
        else:
            self._answer(ev, sessions)

    async def _answer_later(
        self, ev: smpp34.SubmitSmEvent, sessions: dict[str, smpp34.Esme]
    ) -> None:
        await asyncio.sleep(self.answer_after_s)
        self.outstanding -= 1
        self._answer(ev, sessions)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._sends.add(task)
        task.add_done_callback(self._sends.discard)

    def _answer(self, ev: smpp34.SubmitSmEvent, sessions: dict[str, smpp34.Esme]) -> None:
        if self.throttled < self.throttle_first:
            self.throttled += 1
            ev.reject(self.throttle_status)
            return
        if ev.destination_addr in self.refuse:
            ev.reject(self.refuse[ev.destination_addr])
            return
        if self.hold_after is not None and len(self.accepted) >= self.hold_after:
            self.held.append(ev)  # no answer: the ESME can't know whether it got here
            self.holding.set()
            if self.on_hold:
                self.on_hold(ev)
            return
        self.next_id[0] += 1
        smsc_id = f"{self.next_id[0]:x}"
        received = Received(
            smsc_id,
            ev.source_addr,
            ev.destination_addr,
            ev.data_coding,
            ev.esm_class,
            ev.registered_delivery,
            bytes(ev.short_message),
        )
        self.accepted.append(received)
        if self.on_accept:
            self.on_accept(received)
        ev.accept(message_id=smsc_id)
        if self.receipts and ev.registered_delivery:
            stat = "UNDELIV" if ev.destination_addr in self.undeliverable else "DELIVRD"
            esme = sessions[ev.session_id]
            self._spawn(self.send_receipt(esme, ev.destination_addr, ev.source_addr, smsc_id, stat))

    async def send_receipt(
        self, esme: smpp34.Esme, callee: str, sender: str, smsc_id: str, stat: str
    ) -> None:
        """A delivery receipt for `smsc_id`, in this carrier's receipt_style."""
        states = {"ENROUTE": 1, "DELIVRD": 2, "UNDELIV": 5}
        err = "0A" if self.receipt_style == "odd" else "000"
        finals = [stat]
        if self.receipt_style == "enroute":
            finals = ["ENROUTE", stat]
        for state in finals:
            if self.receipt_style == "tlv":
                await esme.deliver_sm(
                    destination_addr=sender,
                    source_addr=callee,
                    esm_class=0x04,
                    tlvs=[
                        smpp34.Tlv(smpp34.TLV_RECEIPTED_MESSAGE_ID, smsc_id.encode() + b"\x00"),
                        smpp34.Tlv(smpp34.TLV_MESSAGE_STATE, bytes([states[state]])),
                    ],
                )
                continue
            text = (
                f"id:{smsc_id} sub:001 dlvrd:{'001' if state == 'DELIVRD' else '000'} "
                f"submit date:2611300940 done date:2611300941 stat:{state} err:{err} text:x"
            )
            await esme.deliver_sm(
                destination_addr=sender,
                source_addr=callee,
                esm_class=0x04,
                short_message=text.encode(),
            )


class CarrierProcess:
    """The carrier's SMSC as a process of its own, so that a test can kill it outright."""

    def __init__(self, port: int, accepted: list[Received], hold_after: int | None = None):
        self.port, self.accepted, self.hold_after = port, accepted, hold_after
        self.held: list[str] = []
        self.holding = asyncio.Event()
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        args = [str(self.port)] + ([str(self.hold_after)] if self.hold_after is not None else [])
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.integration.smsc",
            *args,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}"},
            stdout=asyncio.subprocess.PIPE,
        )
        assert self._proc.stdout is not None
        ready = json.loads(await asyncio.wait_for(self._proc.stdout.readline(), 10))
        assert ready["event"] == "ready"
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        async for line in self._proc.stdout:
            event = json.loads(line)
            payload = bytes.fromhex(event["payload"])
            if event["event"] == "accepted":
                self.accepted.append(
                    Received(
                        **{k: v for k, v in event.items() if k != "event"} | {"payload": payload}
                    )
                )
            elif event["event"] == "held":
                self.held.append(payload.decode())
                self.holding.set()

    def pause(self) -> None:
        assert self._proc is not None
        self._proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self._proc is not None
        self._proc.send_signal(signal.SIGCONT)

    async def kill(self) -> None:
        """As a crash or a power cut: no unbind, the kernel just closes its sockets."""
        assert self._proc is not None and self._reader is not None
        self._proc.kill()
        await self._proc.wait()
        await self._reader


async def _main(port: int, hold_after: int | None) -> None:
    def report(event: str, **data: object) -> None:
        print(json.dumps({"event": event, **data}), flush=True)

    carrier = Carrier(port, hold_after=hold_after, receipts=False)
    carrier.on_accept = lambda r: report("accepted", **{**asdict(r), "payload": r.payload.hex()})
    carrier.on_hold = lambda ev: report("held", payload=bytes(ev.short_message).hex())
    await carrier.start()
    report("ready")
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(_main(int(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else None))
