"""SDES keys for SRTP (RFC 4568): the `a=crypto` attribute read and written, and the choice of
keys from an offer and its answer. Pure; keys never appear in a repr or an error message."""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from dataclasses import dataclass, field

from voxcast.telephony.sip.core.message import SipParseError

AES_CM_128_HMAC_SHA1_80 = "AES_CM_128_HMAC_SHA1_80"
AES_CM_128_HMAC_SHA1_32 = "AES_CM_128_HMAC_SHA1_32"
#: what voxcast offers, in this order (tag 1, tag 2), and accepts
SUITES = (AES_CM_128_HMAC_SHA1_80, AES_CM_128_HMAC_SHA1_32)
#: both suites: a 128-bit master key and a 112-bit master salt (RFC 4568 §6.2.1)
KEY_SALT_BYTES = 30
#: RFC 4568 §6.2.1: at most 2^48 SRTP packets under one key for these suites
MAX_LIFETIME = 2**48
#: voxcast never re-keys, so a key must outlive any call: 2^20 packets of 20 ms (the RFC's
#: examples' lifetime) are 5.8 hours, beyond the longest talk time (an hour)
MIN_LIFETIME = 2**20
SRTP_MODES = ("off", "optional", "mandatory")

_TAG = re.compile(r"^[0-9]{1,9}$")
_LIFETIME = re.compile(r"^(2\^)?([0-9]{1,20})$")
_MKI = re.compile(r"^[0-9]{1,32}:[0-9]{1,3}$")


class SdesError(SipParseError):
    """An `a=crypto` voxcast cannot use; the message says which part and why (never the key)."""


@dataclass(frozen=True)
class Crypto:
    """One `a=crypto` line: its tag, crypto suite and master key + salt (inline)."""

    tag: int
    suite: str
    key: bytes = field(repr=False)

    def line(self) -> str:
        """The attribute's value, as in `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:...`."""
        return f"{self.tag} {self.suite} inline:{base64.b64encode(self.key).decode()}"


@dataclass(frozen=True)
class SrtpKeys:
    """A negotiated SRTP session: the suite, the key we protect our packets with and the one
    the far end protects its own with (RFC 4568 §6.1: each side sends with its own key)."""

    tag: int
    suite: str
    send: bytes = field(repr=False)
    receive: bytes = field(repr=False)


@dataclass(frozen=True)
class SrtpOffer:
    """What we offered: `mandatory` is an RTP/SAVP offer; otherwise RTP/AVP with keys (best
    effort: plain RTP is fine if the answer has no key)."""

    cryptos: tuple[Crypto, ...]
    mandatory: bool


def new_key() -> bytes:
    return secrets.token_bytes(KEY_SALT_BYTES)


def offer_cryptos(key: bytes) -> tuple[Crypto, ...]:
    """Our offer's attributes: one key for every suite we support (both use 30 bytes, and
    the answer picks only one of them)."""
    return tuple(Crypto(tag, suite, key) for tag, suite in enumerate(SUITES, start=1))


def parse_crypto(value: str) -> Crypto:
    """The value of an `a=crypto:` attribute (RFC 4568 §9.1). Raises `SdesError` for what
    voxcast does not do: other suites, several keys, an MKI, a lifetime shorter than a call
    could need, session parameters but WSH."""
    fields = value.split()
    if len(fields) < 3:
        raise SdesError("a=crypto needs a tag, a crypto suite and key parameters")
    tag_text, suite, key_params, *session_params = fields
    if not _TAG.match(tag_text):
        raise SdesError(f"a=crypto tag {tag_text[:12]!r} is not 1-9 digits")
    if suite not in SUITES:
        raise SdesError(f"a=crypto suite {suite[:40]} is not supported ({', '.join(SUITES)})")
    if ";" in key_params:
        raise SdesError("a=crypto with several keys is not supported (one inline key only)")
    method, _, key_info = key_params.partition(":")
    if method != "inline":
        raise SdesError(f"a=crypto key method {method[:12]!r} is not supported (inline only)")
    key_salt, *extras = key_info.split("|")
    if len(extras) > 2:
        raise SdesError("a=crypto key has too many '|' parts")
    for extra in extras:
        if _MKI.match(extra):
            raise SdesError("a=crypto with an MKI is not supported")
        _check_lifetime(extra)
    for param in session_params:
        name = param.split("=", 1)[0]
        if name != "WSH":  # a replay window hint is only a hint
            raise SdesError(f"a=crypto session parameter {name[:20]} is not supported")
    try:
        key = base64.b64decode(key_salt, validate=True)
    except (binascii.Error, ValueError):
        raise SdesError("a=crypto key is not base64") from None
    if len(key) != KEY_SALT_BYTES:
        raise SdesError(f"a=crypto key is {len(key)} bytes, not {KEY_SALT_BYTES} (key + salt)")
    return Crypto(int(tag_text), suite, key)


def _check_lifetime(text: str) -> None:
    match = _LIFETIME.match(text)
    if match is None:
        raise SdesError(f"a=crypto lifetime or MKI {text[:24]!r} is malformed")
    number = int(match.group(2))
    # the exponent is checked before it is used: 2^99999999999 must not be computed
    if (number > 48) if match.group(1) else (number > MAX_LIFETIME):
        raise SdesError(f"a=crypto lifetime {text[:24]} exceeds 2^48 packets")
    packets = 2**number if match.group(1) else number
    if packets < MIN_LIFETIME:
        raise SdesError(
            f"a=crypto lifetime {text[:24]} is shorter than voxcast supports (2^20 packets: "
            "it does not re-key during a call)"
        )


def choose_answer(offer: SrtpOffer, proto: str, values: list[str]) -> SrtpKeys | None:
    """The keys of a call from our `offer` and the answer's transport and `a=crypto` values;
    None for plain RTP (allowed only when SRTP was optional)."""
    if not values:
        if offer.mandatory or proto == "RTP/SAVP":
            raise SdesError("the answer has no a=crypto for our RTP/SAVP offer")
        return None
    if offer.mandatory and proto != "RTP/SAVP":
        raise SdesError(f"the answer is {proto[:20]}, not RTP/SAVP (SRTP is mandatory)")
    if len(values) > 1:
        raise SdesError("the answer has several a=crypto lines (RFC 4568 §5.1.2: one)")
    theirs = parse_crypto(values[0])
    ours = next((c for c in offer.cryptos if c.tag == theirs.tag), None)
    if ours is None:
        raise SdesError(f"the answer's a=crypto tag {theirs.tag} is not one we offered")
    if ours.suite != theirs.suite:
        raise SdesError(f"the answer's a=crypto tag {theirs.tag} changed the suite")
    return SrtpKeys(theirs.tag, theirs.suite, ours.key, theirs.key)


def choose_offer(key: bytes, values: list[str]) -> SrtpKeys | None:
    """Answering an offer: the first of its `a=crypto` we support, sent back with the same
    tag and suite and our own `key`. None when it has none; `SdesError` when it has some and
    none is usable (its reason is the first one's)."""
    first_error: SdesError | None = None
    for value in values:
        try:
            theirs = parse_crypto(value)
        except SdesError as err:
            first_error = first_error or err
            continue
        return SrtpKeys(theirs.tag, theirs.suite, key, theirs.key)
    if first_error is not None:
        raise first_error
    return None
