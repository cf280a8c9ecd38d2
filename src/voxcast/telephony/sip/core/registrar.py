"""voxcast's registrar for agents' softphones (RFC 3261 §10.3) as pure logic: a REGISTER and
the agent's password in, the response and the binding out. Nonces are stateless (a timestamp
signed with a server key), so any process can check any nonce. A REGISTER that crossed a proxy
carries that proxy's Path (RFC 3327): it is kept with the binding, for requests to the agent to
go back the same way."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from voxcast.telephony.sip.core import digest
from voxcast.telephony.sip.core.message import (
    Request,
    Response,
    SipError,
    parse_name_addr,
    parse_uri,
    response_to,
)

NONCE_LIFETIME_S = 300
MIN_EXPIRES = 60
MAX_EXPIRES = 3600
DEFAULT_EXPIRES = 3600


@dataclass(frozen=True)
class Binding:
    """Where an agent can be reached now: its Contact as given, and the address its REGISTER
    came from (what voxcast sends INVITEs to: it crosses the agent's NAT). `path`: the Path
    header values of a REGISTER relayed by proxies (RFC 3327), the first the one nearest us;
    requests to the agent carry them as a preloaded Route set. `expires` 0 means the agent
    unregistered."""

    username: str
    contact: str
    source: tuple[str, int]
    expires: int
    path: tuple[str, ...] = ()

    @property
    def target(self) -> str:
        """A request URI that reaches the agent: its Contact when a proxy's Path leads there
        (the proxy knows the agent's NAT binding), else the address it registered from."""
        if self.path:
            return self.contact
        host, port = self.source
        shown = f"[{host}]" if ":" in host else host
        return f"sip:{self.username}@{shown}:{port}"


class Registrar:
    def __init__(self, realm: str, key: bytes) -> None:
        self.realm = realm
        self._key = key

    def username_of(self, request: Request) -> str | None:
        """The agent a REGISTER is for: the user part of its To URI."""
        try:
            user = parse_uri(parse_name_addr(request.headers.get("To") or "").uri).user
        except SipError:
            return None
        return user or None

    # -- nonces ---------------------------------------------------------------------------
    def _nonce(self, now: float) -> str:
        stamp = str(int(now))
        mac = hmac.new(self._key, stamp.encode(), hashlib.sha256).hexdigest()[:24]
        return f"{stamp}.{mac}"

    def _nonce_state(self, nonce: str, now: float) -> str:
        """ "fresh", "stale" (ours but too old: the client retries without asking the user)
        or "bad"."""
        stamp, _, mac = nonce.partition(".")
        expected = hmac.new(self._key, stamp.encode(), hashlib.sha256).hexdigest()[:24]
        if not stamp.isdigit() or not hmac.compare_digest(mac, expected):
            return "bad"
        return "fresh" if 0 <= now - int(stamp) <= NONCE_LIFETIME_S else "stale"

    def challenge(self, request: Request, now: float, *, stale: bool = False) -> Response:
        response = response_to(request, 401, to_tag=self._tag(request))
        value = (
            f'Digest realm="{self.realm}", nonce="{self._nonce(now)}", algorithm=MD5, qop="auth"'
        )
        if stale:
            value += ", stale=true"
        response.headers.add("WWW-Authenticate", value)
        return response

    def _tag(self, request: Request) -> str:
        return hashlib.sha256(request.call_id.encode()).hexdigest()[:10]

    # -- the request ----------------------------------------------------------------------
    def handle(
        self, request: Request, source: tuple[str, int], password: str | None, now: float
    ) -> tuple[Response, Binding | None]:
        """Answer a REGISTER for an agent whose password is `password` (None: no such
        agent). A binding is returned only for an authenticated request."""
        username = self.username_of(request)
        if username is None or password is None:
            return response_to(request, 404, to_tag=self._tag(request)), None
        header = request.headers.get("Authorization")
        params = digest.parse_authorization(header) if header else None
        if params is None:
            return self.challenge(request, now), None
        state = self._nonce_state(params.get("nonce", ""), now)
        if state == "bad":
            return self.challenge(request, now), None
        if params.get("username") != username or not digest.verify(
            params, method="REGISTER", password=password, realm=self.realm
        ):
            return response_to(request, 403, to_tag=self._tag(request)), None
        if state == "stale":
            return self.challenge(request, now, stale=True), None
        return self._bind(request, username, source)

    def _bind(
        self, request: Request, username: str, source: tuple[str, int]
    ) -> tuple[Response, Binding | None]:
        contacts = request.headers.get_all("Contact")
        expires_header = request.headers.get("Expires")
        if not contacts:  # a query of the bindings: we keep one, and say nothing more
            return response_to(request, 200, to_tag=self._tag(request)), None
        if contacts == ["*"]:
            if expires_header != "0":
                return response_to(request, 400, to_tag=self._tag(request)), None
            ok = response_to(request, 200, to_tag=self._tag(request))
            return ok, Binding(username, "*", source, 0)
        try:
            contact = parse_name_addr(contacts[-1])
        except SipError:
            return response_to(request, 400, to_tag=self._tag(request)), None
        raw = contact.params.get("expires") or expires_header
        try:
            expires = DEFAULT_EXPIRES if raw is None else int(raw)
        except ValueError:
            return response_to(request, 400, to_tag=self._tag(request)), None
        if 0 < expires < MIN_EXPIRES:
            brief = response_to(request, 423, to_tag=self._tag(request))
            brief.headers.add("Min-Expires", str(MIN_EXPIRES))
            return brief, None
        expires = min(max(expires, 0), MAX_EXPIRES)
        ok = response_to(request, 200, to_tag=self._tag(request))
        if expires:
            ok.headers.add("Contact", f"<{contact.uri}>;expires={expires}")
        path = path_of(request)
        if path and supports_path(request):
            # §5.3: the Path stored is echoed to a UA that said it understands it
            for value in path:
                ok.headers.add("Path", value)
            ok.headers.add("Supported", "path")
        return ok, Binding(username, contact.uri, source, expires, path)


def path_of(request: Request) -> tuple[str, ...]:
    """The REGISTER's Path header values in order, the proxy nearest us first."""
    return tuple(v for v in request.headers.get_all("Path") if v)


def supports_path(request: Request) -> bool:
    return "path" in (t.lower() for t in request.headers.get_all("Supported"))
