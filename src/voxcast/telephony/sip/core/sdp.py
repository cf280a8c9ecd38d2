"""SDP offer/answer for one audio stream (RFC 4566, RFC 3264): our offer of G.711 (PCMU, PCMA)
and telephone-event/8000 (RFC 4733), with SDES keys for SRTP when asked (RFC 4568), reading
the far end's answer or re-offer (codec, where to send RTP, the DTMF payload type, direction,
hold, SRTP keys), and answering a re-offer. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from voxcast.telephony.sip.core.message import SipParseError, digits
from voxcast.telephony.sip.core.sdes import (
    Crypto,
    SdesError,
    SrtpKeys,
    SrtpOffer,
    choose_answer,
    choose_offer,
    parse_crypto,
)

PCMU, PCMA, TELEPHONE_EVENT = 0, 8, 101
CODEC_NAMES = {PCMU: "PCMU", PCMA: "PCMA"}
CODECS_BY_NAME = {"pcmu": PCMU, "pcma": PCMA}
DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")
_MIRROR = {"sendrecv": "sendrecv", "sendonly": "recvonly", "recvonly": "sendonly"}


def _connection(address: str) -> str:
    return f"IN IP6 {address}" if ":" in address else f"IN IP4 {address}"


def offer(
    address: str,
    port: int,
    session_id: int,
    codecs: tuple[int, ...] = (PCMU, PCMA),
    *,
    version: int | None = None,
    direction: str = "sendrecv",
    dtmf_payload: int = TELEPHONE_EVENT,
    srtp: SrtpOffer | None = None,
) -> bytes:
    """Our SDP offer: the given G.711 codecs in preference order, plus RFC 4733 events; with
    `srtp`, its keys as `a=crypto` on RTP/SAVP (mandatory) or RTP/AVP (best effort)."""
    if not codecs or any(c not in CODEC_NAMES for c in codecs):
        raise ValueError(f"voxcast offers only PCMU (0) and PCMA (8), not {codecs}")
    proto = "RTP/SAVP" if srtp is not None and srtp.mandatory else "RTP/AVP"
    cryptos = srtp.cryptos if srtp is not None else ()
    return _sdp(address, port, session_id, version, codecs, dtmf_payload, direction, proto, cryptos)


def _sdp(
    address: str,
    port: int,
    session_id: int,
    version: int | None,
    codecs: tuple[int, ...],
    dtmf_payload: int | None,
    direction: str,
    proto: str = "RTP/AVP",
    cryptos: tuple[Crypto, ...] = (),
) -> bytes:
    payloads = [*codecs, *([dtmf_payload] if dtmf_payload is not None else [])]
    lines = [
        "v=0",
        f"o=voxcast {session_id} {session_id if version is None else version} "
        f"{_connection(address)}",
        "s=voxcast",
        f"c={_connection(address)}",
        "t=0 0",
        f"m=audio {port} {proto} {' '.join(str(p) for p in payloads)}",
        *(f"a=rtpmap:{c} {CODEC_NAMES[c]}/8000" for c in codecs),
    ]
    if dtmf_payload is not None:
        lines += [f"a=rtpmap:{dtmf_payload} telephone-event/8000", f"a=fmtp:{dtmf_payload} 0-16"]
    lines += [f"a=crypto:{c.line()}" for c in cryptos]
    lines += ["a=ptime:20", f"a={direction}"]
    return ("\r\n".join(lines) + "\r\n").encode()


@dataclass(frozen=True)
class Media:
    """The far end's audio stream: where to send RTP, which codec, how DTMF is carried and in
    which direction media flows (from the far end's point of view, as its SDP says)."""

    address: str
    port: int
    codec: int
    dtmf_payload: int | None
    direction: str = "sendrecv"
    ptime: int = 20
    payloads: tuple[int, ...] = ()
    proto: str = "RTP/AVP"
    #: SRTP's keys when the stream is encrypted (RFC 4568), None for plain RTP
    srtp: SrtpKeys | None = None

    @property
    def on_hold(self) -> bool:
        """The far end put us on hold: it will not receive (sendonly, inactive, or the old
        RFC 2543 way, a connection address of 0.0.0.0)."""
        return self.direction in ("sendonly", "inactive") or self.address in ("0.0.0.0", "::")

    @property
    def we_send(self) -> bool:
        return not self.on_hold

    @property
    def we_receive(self) -> bool:
        return self.direction in ("sendrecv", "sendonly")


#: the first name of this type
Answer = Media


@dataclass
class _Parsed:
    address: str | None
    port: int
    proto: str
    payloads: list[int]
    rtpmap: dict[int, str]
    direction: str
    ptime: int
    crypto: list[str]


def _parse(body: bytes) -> _Parsed:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise SipParseError("SDP is not UTF-8") from None
    session_addr: str | None = None
    media_addr: str | None = None
    session_direction = "sendrecv"
    media_direction: str | None = None
    port: int | None = None
    proto = ""
    payloads: list[int] = []
    rtpmap: dict[int, str] = {}
    crypto: list[str] = []
    ptime = 20
    section = "session"  # then "audio" (our stream) or "other"
    for raw in text.splitlines():
        line = raw.strip()
        if len(line) < 2 or line[1] != "=":
            continue
        kind, value = line[0], line[2:].strip()
        if kind == "m":
            fields = value.split()
            if port is None and len(fields) >= 3 and fields[0].lower() == "audio":
                section = "audio"
                port_text = fields[1].split("/")[0]
                if not digits(port_text) or len(port_text) > 5 or int(port_text) > 65535:
                    raise SipParseError("bad media port")
                port = int(port_text)
                proto = fields[2].upper()
                payloads = [int(p) for p in fields[3:] if digits(p) and len(p) <= 3]
            else:
                section = "other"  # only the first audio stream is ours
        elif section == "other":
            continue
        elif kind == "c":
            parts = value.split()
            if len(parts) >= 3 and parts[0] == "IN" and parts[1] in ("IP4", "IP6"):
                address = parts[2].split("/")[0]
                if section == "audio":
                    media_addr = address
                else:
                    session_addr = address
        elif kind == "a":
            name, _, rest = value.partition(":")
            if name == "rtpmap" and section == "audio":
                pt, _, codec = rest.strip().partition(" ")
                if digits(pt) and len(pt) <= 3:
                    rtpmap[int(pt)] = codec.strip().lower()
            elif name == "crypto" and section == "audio":
                crypto.append(rest.strip())
            elif name == "ptime" and section == "audio":
                text_ms = rest.strip().split(".")[0]
                if digits(text_ms) and 0 < len(text_ms) <= 3 and int(text_ms) > 0:
                    ptime = int(text_ms)
            elif value in DIRECTIONS:
                if section == "audio":
                    media_direction = value
                else:
                    session_direction = value
    if port is None:
        raise SipParseError("the SDP has no audio stream")
    return _Parsed(
        media_addr or session_addr,
        port,
        proto,
        payloads,
        rtpmap,
        media_direction or session_direction,
        ptime,
        crypto,
    )


def _media(
    parsed: _Parsed,
    order: list[int],
    accepted: tuple[int, ...],
    srtp: SrtpKeys | None = None,
    savp: bool = False,
) -> Media:
    if parsed.port == 0:
        raise SipParseError("the audio stream was rejected (port 0)")
    if parsed.address is None:
        raise SipParseError("the audio stream has no connection address")
    if parsed.proto not in ("RTP/AVP", "RTP/AVPF") and not (savp and parsed.proto == "RTP/SAVP"):
        raise SipParseError(f"unsupported media transport {parsed.proto[:20]} (no SRTP)")
    chosen = next((c for c in order if c in accepted), None)
    if chosen is None:
        raise SipParseError("no codec in common")
    dtmf = next(
        (
            pt
            for pt in parsed.payloads
            if parsed.rtpmap.get(pt, "").startswith("telephone-event/8000")
        ),
        None,
    )
    return Media(
        parsed.address,
        parsed.port,
        chosen,
        dtmf,
        parsed.direction,
        parsed.ptime,
        tuple(parsed.payloads),
        parsed.proto,
        srtp,
    )


def parse_answer(
    body: bytes, offered: tuple[int, ...] = (PCMU, PCMA), srtp: SrtpOffer | None = None
) -> Media:
    """The far end's answer to our offer: the codec is the first one of the answer's m-line
    that we offered (RFC 3264 §6.1: the answerer lists its choice first). With `srtp` (the
    keys we offered), the answer's `a=crypto` gives the call's keys; an answer voxcast cannot
    use raises `SdesError` (a `SipParseError`) naming the reason."""
    parsed = _parse(body)
    keys = None
    if srtp is not None and parsed.port != 0:
        keys = choose_answer(srtp, parsed.proto, parsed.crypto)
    return _media(parsed, parsed.payloads, offered, keys, savp=srtp is not None)


def parse_offer(
    body: bytes, supported: tuple[int, ...] = (PCMU, PCMA), srtp_key: bytes | None = None
) -> Media:
    """The far end's (re-)offer: the codec is its most preferred one that we support. With
    `srtp_key` (ours), an offer with `a=crypto` is taken with SRTP, our key answering."""
    return _offer_media(_parse(body), supported, srtp_key)


def _offer_media(parsed: _Parsed, supported: tuple[int, ...], srtp_key: bytes | None) -> Media:
    keys = None
    if srtp_key is not None and parsed.port != 0:
        keys = choose_offer(srtp_key, parsed.crypto)
        if keys is None and parsed.proto == "RTP/SAVP":
            raise SdesError("the RTP/SAVP offer has no a=crypto (voxcast keys SRTP by SDES only)")
    return _media(parsed, parsed.payloads, supported, keys, savp=srtp_key is not None)


def answer_to(theirs: Media, address: str, port: int, session_id: int, version: int) -> bytes:
    """Our answer to a re-offer (a re-INVITE or UPDATE from the far end: hold, resume, a new
    address): its chosen codec and DTMF payload type, the direction mirrored (their sendonly
    → our recvonly, inactive stays inactive)."""
    direction = _MIRROR.get(theirs.direction, "inactive")
    keys = theirs.srtp
    proto = theirs.proto if keys is not None and theirs.proto == "RTP/SAVP" else "RTP/AVP"
    cryptos = (Crypto(keys.tag, keys.suite, keys.send),) if keys is not None else ()
    return _sdp(
        address,
        port,
        session_id,
        version,
        (theirs.codec,),
        theirs.dtmf_payload,
        direction,
        proto,
        cryptos,
    )


def srtp_offer_of(body: bytes) -> SrtpOffer | None:
    """The SRTP part of our own offer (its keys, and whether it is RTP/SAVP); None without
    `a=crypto`."""
    return _srtp_of(_parse(body))


def _srtp_of(parsed: _Parsed) -> SrtpOffer | None:
    if not parsed.crypto:
        return None
    cryptos = tuple(parse_crypto(value) for value in parsed.crypto)
    return SrtpOffer(cryptos, mandatory=parsed.proto == "RTP/SAVP")


def read_own_offer(
    body: bytes, supported: tuple[int, ...] = (PCMU, PCMA)
) -> tuple[Media, SrtpOffer | None]:
    """Our own offer read back in one pass: its media as `parse_offer` reads it with our own
    SRTP key, and its SRTP part as `srtp_offer_of` gives it."""
    parsed = _parse(body)
    srtp = _srtp_of(parsed)
    key = srtp.cryptos[0].key if srtp is not None else None
    return _offer_media(parsed, supported, key), srtp
