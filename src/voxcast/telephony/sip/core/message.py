"""SIP messages (RFC 3261 §7, §20, §25): parse bytes into requests and responses and back.

Pure and defensive, in the manner of h11: a size cap, a header-count cap, Content-Length
enforced (and required on streams), compact header forms expanded, multi-value headers split
outside quotes and angle brackets. Malformed input raises `SipParseError` and nothing else;
a message we would write with CR, LF or NUL inside a header (header injection) raises
`SipBuildError`. Both are `SipError`s. Also here: the Via, name-addr, URI and CSeq helpers,
fresh branches/tags/Call-IDs, and `response_to` for answering a request.
"""

from __future__ import annotations

import functools
import re
import secrets
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

MAX_MESSAGE_BYTES = 65_535
MAX_HEADERS = 100
SIP_VERSION = "SIP/2.0"
MAGIC_COOKIE = "z9hG4bK"

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
MULTI_VALUE = frozenset(
    {
        "via",
        "contact",
        "route",
        "record-route",
        "path",
        "allow",
        "supported",
        "require",
        "proxy-require",
        "unsupported",
        "accept",
    }
)
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
#: §7.2: Status-Line = SIP-Version SP Status-Code SP Reason-Phrase CRLF (the phrase may be
#: empty, the second SP may not be missing)
_STATUS_LINE = re.compile(r"^SIP/2\.0 ([1-6]\d\d) ([^\r\n]*)$")
_FORBIDDEN = re.compile(r"[\r\n\x00]")
#: the characters `split_values` must look at: the rest of a value is skipped over in C
_SPECIAL = re.compile(r'[\\",<>]')

#: RFC 3261 §21 (and RFC 3262, 3265, 3311, 3326, 3329, 4028, 5079, 6228) reason phrases
REASONS = {
    100: "Trying",
    180: "Ringing",
    181: "Call Is Being Forwarded",
    182: "Queued",
    183: "Session Progress",
    199: "Early Dialog Terminated",
    200: "OK",
    202: "Accepted",
    204: "No Notification",
    300: "Multiple Choices",
    301: "Moved Permanently",
    302: "Moved Temporarily",
    305: "Use Proxy",
    380: "Alternative Service",
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    407: "Proxy Authentication Required",
    408: "Request Timeout",
    410: "Gone",
    412: "Conditional Request Failed",
    413: "Request Entity Too Large",
    414: "Request-URI Too Long",
    415: "Unsupported Media Type",
    416: "Unsupported URI Scheme",
    420: "Bad Extension",
    421: "Extension Required",
    422: "Session Interval Too Small",
    423: "Interval Too Brief",
    480: "Temporarily Unavailable",
    481: "Call/Transaction Does Not Exist",
    482: "Loop Detected",
    483: "Too Many Hops",
    484: "Address Incomplete",
    485: "Ambiguous",
    486: "Busy Here",
    487: "Request Terminated",
    488: "Not Acceptable Here",
    489: "Bad Event",
    491: "Request Pending",
    493: "Undecipherable",
    494: "Security Agreement Required",
    500: "Server Internal Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Server Time-out",
    505: "Version Not Supported",
    513: "Message Too Large",
    580: "Precondition Failure",
    600: "Busy Everywhere",
    603: "Decline",
    604: "Does Not Exist Anywhere",
    606: "Not Acceptable",
}
#: the phrase for a code missing above: its class's (§21: the class alone gives the meaning)
CLASS_REASONS = {
    1: "Trying",
    2: "OK",
    3: "Redirection",
    4: "Client Error",
    5: "Server Error",
    6: "Global Failure",
}


def reason_for(status: int) -> str:
    """The reason phrase we write for `status`: never empty (some stacks, baresip among them,
    refuse a status line without one, though §25.1 allows it)."""
    return REASONS.get(status) or CLASS_REASONS.get(status // 100, "Unknown")


class SipError(ValueError):
    """Base of the SIP layer's own errors."""


class SipParseError(SipError):
    """The bytes (or a header value) are not SIP that voxcast accepts."""


class SipBuildError(SipError):
    """We were asked to write something unsafe (CR/LF/NUL in a header: header injection)."""


def digits(text: str) -> bool:
    """ASCII digits only: `str.isdigit` also accepts '²' and '٣', which `int()` refuses."""
    return text.isascii() and text.isdigit()


@functools.lru_cache(maxsize=512)
def canonical(name: str) -> str:
    """The full, conventionally cased header name ("v" → "Via", "call-id" → "Call-ID").
    Cached: every header of every message goes through here, and a message names the same
    dozen headers (the bound keeps a peer's invented names from growing it)."""
    lowered = name.strip().lower()
    if lowered in COMPACT:
        return COMPACT[lowered]
    return _CANONICAL.get(lowered) or "-".join(p.capitalize() for p in lowered.split("-"))


def split_values(value: str) -> list[str]:
    """Split a header value on commas that are outside quotes and <...>."""
    if '"' not in value and "<" not in value:
        # nothing that could hide a comma (a Via, an Allow): every comma separates
        return [v for v in (part.strip() for part in value.split(",")) if v]
    out: list[str] = []
    depth = 0
    quoted = False
    start = 0
    escaped_at = -1  # the character after a backslash inside quotes is not special
    for found in _SPECIAL.finditer(value):
        i = found.start()
        if i == escaped_at:
            continue
        ch = value[i]
        if quoted:
            if ch == "\\":
                escaped_at = i + 1
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
    out.append(value[start:].strip())
    return [v for v in out if v]


@dataclass
class Headers:
    """Ordered headers; names compare case-insensitively and compact forms are expanded.
    Names are stored in their canonical form, so a lookup compares them as they are."""

    items: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.items = [(canonical(n), v) for n, v in self.items]

    def add(self, name: str, value: str) -> None:
        self.items.append((canonical(name), value))

    def get(self, name: str, default: str | None = None) -> str | None:
        key = canonical(name)
        for n, v in self.items:
            if n == key:
                return v
        return default

    def get_all(self, name: str) -> list[str]:
        """Every value of a header, multi-value ones split into their entries."""
        key = canonical(name)
        multi = key.lower() in MULTI_VALUE
        values: list[str] = []
        for n, v in self.items:
            if n == key:
                values.extend(split_values(v) if multi else [v])
        return values

    def get_all_raw(self, name: str) -> Iterator[str]:
        """Each header line's value as it came, multi-value ones not split."""
        key = canonical(name)
        return (v for n, v in self.items if n == key)

    def set(self, name: str, value: str) -> None:
        """Replace every value of `name` by one, at the place of the first (or at the end)."""
        key = canonical(name)
        for i, (n, _) in enumerate(self.items):
            if n == key:
                self.items = [
                    *self.items[:i],
                    (key, value),
                    *((m, w) for m, w in self.items[i + 1 :] if m != key),
                ]
                return
        self.add(name, value)

    def replace_all(self, name: str, values: Iterable[str]) -> None:
        """Replace every value of a multi-value header, keeping its place."""
        key = canonical(name)
        at = next((i for i, (n, _) in enumerate(self.items) if n == key), None)
        kept = [(n, v) for n, v in self.items if n != key]
        new = [(key, v) for v in values]
        at = len(kept) if at is None else at
        self.items = [*kept[:at], *new, *kept[at:]]

    def remove(self, name: str) -> None:
        key = canonical(name)
        self.items = [(n, v) for n, v in self.items if n != key]

    def copy(self) -> Headers:
        copied = Headers()
        copied.items = list(self.items)  # already canonical
        return copied

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
    #: sent along the dialog's route set or to its remote target (`routing.next_hop`), not to
    #: the peer the call was placed with; set on the requests a `Dialog` builds
    in_dialog: bool = field(default=False, compare=False)

    @property
    def call_id(self) -> str:
        return self.headers.get("Call-ID") or ""

    @property
    def cseq(self) -> tuple[int, str]:
        return parse_cseq(self.headers.get("CSeq") or "")


@dataclass
class Response:
    status: int
    reason: str
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""

    @property
    def call_id(self) -> str:
        return self.headers.get("Call-ID") or ""

    @property
    def cseq(self) -> tuple[int, str]:
        return parse_cseq(self.headers.get("CSeq") or "")


Message = Request | Response


def parse(data: bytes) -> Message:
    """One SIP message from one datagram (or one message framed by `StreamFramer`)."""
    if len(data) > MAX_MESSAGE_BYTES:
        raise SipParseError(f"message of {len(data)} bytes is over {MAX_MESSAGE_BYTES}")
    # RFC 3261 §7.5: CRLFs before the start line are ignored (keep-alives on streams)
    data = data.lstrip(b"\r\n")
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
    flat = text.replace("\r\n", "\n")
    lines = flat.split("\n")
    start = lines[0]
    if _FORBIDDEN.search(start):
        raise SipParseError("a bare CR or NUL in the start line")
    message = _start_line(start)
    if "\n " in flat or "\n\t" in flat or "\x00" in flat or "\r" in flat:
        _headers_slow(message.headers, lines)
    else:
        # the common case: no folded line, no NUL or bare CR anywhere: each line is one header
        # and only its name needs checking (the same checks as the slow path, in its order)
        if len(lines) > MAX_HEADERS + 1 and sum(1 for line in lines[1:] if line) > MAX_HEADERS:
            raise SipParseError(f"more than {MAX_HEADERS} headers")
        items = message.headers.items
        for line in lines[1:]:
            if not line:
                continue
            name, colon, value = line.partition(":")
            key = _header_name(name) if colon else None
            if key is None:
                raise SipParseError(f"malformed header line {line[:40]!r}")
            items.append((key, value.strip()))
    message.body = _body(message.headers, body)
    first: dict[str, str] = {}
    for n, v in reversed(message.headers.items):
        first[n] = v  # the first value of each name, as `Headers.get` finds it
    for required in ("Call-ID", "CSeq", "From", "To", "Via"):
        if not first.get(required):
            raise SipParseError(f"missing {required}")
    _number, method = parse_cseq(first["CSeq"])
    if isinstance(message, Request) and method != message.method:
        raise SipParseError(f"CSeq method {method} does not match the request's")
    top_via(message)  # everything downstream relies on the top Via
    return message


def _headers_slow(headers: Headers, lines: list[str]) -> None:
    """Header lines that may be folded or hold a NUL or a bare CR: unfolded, then checked."""
    unfolded: list[list[str]] = []
    for line in lines[1:]:
        if not line:
            continue
        if line[0] in " \t":  # folded continuation of the previous header (§7.3.1)
            if not unfolded:
                raise SipParseError("continuation line before any header")
            unfolded[-1].append(line.strip())
        else:
            unfolded.append([line])
            if len(unfolded) > MAX_HEADERS:
                raise SipParseError(f"more than {MAX_HEADERS} headers")
    for parts in unfolded:
        line = " ".join(p for p in parts if p)
        name, colon, value = line.partition(":")
        if not colon or not _TOKEN.match(name.strip()):
            raise SipParseError(f"malformed header line {line[:40]!r}")
        if "\x00" in value or "\r" in value:
            raise SipParseError("NUL or a bare CR in a header value")
        headers.add(name.strip(), value.strip())


@functools.lru_cache(maxsize=512)
def _header_name(name: str) -> str | None:
    """A header line's name as `canonical` gives it, or None when it is not a token. Cached
    (the bound as for `canonical`): a message names the same dozen headers."""
    stripped = name.strip()
    return canonical(stripped) if _TOKEN.match(stripped) else None


def _start_line(line: str) -> Message:
    if line.startswith("SIP/"):
        m = _STATUS_LINE.match(line)
        if not m:
            raise SipParseError(f"malformed status line {line[:40]!r}")
        return Response(int(m.group(1)), m.group(2) or "")
    parts = line.split(" ")
    if len(parts) != 3 or parts[2] != SIP_VERSION or not _TOKEN.match(parts[0]):
        raise SipParseError(f"malformed request line {line[:40]!r}")
    if ":" not in parts[1] or not parts[1].isprintable():
        raise SipParseError("request URI has no scheme")
    return Request(parts[0].upper(), parts[1])


def _body(headers: Headers, body: bytes) -> bytes:
    values = {v.strip() for n, v in headers if n == "Content-Length"}
    if not values:
        return body
    if len(values) > 1:
        raise SipParseError("conflicting Content-Length headers")
    declared = values.pop()
    if not digits(declared) or len(declared) > 6:
        raise SipParseError("Content-Length is not a number")
    length = int(declared)
    if length > len(body):
        raise SipParseError(f"Content-Length {length} but {len(body)} bytes of body")
    # RFC 3261 §18.3: bytes past Content-Length in a datagram are discarded
    return body[:length]


@functools.lru_cache(maxsize=1024)
def parse_cseq(value: str) -> tuple[int, str]:
    """CSeq's number and method. Cached: read three times per message (parse, transaction
    key, user agent), and calls repeat the same few values ("1 INVITE", "2 BYE")."""
    parts = value.split()
    if len(parts) != 2 or not digits(parts[0]) or not _TOKEN.match(parts[1]):
        raise SipParseError(f"malformed CSeq {value[:40]!r}")
    if len(parts[0]) > 10 or int(parts[0]) >= 2**31:
        raise SipParseError("CSeq number out of range")
    return int(parts[0]), parts[1].upper()


def serialize(message: Message) -> bytes:
    """Bytes to send; Content-Length is always written from the body."""
    if isinstance(message, Request):
        start = f"{message.method} {message.uri} {SIP_VERSION}"
    else:
        if not 100 <= message.status <= 699:
            raise SipBuildError(f"status code {message.status} is not a SIP status")
        start = f"{SIP_VERSION} {message.status} {message.reason or reason_for(message.status)}"
    lines = [start]
    lines += [f"{n}: {v}" for n, v in message.headers.items if n != "Content-Length"]
    # one search over every line at once (": " adds nothing it looks for); the culprit named
    # only when there is one
    if _FORBIDDEN.search("".join(lines)):
        _check(start)
        for name, value in message.headers.items:
            if name != "Content-Length":
                _check(name)
                _check(value)
    lines.append(f"Content-Length: {len(message.body)}\r\n\r\n")
    return "\r\n".join(lines).encode("utf-8") + message.body


def _check(text: str) -> None:
    if _FORBIDDEN.search(text):
        raise SipBuildError(f"CR, LF or NUL in {text[:40]!r}: refusing to write it")


class StreamFramer:
    """Cuts a TCP byte stream into messages (§18.3): the headers end at the blank line and
    Content-Length, mandatory on streams, says where the body ends. Keep-alive CRLFs between
    messages are skipped. A malformed or oversized frame raises `SipParseError`; the caller
    then closes the connection, as the stream can no longer be trusted."""

    def __init__(self, max_message: int = MAX_MESSAGE_BYTES) -> None:
        self._buffer = bytearray()
        self._max = max_message

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        frames: list[bytes] = []
        while True:
            while self._buffer[:2] == b"\r\n":
                del self._buffer[:2]
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > self._max:
                    raise SipParseError("headers longer than the message cap")
                return frames
            head = bytes(self._buffer[:end])
            length = _stream_length(head)
            total = end + 4 + length
            if total > self._max:
                raise SipParseError(f"a message of {total} bytes is over the cap")
            if len(self._buffer) < total:
                return frames
            frames.append(bytes(self._buffer[:total]))
            del self._buffer[:total]


def _stream_length(head: bytes) -> int:
    for raw in head.split(b"\r\n")[1:]:
        name, colon, value = raw.partition(b":")
        if colon and name.strip().lower() in (b"content-length", b"l"):
            text = value.strip().decode("ascii", "replace")
            if not digits(text) or len(text) > 6:
                raise SipParseError("Content-Length is not a number")
            return int(text)
    raise SipParseError("a message on a stream must carry Content-Length")


# -- ids ----------------------------------------------------------------------------------------


def new_branch() -> str:
    """A fresh RFC 3261 branch (the magic cookie, then 64 random bits)."""
    return f"{MAGIC_COOKIE}-{secrets.token_hex(8)}"


def new_tag() -> str:
    return secrets.token_hex(6)


def new_call_id(host: str) -> str:
    return f"{secrets.token_hex(12)}@{host}"


# -- header values ------------------------------------------------------------------------------


def _format_params(params: Mapping[str, str | None]) -> str:
    return "".join(f";{k}" if v is None else f";{k}={v}" for k, v in params.items())


@dataclass(frozen=True)
class Via:
    transport: str
    host: str
    port: int | None
    params: Mapping[str, str | None]

    @property
    def branch(self) -> str | None:
        return self.params.get("branch")

    @property
    def sent_by(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port is None else f"{host}:{self.port}"

    def __str__(self) -> str:
        return f"SIP/2.0/{self.transport} {self.sent_by}{_format_params(self.params)}"


def parse_via(value: str) -> Via:
    """One Via entry. Cached: a transaction's Via is read when we send its request and again
    from each response echoing it (the result is immutable, its params a read-only view)."""
    return _parse_via(value)


@functools.lru_cache(maxsize=4096)
def _parse_via(value: str) -> Via:
    proto, _, rest = value.strip().partition(" ")
    bits = proto.split("/")
    if len(bits) != 3 or bits[0].upper() != "SIP" or not bits[2]:
        raise SipParseError(f"malformed Via {value[:40]!r}")
    sent_by, params = _params(rest)
    host, port = _host_port(sent_by)
    return Via(bits[2].upper(), host, port, MappingProxyType(params))


def top_via(message: Message) -> Via:
    # the first entry of the first Via that has one: the rest need not be split
    for name, value in message.headers.items:
        if name == "Via":
            via = _first_via(value)
            if via is not None:
                return via
    raise SipParseError("no Via")


@functools.lru_cache(maxsize=4096)
def _first_via(value: str) -> Via | None:
    """The first entry of one Via header line (None when it has none). Cached by the line:
    a transaction's top Via is read from its request and each response, about eight times a
    call, and the result is immutable."""
    entries = split_values(value)
    return parse_via(entries[0]) if entries else None


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
        shown = ""
        if self.display:
            escaped = self.display.replace("\\", "\\\\").replace('"', '\\"')
            shown = f'"{escaped}" '
        return f"{shown}<{self.uri}>{_format_params(self.params)}"


def parse_name_addr(value: str) -> NameAddr:
    text = value.strip()
    display: str | None = None
    if text.startswith('"'):
        # a quoted display name may hold '<', ',' or escaped quotes
        i, chars = 1, []
        while i < len(text) and text[i] != '"':
            if text[i] == "\\" and i + 1 < len(text):
                i += 1
            chars.append(text[i])
            i += 1
        if i >= len(text):
            raise SipParseError(f"unclosed quote in {value[:40]!r}")
        display = "".join(chars) or None
        text = text[i + 1 :].strip()
        if not text.startswith("<"):
            raise SipParseError(f"a display name without <uri> in {value[:40]!r}")
    if "<" in text:
        before, _, after = text.partition("<")
        uri, close, rest = after.partition(">")
        if not close:
            raise SipParseError(f"unclosed <...> in {value[:40]!r}")
        display = display or before.strip() or None
        extra, params = _params(rest)
        if extra:
            raise SipParseError(f"text after <uri> in {value[:40]!r}")
    else:
        # addr-spec form: parameters after the URI belong to the header (§20.10)
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
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = f":{self.port}" if self.port else ""
        return f"{self.scheme}:{user}{host}{port}{_format_params(self.params)}"


def parse_uri(value: str) -> SipUri:
    """`sip:user@host:port;params` (user parameters such as `;npdi` stay in the user part)."""
    scheme, colon, rest = value.strip().partition(":")
    if not colon or scheme.lower() not in ("sip", "sips", "tel"):
        raise SipParseError(f"unsupported URI {value[:40]!r}")
    rest = rest.split("?", 1)[0]
    user: str | None = None
    if "@" in rest:
        user, _, rest = rest.rpartition("@")
        if not user:
            raise SipParseError("empty user part")
    core, params = _params(rest)
    if scheme.lower() == "tel":
        if not core:
            raise SipParseError("empty tel number")
        return SipUri("tel", None, core, None, params)
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
        host, close, rest = text[1:].partition("]")
        if not close or (rest and not rest.startswith(":")):
            raise SipParseError(f"malformed IPv6 reference {text[:40]!r}")
        port_text = rest[1:]
    else:
        host, _, port_text = text.partition(":")
    if not host or not host.isprintable() or " " in host:
        raise SipParseError("empty or malformed host")
    if port_text or text.endswith(":"):
        if not digits(port_text) or len(port_text) > 5 or not 0 < int(port_text) < 65536:
            raise SipParseError(f"bad port {port_text[:10]!r}")
        return host, int(port_text)
    return host, None


def response_to(
    request: Request,
    status: int,
    reason: str | None = None,
    *,
    to_tag: str | None = None,
    body: bytes = b"",
    content_type: str | None = None,
) -> Response:
    """A response to `request` (§8.2.6): its Vias, From, Call-ID and CSeq; its To with our tag
    added when it has none (every response but 100 that is not in a dialog needs one)."""
    h = Headers()
    for via in request.headers.get_all("Via"):
        h.add("Via", via)
    h.add("From", request.headers.get("From") or "")
    to = request.headers.get("To") or ""
    if status > 100 and to_tag:
        try:
            has_tag = parse_name_addr(to).tag is not None
        except SipParseError:
            has_tag = True  # leave a To we cannot read as it is
        if not has_tag:
            to = f"{to};tag={to_tag}"
    h.add("To", to)
    h.add("Call-ID", request.call_id)
    h.add("CSeq", request.headers.get("CSeq") or "")
    if body:
        h.add("Content-Type", content_type or "application/sdp")
    return Response(status, reason or reason_for(status), h, body)
