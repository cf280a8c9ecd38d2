"""Digest authentication of our requests (RFC 2617, RFC 3261 §22): answer a 401/407 with MD5 or
MD5-sess, qop=auth (or auth-int, or the RFC 2069 form without qop), and the retry policy: one
authenticated retry per request, plus one more only if the server says our nonce was stale.
Pure: the cnonce generator is passed in."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass

from voxcast.telephony.sip.core.message import Request, Response, SipParseError


@dataclass(frozen=True)
class Credentials:
    """A trunk's account. With `realm` set, only challenges from that realm are answered (a
    digest is never sent to a realm the trunk was not configured for)."""

    username: str
    password: str
    realm: str | None = None


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
    if "realm" not in fields or not fields.get("nonce"):
        raise SipParseError("a Digest challenge needs realm and nonce")
    algorithm = fields.get("algorithm", "MD5").upper()
    if algorithm not in ("MD5", "MD5-SESS"):
        raise SipParseError(f"unsupported digest algorithm {algorithm[:20]}")
    qop = tuple(q.strip().lower() for q in fields.get("qop", "").split(",") if q.strip())
    if qop and "auth" not in qop and "auth-int" not in qop:
        raise SipParseError(f"unsupported qop {fields['qop'][:20]}")
    for name in ("realm", "nonce", "opaque"):
        if any(c in fields.get(name, "") for c in "\r\n\x00"):
            raise SipParseError(f"a control character in the {name}")
    return Challenge(
        fields["realm"],
        fields["nonce"],
        algorithm,
        qop,
        fields.get("opaque"),
        fields.get("stale", "").lower() == "true",
    )


def _auth_params(text: str) -> dict[str, str]:
    """name=value and name="quoted, value" pairs separated by commas."""
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
        while i < n and text[i] in " \t":
            i += 1
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
    body: bytes = b"",
) -> str:
    """The Authorization / Proxy-Authorization header value answering `challenge`."""
    ha1 = _md5(f"{username}:{challenge.realm}:{password}")
    if challenge.algorithm == "MD5-SESS":
        ha1 = _md5(f"{ha1}:{challenge.nonce}:{cnonce}")
    qop = "auth" if "auth" in challenge.qop else ("auth-int" if challenge.qop else None)
    if qop == "auth-int":
        ha2 = _md5(f"{method}:{uri}:{hashlib.md5(body).hexdigest()}")
    else:
        ha2 = _md5(f"{method}:{uri}")
    nc = f"{nonce_count:08x}"
    if qop:
        response = _md5(f"{ha1}:{challenge.nonce}:{nc}:{cnonce}:{qop}:{ha2}")
    else:
        response = _md5(f"{ha1}:{challenge.nonce}:{ha2}")
    parts = [
        f'username="{_quote(username)}"',
        f'realm="{_quote(challenge.realm)}"',
        f'nonce="{_quote(challenge.nonce)}"',
        f'uri="{_quote(uri)}"',
        f'response="{response}"',
        f"algorithm={challenge.algorithm}",
    ]
    if qop:
        parts += [f"qop={qop}", f"nc={nc}", f'cnonce="{cnonce}"']
    if challenge.opaque is not None:
        parts.append(f'opaque="{_quote(challenge.opaque)}"')
    return "Digest " + ", ".join(parts)


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


#: challenge header → the header that answers it
ANSWER_HEADER = {"WWW-Authenticate": "Authorization", "Proxy-Authenticate": "Proxy-Authorization"}


class Authenticator:
    """Answers the challenges to one request (an INVITE, a BYE). Policy: one authenticated
    retry; a second challenge means wrong credentials, unless it says `stale=true` (the nonce
    expired while we were answering), which earns exactly one more retry."""

    def __init__(self, credentials: Credentials, new_cnonce: Callable[[], str]) -> None:
        self.credentials = credentials
        self._new_cnonce = new_cnonce
        self.attempts = 0

    def answer(self, request: Request, response: Response) -> list[tuple[str, str]] | None:
        """The headers to put on the retry of `request` answering `response` (a 401 or 407),
        or None: give up (retry used, no usable challenge, or a realm we do not serve)."""
        challenges: list[tuple[str, Challenge]] = []
        for header in ANSWER_HEADER:
            usable = []
            for value in response.headers.get_all(header):
                try:
                    usable.append(parse_challenge(value))
                except SipParseError:
                    continue  # e.g. an SHA-256 offer next to the MD5 one
            wanted = self.credentials.realm
            matching = [c for c in usable if wanted is None or c.realm == wanted]
            if matching:
                challenges.append((header, matching[0]))
        if not challenges:
            return None
        stale = all(c.stale for _, c in challenges)
        if self.attempts >= 2 or (self.attempts == 1 and not stale):
            return None
        self.attempts += 1
        return [
            (
                ANSWER_HEADER[header],
                authorization(
                    challenge,
                    method=request.method,
                    uri=request.uri,
                    username=self.credentials.username,
                    password=self.credentials.password,
                    cnonce=self._new_cnonce(),
                    body=request.body,
                ),
            )
            for header, challenge in challenges
        ]


# -- the server side (voxcast's registrar checking agents' softphones) --------------------------


def parse_authorization(value: str) -> dict[str, str] | None:
    """The parameters of a `Digest ...` Authorization header, or None if it is not Digest."""
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "digest":
        return None
    return _auth_params(rest)


def verify(params: dict[str, str], *, method: str, password: str, realm: str) -> bool:
    """Whether `params` (a parsed Authorization) prove knowledge of `password` (MD5 or
    MD5-sess, qop auth or none), for `realm`. Constant-time comparison."""
    try:
        username, nonce, uri = params["username"], params["nonce"], params["uri"]
        given = params["response"]
    except KeyError:
        return False
    if params.get("realm") != realm:
        return False
    algorithm = params.get("algorithm", "MD5").upper()
    if algorithm not in ("MD5", "MD5-SESS"):
        return False
    ha1 = _md5(f"{username}:{realm}:{password}")
    qop = params.get("qop")
    cnonce, nc = params.get("cnonce", ""), params.get("nc", "")
    if algorithm == "MD5-SESS":
        ha1 = _md5(f"{ha1}:{nonce}:{cnonce}")
    ha2 = _md5(f"{method}:{uri}")
    if qop == "auth":
        expected = _md5(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
    elif qop is None:
        expected = _md5(f"{ha1}:{nonce}:{ha2}")
    else:
        return False  # auth-int is not offered by our challenges
    return hmac.compare_digest(expected, given.lower())
