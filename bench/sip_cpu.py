"""CPU per call of SIP set-up, which a shared machine's load does not move much (the set-up
rate of `sip_load.py` does: SIPp and other work take the same 2 cores). Two figures, each the
best of ROUNDS rounds of process CPU time:

1. core: the pure user agent (`sip/core`) through a whole call in bytes: our INVITE written,
   SIPp-like 100 and 200 with SDP parsed, ACK, BYE, its 200; no sockets, no event loop.
2. carrier: `sip_load.py`'s own calls (`voxcast_calls`: 400 at once, one RTP packet, BYE)
   through `SipCarrier`, the endpoint, the media engine and the pacer, with the far end
   answering inside this process instead of over UDP (its own CPU subtracted), and the share
   of that CPU spent in Python's cyclic garbage collector.

Usage: PYTHONPATH=src .venv/bin/python bench/sip_cpu.py [--calls 2000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sip_load import voxcast_calls  # type: ignore[import-not-found]
from voxcast.audio.playback import PromptAudio
from voxcast.cli.main import GC_THRESHOLDS
from voxcast.telephony.rtp.media import MediaEngine
from voxcast.telephony.sip.aio.transport import SipEndpoint
from voxcast.telephony.sip.core.dialog import Local
from voxcast.telephony.sip.core.message import new_call_id, new_tag, parse, serialize
from voxcast.telephony.sip.core.sdp import offer
from voxcast.telephony.sip.core.transaction import Send
from voxcast.telephony.sip.core.useragent import OutboundCall, Output

HOST = "127.0.0.1"
FAR_SDP = (
    b"v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
    b"t=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)
ECHOED = ("Via", "From", "To", "Call-ID", "CSeq")


def far_answer(request: bytes, status: int, reason: str, tag: str, body: bytes = b"") -> bytes:
    """What SIPp's `-sn uas` writes: the request's Via, From, To (tagged), Call-ID and CSeq,
    a Contact, the body."""
    head = request.split(b"\r\n\r\n", 1)[0].decode()
    lines = [f"SIP/2.0 {status} {reason}"]
    for line in head.split("\r\n")[1:]:
        name = line.split(":", 1)[0]
        if name in ECHOED:
            tagged = name == "To" and status > 100 and "tag=" not in line
            lines.append(f"{line};tag={tag}" if tagged else line)
    lines.append(f"Contact: <sip:{HOST}:5099;transport=UDP>")
    if body:
        lines.append("Content-Type: application/sdp")
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _wire(outputs: list[Output]) -> list[bytes]:
    return [serialize(out.message) for out in outputs if isinstance(out, Send)]


def core_call(i: int) -> None:
    call = OutboundCall(
        local=Local(HOST, 5070),
        target_uri=f"sip:86130{i:08d}@{HOST}:5060",
        from_uri=f"sip:1000@{HOST}",
        call_id=new_call_id(HOST),
        from_tag=new_tag(),
        sdp_offer=offer(HOST, 40000 + 2 * (i % 1000), i),
    )
    invite = _wire(call.start(0.0))[0]
    for data in (
        far_answer(invite, 100, "Trying", ""),
        far_answer(invite, 200, "OK", "f", FAR_SDP),
    ):
        _wire(call.receive(parse(data), 0.0))
        _ = call.deadline
    bye = _wire(call.hangup(0.0, "hung up by us"))[0]
    _wire(call.receive(parse(far_answer(bye, 200, "OK", "")), 0.0))
    if not call.session.over:
        raise SystemExit("the core call did not end as SIPp's far end would have it")


def core_us(calls: int) -> float:
    started = time.process_time()
    for i in range(calls):
        core_call(i)
    return (time.process_time() - started) / calls * 1e6


class InProcessFarEnd:
    """Answers the endpoint's INVITEs (100, 200 with SDP) and BYEs (200) on the next loop
    pass, as SIPp's UAS would over UDP; counts its own CPU so that it can be taken out."""

    def __init__(self) -> None:
        self.cpu = 0.0
        self._original = SipEndpoint._write

    def __enter__(self) -> InProcessFarEnd:
        far = self

        def write(endpoint: SipEndpoint, data: bytes, peer: Any) -> None:
            started = time.process_time()
            loop = asyncio.get_running_loop()
            if data.startswith(b"INVITE"):
                loop.call_soon(endpoint.handle, far_answer(data, 100, "Trying", ""), peer)
                loop.call_soon(endpoint.handle, far_answer(data, 200, "OK", "f", FAR_SDP), peer)
            elif data.startswith(b"BYE"):
                loop.call_soon(endpoint.handle, far_answer(data, 200, "OK", ""), peer)
            far.cpu += time.process_time() - started

        SipEndpoint._write = write  # type: ignore[method-assign]
        return self

    def __exit__(self, *_: object) -> None:
        SipEndpoint._write = self._original  # type: ignore[method-assign]


async def carrier_us(calls: int) -> tuple[float, float, int]:
    """(CPU µs per call, of which in the garbage collector, failed calls)."""
    collecting = [0.0, 0.0]

    def timed(phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            collecting[1] = time.process_time()
        else:
            collecting[0] += time.process_time() - collecting[1]

    media = MediaEngine(HOST)
    gc.callbacks.append(timed)
    try:
        with InProcessFarEnd() as far:
            started = time.process_time()
            _, failed, _ = await voxcast_calls(5999, calls, 0.02, 400, media, PromptAudio(None))
            cpu = time.process_time() - started - far.cpu
    finally:
        gc.callbacks.remove(timed)
        await media.close()
    return cpu / calls * 1e6, collecting[0] / calls * 1e6, failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    core_call(0)  # warm: imports, caches
    core = min(core_us(args.calls) for _ in range(args.rounds))
    print(f"sip cpu core: {core:.0f} us per call (best of {args.rounds} x {args.calls})")
    measured = {}
    # Python's default collector thresholds, then those `serve` and `worker` run with
    for label, thresholds in (("default", gc.get_threshold()), ("worker's", GC_THRESHOLDS)):
        gc.set_threshold(*thresholds)
        best: tuple[float, float, int] | None = None
        for _ in range(args.rounds):
            run = asyncio.run(carrier_us(args.calls))
            best = run if best is None or run[0] < best[0] else best
        assert best is not None
        measured[label] = best
        print(
            f"sip cpu carrier ({label} gc thresholds {thresholds}): {best[0]:.0f} us per call, "
            f"{best[1]:.0f} us of it in the garbage collector, {best[2]} failed "
            f"(best of {args.rounds} x {args.calls}, 400 at once)"
        )
    ratio = measured["worker's"][0] / measured["default"][0]
    print(f"sip cpu carrier: worker's gc thresholds / default: ratio {ratio:.2f}")
    if any(m[2] for m in measured.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
