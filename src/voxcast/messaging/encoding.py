"""SMS text encoding for SMPP: GSM 03.38 (data_coding 0) when every character fits, else
UCS-2 (data_coding 8), and long texts cut into segments behind a concatenation UDH."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

# GSM 03.38 default alphabet, indexed by septet value (0x1B is the escape to the extension table)
_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
assert len(_BASIC) == 128
_GSM_BASIC = {ch: i for i, ch in enumerate(_BASIC) if ch != "\x1b"}
# the extension table: each of these costs two septets (0x1B, code)
_GSM_EXTENSION = {
    "\f": 0x0A,
    "^": 0x14,
    "{": 0x28,
    "}": 0x29,
    "\\": 0x2F,
    "[": 0x3C,
    "~": 0x3D,
    "]": 0x3E,
    "|": 0x40,
    "€": 0x65,
}
_ESCAPE = 0x1B

DATA_CODING_GSM7 = 0
DATA_CODING_UCS2 = 8
ESM_CLASS_UDHI = 0x40

# one message alone, or per segment once a 6-byte concatenation UDH takes its share
GSM7_SINGLE = 160
GSM7_SEGMENT = 153
UCS2_SINGLE = 70
UCS2_SEGMENT = 67
MAX_SEGMENTS = 255


@dataclass(frozen=True)
class Segment:
    """One submit_sm's worth: the short_message bytes (UDH included when concatenated), the
    data_coding and the esm_class that goes with them, and the part of the text it carries."""

    payload: bytes
    data_coding: int
    esm_class: int
    text: str


def is_gsm7(text: str) -> bool:
    """True when every character is in the GSM 03.38 alphabet or its extension table."""
    return all(ch in _GSM_BASIC or ch in _GSM_EXTENSION for ch in text)


def gsm7_encode(text: str) -> bytes:
    """GSM 03.38, one septet per octet (SMPP's unpacked form for data_coding 0)."""
    out = bytearray()
    for ch in text:
        code = _GSM_BASIC.get(ch)
        if code is not None:
            out.append(code)
        else:
            out += bytes((_ESCAPE, _GSM_EXTENSION[ch]))
    return bytes(out)


def gsm7_decode(data: bytes) -> str:
    """The inverse of gsm7_encode (used by tests and for reading receipts' texts)."""
    reverse_ext = {code: ch for ch, code in _GSM_EXTENSION.items()}
    out: list[str] = []
    escaped = False
    for byte in data:
        if escaped:
            out.append(reverse_ext.get(byte, " "))
            escaped = False
        elif byte == _ESCAPE:
            escaped = True
        else:
            out.append(_BASIC[byte])
    return "".join(out)


def _gsm7_cost(ch: str) -> int:
    # an extension character's two septets never straddle two segments
    return 2 if ch in _GSM_EXTENSION else 1


def _ucs2_cost(ch: str) -> int:
    # UTF-16 code units; a surrogate pair (an emoji) stays within one segment
    return 2 if ord(ch) > 0xFFFF else 1


def _chunks(text: str, limit: int, cost: Callable[[str], int]) -> list[str]:
    """`text` cut into pieces of at most `limit` units, no character split."""
    chunks: list[str] = []
    current: list[str] = []
    used = 0
    for ch in text:
        units = cost(ch)
        if used + units > limit:
            chunks.append("".join(current))
            current, used = [], 0
        current.append(ch)
        used += units
    chunks.append("".join(current))
    return chunks


def segment(text: str, ref: int) -> list[Segment]:
    """Cut `text` into submit_sm segments: one segment up to 160 GSM-7 septets / 70 UCS-2
    units, else 153 / 67 per segment each behind the UDH 05 00 03 <ref> <total> <seq>."""
    if not text:
        raise ValueError("an SMS needs some text")
    gsm = is_gsm7(text)
    coding = DATA_CODING_GSM7 if gsm else DATA_CODING_UCS2

    def encode(part: str) -> bytes:
        return gsm7_encode(part) if gsm else part.encode("utf-16-be")

    cost = _gsm7_cost if gsm else _ucs2_cost
    if len(_chunks(text, GSM7_SINGLE if gsm else UCS2_SINGLE, cost)) == 1:
        return [Segment(encode(text), coding, 0, text)]
    chunks = _chunks(text, GSM7_SEGMENT if gsm else UCS2_SEGMENT, cost)
    if len(chunks) > MAX_SEGMENTS:
        raise ValueError(f"text too long: {len(chunks)} segments (at most {MAX_SEGMENTS})")
    total = len(chunks)
    return [
        Segment(
            bytes((0x05, 0x00, 0x03, ref & 0xFF, total, seq)) + encode(part),
            coding,
            ESM_CLASS_UDHI,
            part,
        )
        for seq, part in enumerate(chunks, start=1)
    ]


def parse_udh(payload: bytes) -> tuple[int, int, int, bytes]:
    """(ref, total, seq, body) of a segment carrying an 8- or 16-bit concatenation IE."""
    udh_len = payload[0]
    udh, body = payload[1 : 1 + udh_len], payload[1 + udh_len :]
    i = 0
    while i < len(udh):
        iei, length = udh[i], udh[i + 1]
        data = udh[i + 2 : i + 2 + length]
        if iei == 0x00:
            return data[0], data[1], data[2], body
        if iei == 0x08:
            return (data[0] << 8) | data[1], data[2], data[3], body
        i += 2 + length
    raise ValueError("no concatenation element in the UDH")
