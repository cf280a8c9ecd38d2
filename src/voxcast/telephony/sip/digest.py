"""Digest authentication for our requests (RFC 2617 / RFC 3261 §22): answer a 401/407 challenge
with MD5, with or without qop=auth. Pure: the cnonce is passed in."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from voxcast.telephony.sip.message import SipParseError


@dataclass(frozen=True)
class Challenge:
    realm: str
    nonce: str
    algorithm: str = "MD5"
    qop: tuple[str, ...] = ()
    opaque: str | None = None
    stale: bool = False


def parse_challenge(value: str) -> Challenge:
    """`Digest realm="x", nonce="y", qop="auth,auth-int", algorithm=MD5, opaque="z"`."""
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "digest":
        raise SipParseError(f"not a Digest challenge: {value[:40]!r}")
    fields = _auth_params(rest)
    if "realm" not in fields or "nonce" not in fields:
        raise SipParseError("a Digest challenge needs realm and nonce")
    algorithm = fields.get("algorithm", "MD5")
    if algorithm.upper() not in ("MD5", "MD5-SESS"):
        raise SipParseError(f"unsupported digest algorithm {algorithm}")
    qop = tuple(q.strip().lower() for q in fields.get("qop", "").split(",") if q.strip())
    return Challenge(
        fields["realm"],
        fields["nonce"],
        algorithm.upper(),
        qop,
        fields.get("opaque"),
        fields.get("stale", "").lower() == "true",
    )


def _auth_params(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in " ,\t":
            i += 1
        eq = text.find("=", i)
        if eq < 0:
            break
        name = text[i:eq].strip().lower()
        i = eq + 1
        if i < n and text[i] == '"':
            end = i + 1
            value_chars = []
            while end < n and text[end] != '"':
                if text[end] == "\\" and end + 1 < n:
                    end += 1
                value_chars.append(text[end])
                end += 1
            value = "".join(value_chars)
            i = end + 1
        else:
            end = text.find(",", i)
            end = n if end < 0 else end
            value = text[i:end].strip()
            i = end
        if name:
            out[name] = value
    return out


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def authorization(
    challenge: Challenge,
    *,
    method: str,
    uri: str,
    username: str,
    password: str,
    cnonce: str,
    nonce_count: int = 1,
) -> str:
    """The Authorization / Proxy-Authorization header value answering `challenge`."""
    ha1 = _md5(f"{username}:{challenge.realm}:{password}")
    if challenge.algorithm == "MD5-SESS":
        ha1 = _md5(f"{ha1}:{challenge.nonce}:{cnonce}")
    ha2 = _md5(f"{method}:{uri}")
    nc = f"{nonce_count:08x}"
    if "auth" in challenge.qop:
        response = _md5(f"{ha1}:{challenge.nonce}:{nc}:{cnonce}:auth:{ha2}")
    else:
        response = _md5(f"{ha1}:{challenge.nonce}:{ha2}")
    parts = [
        f'username="{username}"',
        f'realm="{challenge.realm}"',
        f'nonce="{challenge.nonce}"',
        f'uri="{uri}"',
        f'response="{response}"',
        f"algorithm={challenge.algorithm}",
    ]
    if "auth" in challenge.qop:
        parts += ["qop=auth", f"nc={nc}", f'cnonce="{cnonce}"']
    if challenge.opaque is not None:
        parts.append(f'opaque="{challenge.opaque}"')
    return "Digest " + ", ".join(parts)
