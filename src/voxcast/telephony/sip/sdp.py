"""SDP offer/answer for one audio stream (RFC 4566, RFC 3264): our offer of PCMU, PCMA and
telephone-event/8000, and what we need from the answer. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from voxcast.telephony.sip.message import SipParseError

PCMU, PCMA, TELEPHONE_EVENT = 0, 8, 101
CODEC_NAMES = {PCMU: "PCMU", PCMA: "PCMA"}


def offer(
    address: str, port: int, session_id: int, codecs: tuple[int, ...] = (PCMU, PCMA)
) -> bytes:
    """Our SDP offer: the given G.711 codecs in preference order, plus RFC 4733 events."""
    payloads = " ".join(str(c) for c in (*codecs, TELEPHONE_EVENT))
    lines = [
        "v=0",
        f"o=voxcast {session_id} {session_id} IN IP4 {address}",
        "s=voxcast",
        f"c=IN IP4 {address}",
        "t=0 0",
        f"m=audio {port} RTP/AVP {payloads}",
        *(f"a=rtpmap:{c} {CODEC_NAMES[c]}/8000" for c in codecs),
        f"a=rtpmap:{TELEPHONE_EVENT} telephone-event/8000",
        f"a=fmtp:{TELEPHONE_EVENT} 0-16",
        "a=ptime:20",
        "a=sendrecv",
    ]
    return ("\r\n".join(lines) + "\r\n").encode()


@dataclass(frozen=True)
class Answer:
    """The far end's media: where to send RTP, which codec, and how DTMF is carried."""

    address: str
    port: int
    codec: int
    dtmf_payload: int | None
    direction: str

    @property
    def on_hold(self) -> bool:
        return self.direction in ("sendonly", "inactive") or self.address == "0.0.0.0"


def parse_answer(body: bytes, offered: tuple[int, ...] = (PCMU, PCMA)) -> Answer:
    """Read the first audio stream; the codec is the first offered one the answer accepts."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise SipParseError("SDP is not UTF-8") from None
    session_addr: str | None = None
    media_addr: str | None = None
    port: int | None = None
    payloads: list[int] = []
    rtpmap: dict[int, str] = {}
    direction = "sendrecv"
    in_audio = False
    for raw in text.splitlines():
        line = raw.strip()
        if len(line) < 2 or line[1] != "=":
            continue
        kind, value = line[0], line[2:]
        if kind == "m":
            if in_audio:
                break  # only the first audio stream is ours
            fields = value.split()
            in_audio = len(fields) >= 4 and fields[0] == "audio"
            if in_audio:
                if not fields[1].isdigit():
                    raise SipParseError("bad media port")
                port = int(fields[1])
                payloads = [int(p) for p in fields[3:] if p.isdigit()]
        elif kind == "c":
            parts = value.split()
            if len(parts) >= 3:
                if in_audio:
                    media_addr = parts[2].split("/")[0]
                else:
                    session_addr = parts[2].split("/")[0]
        elif kind == "a" and (in_audio or port is None):
            if value.startswith("rtpmap:"):
                pt, _, name = value[7:].partition(" ")
                if pt.isdigit():
                    rtpmap[int(pt)] = name.strip().lower()
            elif value in ("sendrecv", "sendonly", "recvonly", "inactive"):
                direction = value
    address = media_addr or session_addr
    if port is None or address is None:
        raise SipParseError("the answer has no audio stream with an address")
    chosen = next((c for c in offered if c in payloads), None)
    if chosen is None:
        raise SipParseError("the answer accepts none of our codecs")
    dtmf = next(
        (
            pt
            for pt, name in rtpmap.items()
            if name.startswith("telephone-event/8000") and pt in payloads
        ),
        None,
    )
    return Answer(address, port, chosen, dtmf, direction)
