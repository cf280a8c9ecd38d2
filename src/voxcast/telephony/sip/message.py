"""SIP messages (RFC 3261 §7, §20, §25): parse bytes into requests and responses and back.

Pure and defensive: a size cap, a header-count cap, Content-Length enforced, compact header
forms expanded, multi-value headers split outside quotes and angle brackets, and no CR, LF or
NUL ever written into a header on the way out (no header injection). Anything malformed raises
`SipParseError`, and nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

MAX_MESSAGE_BYTES = 65_535
MAX_HEADERS = 100
SIP_VERSION = "SIP/2.0"

COMPACT = {
    "a": "Accept-Contact",
    "b": "Referred-By",
    "c": "Content-Type",
    "d": "Request-Disposition",
    "e": "Content-Encoding",
    "f": "From",
    "i": "Call-ID",
    "j": "Reject-Contact",
    "k": "Supported",
    "l": "Content-Length",
    "m": "Contact",
    "n": "Identity-Info",
    "o": "Event",
    "r": "Refer-To",
    "s": "Subject",
    "t": "To",
    "u": "Allow-Events",
    "v": "Via",
    "x": "Session-Expires",
    "y": "Identity",
}
#: headers whose comma-separated values are separate entries (RFC 3261 §7.3.1)
MULTI_VALUE = {
    "via",
    "contact",
    "route",
    "record-route",
    "allow",
    "supported",
    "require",
    "proxy-require",
    "unsupported",
    "accept",
}
_CANONICAL = {v.lower(): v for v in COMPACT.values()} | {
    "cseq": "CSeq",
    "www-authenticate": "WWW-Authenticate",
    "call-id": "Call-ID",
    "max-forwards": "Max-Forwards",
    "user-agent": "User-Agent",
    "rseq": "RSeq",
    "rack": "RAck",
    "mime-version": "MIME-Version",
}
_TOKEN = re.compile(r"^[A-Za-z0-9\-.!%*_+`'~]+$")
_STATUS_LINE = re.compile(r"^SIP/2\.0 ([1-6]\d\d) ?(.*)$")
_FORBIDDEN = re.compile(r"[\r\n\x00]")


class SipParseError(ValueError):
    """The bytes are not a SIP message voxcast accepts."""


def canonical(name: str) -> str:
    """The full, conventionally cased header name ("v" → "Via", "call-id" → "Call-ID")."""
    lowered = name.strip().lower()
    if lowered in COMPACT:
        return COMPACT[lowered]
    return _CANONICAL.get(lowered) or "-".join(p.capitalize() for p in lowered.split("-"))


def split_values(value: str) -> list[str]:
    """Split a header value on commas that are outside quotes and <...>."""
    out: list[str] = []
    depth = 0
    quoted = False
    start = 0
    i = 0
    while i < len(value):
        ch = value[i]
        if quoted:
            if ch == "\\":
                i += 1
            elif ch == '"':
                quoted = False
        elif ch == '"':
            quoted = True
        elif ch == "<":
            depth += 1
        elif ch == ">":
            depth = max(0, depth - 1)
        elif ch == "," and depth == 0:
            out.append(value[start:i].strip())
            start = i + 1
        i += 1
    out.append(value[start:].strip())
    return [v for v in out if v]


@dataclass
class Headers:
    """Ordered headers; names compare case-insensitively and compact forms are expanded."""

    items: list[tuple[str, str]] = field(default_factory=list)

    def add(self, name: str, value: str) -> None:
        self.items.append((canonical(name), value))

    def get(self, name: str, default: str | None = None) -> str | None:
        key = canonical(name).lower()
        for n, v in self.items:
            if n.lower() == key:
                return v
        return default

    def get_all(self, name: str) -> list[str]:
        """Every value of a header, multi-value ones split into their entries."""
        key = canonical(name).lower()
        values: list[str] = []
        for n, v in self.items:
            if n.lower() == key:
                values.extend(split_values(v) if key in MULTI_VALUE else [v])
        return values

    def set(self, name: str, value: str) -> None:
        self.remove(name)
        self.add(name, value)

    def remove(self, name: str) -> None:
        key = canonical(name).lower()
        self.items = [(n, v) for n, v in self.items if n.lower() != key]

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.items)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None


@dataclass
class Request:
    method: str
    uri: str
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""

    @property
    def call_id(self) -> str:
        return self.headers.get("Call-ID") or ""


@dataclass
class Response:
    status: int
    reason: str
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""

    @property
    def call_id(self) -> str:
        return self.headers.get("Call-ID") or ""


Message = Request | Response


def parse(data: bytes) -> Message:
    """One SIP message from one datagram (or one framed stream message)."""
    if len(data) > MAX_MESSAGE_BYTES:
        raise SipParseError(f"message of {len(data)} bytes is over {MAX_MESSAGE_BYTES}")
    sep = data.find(b"\r\n\r\n")
    if sep >= 0:
        head, body = data[:sep], data[sep + 4 :]
    else:
        sep = data.find(b"\n\n")  # bare LF line ends: tolerated on input
        if sep < 0:
            raise SipParseError("no blank line after the headers")
        head, body = data[:sep], data[sep + 2 :]
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        raise SipParseError("headers are not UTF-8") from None
    lines = text.replace("\r\n", "\n").split("\n")
    start = lines[0].strip()
    if _FORBIDDEN.search(start):
        raise SipParseError("a bare CR or NUL in the start line")
    message = _start_line(start)
    unfolded: list[str] = []
    for line in lines[1:]:
        if not line:
            continue
        if line[0] in " \t":
            if not unfolded:
                raise SipParseError("continuation line before any header")
            unfolded[-1] += " " + line.strip()
        else:
            unfolded.append(line)
    if len(unfolded) > MAX_HEADERS:
        raise SipParseError(f"more than {MAX_HEADERS} headers")
    for line in unfolded:
        name, colon, value = line.partition(":")
        if not colon or not _TOKEN.match(name.strip()):
            raise SipParseError(f"malformed header line {line[:40]!r}")
        if "\x00" in value or "\r" in value:
            raise SipParseError("NUL or a bare CR in a header value")
        message.headers.add(name.strip(), value.strip())
    message.body = _body(message.headers, body)
    for required in ("Call-ID", "CSeq", "From", "To", "Via"):
        if message.headers.get(required) is None:
            raise SipParseError(f"missing {required}")
    parse_cseq(message.headers.get("CSeq") or "")
    return message


def _start_line(line: str) -> Message:
    if line.startswith("SIP/"):
        m = _STATUS_LINE.match(line)
        if not m:
            raise SipParseError(f"malformed status line {line[:40]!r}")
        return Response(int(m.group(1)), m.group(2))
    parts = line.split(" ")
    if len(parts) != 3 or parts[2] != SIP_VERSION or not _TOKEN.match(parts[0]):
        raise SipParseError(f"malformed request line {line[:40]!r}")
    if ":" not in parts[1]:
        raise SipParseError("request URI has no scheme")
    return Request(parts[0].upper(), parts[1])


def _body(headers: Headers, body: bytes) -> bytes:
    declared = headers.get("Content-Length")
    if declared is None:
        return body
    if not declared.strip().isdigit():
        raise SipParseError("Content-Length is not a number")
    length = int(declared)
    if length > len(body):
        raise SipParseError(f"Content-Length {length} but {len(body)} bytes of body")
    # RFC 3261 §18.3: bytes past Content-Length in a datagram are discarded
    return body[:length]


def parse_cseq(value: str) -> tuple[int, str]:
    parts = value.split()
    if len(parts) != 2 or not parts[0].isdigit() or not _TOKEN.match(parts[1]):
        raise SipParseError(f"malformed CSeq {value[:40]!r}")
    number = int(parts[0])
    if number >= 2**31:
        raise SipParseError("CSeq number out of range")
    return number, parts[1].upper()


def serialize(message: Message) -> bytes:
    """Bytes to send; Content-Length is always written from the body."""
    if isinstance(message, Request):
        start = f"{message.method} {message.uri} {SIP_VERSION}"
    else:
        start = f"{SIP_VERSION} {message.status} {message.reason}"
    _check(start)
    lines = [start]
    for name, value in message.headers:
        if name.lower() == "content-length":
            continue
        _check(name)
        _check(value)
        lines.append(f"{name}: {value}")
    lines.append(f"Content-Length: {len(message.body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + message.body


def _check(text: str) -> None:
    if _FORBIDDEN.search(text):
        raise SipParseError(f"CR, LF or NUL in {text[:40]!r}: refusing to write it")


# -- header values ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Via:
    transport: str
    host: str
    port: int | None
    params: dict[str, str | None]

    @property
    def branch(self) -> str | None:
        return self.params.get("branch")


def parse_via(value: str) -> Via:
    proto, _, rest = value.strip().partition(" ")
    bits = proto.split("/")
    if len(bits) != 3 or bits[0].upper() != "SIP":
        raise SipParseError(f"malformed Via {value[:40]!r}")
    sent_by, params = _params(rest)
    host, port = _host_port(sent_by)
    return Via(bits[2].upper(), host, port, params)


@dataclass(frozen=True)
class NameAddr:
    """A From/To/Contact/Route value: optional display name, URI and header parameters."""

    display: str | None
    uri: str
    params: dict[str, str | None]

    @property
    def tag(self) -> str | None:
        return self.params.get("tag")

    def __str__(self) -> str:
        shown = f'"{self.display}" ' if self.display else ""
        extra = "".join(f";{k}" if v is None else f";{k}={v}" for k, v in self.params.items())
        return f"{shown}<{self.uri}>{extra}"


def parse_name_addr(value: str) -> NameAddr:
    text = value.strip()
    display: str | None = None
    if "<" in text:
        before, _, after = text.partition("<")
        uri, close, rest = after.partition(">")
        if not close:
            raise SipParseError(f"unclosed <...> in {value[:40]!r}")
        display = before.strip().strip('"') or None
        _, params = _params(rest)
    else:
        # addr-spec form: parameters after the URI belong to the header
        uri, params = _params(text)
    if ":" not in uri:
        raise SipParseError(f"not a URI: {uri[:40]!r}")
    return NameAddr(display, uri.strip(), params)


@dataclass(frozen=True)
class SipUri:
    scheme: str
    user: str | None
    host: str
    port: int | None
    params: dict[str, str | None]

    def __str__(self) -> str:
        user = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port else ""
        extra = "".join(f";{k}" if v is None else f";{k}={v}" for k, v in self.params.items())
        return f"{self.scheme}:{user}{self.host}{port}{extra}"


def parse_uri(value: str) -> SipUri:
    scheme, colon, rest = value.strip().partition(":")
    if not colon or scheme.lower() not in ("sip", "sips", "tel"):
        raise SipParseError(f"unsupported URI {value[:40]!r}")
    rest = rest.split("?", 1)[0]
    core, params = _params(rest)
    user: str | None = None
    if "@" in core:
        user, _, core = core.rpartition("@")
    host, port = _host_port(core)
    return SipUri(scheme.lower(), user, host, port, params)


def _params(text: str) -> tuple[str, dict[str, str | None]]:
    head, *rest = text.split(";")
    params: dict[str, str | None] = {}
    for item in rest:
        name, eq, val = item.partition("=")
        if name.strip():
            params[name.strip().lower()] = val.strip() if eq else None
    return head.strip(), params


def _host_port(text: str) -> tuple[str, int | None]:
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port_text = text.partition(":")
    if not host:
        raise SipParseError("empty host")
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise SipParseError(f"bad port {port_text[:10]!r}")
        return host, int(port_text)
    return host, None
