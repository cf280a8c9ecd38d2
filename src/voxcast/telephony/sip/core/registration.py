"""Registering with a trunk (RFC 3261 §10) as a sans-IO state machine: REGISTER, one digest
retry per challenge, refresh before the binding expires, retry after a failure, and
un-REGISTER (Expires: 0) on close. Driven like `OutboundCall` by the same transport."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from voxcast.telephony.sip.core.dialog import Local
from voxcast.telephony.sip.core.digest import Authenticator, Credentials
from voxcast.telephony.sip.core.message import (
    Headers,
    Message,
    Request,
    Response,
    SipError,
    new_branch,
    parse_name_addr,
)
from voxcast.telephony.sip.core.transaction import (
    ClientNonInviteTransaction,
    Deliver,
    Send,
    TimedOut,
    client_key,
)

#: a failed registration is tried again this long after
RETRY_SECONDS = 30.0
#: refresh this long before the binding expires (at most half of it)
REFRESH_MARGIN_S = 30.0


@dataclass(frozen=True)
class Registered:
    expires: int


@dataclass(frozen=True)
class RegistrationFailed:
    code: int
    reason: str


Output = Send | Registered | RegistrationFailed


class Registration:
    """Keeps one binding of `aor` (sip:user@domain) to our Contact at `registrar_uri`."""

    def __init__(
        self,
        *,
        local: Local,
        registrar_uri: str,
        aor: str,
        credentials: Credentials,
        expires: int = 3600,
        call_id: str | None = None,
        new_branch: Callable[[], str] = new_branch,
    ) -> None:
        self.local = local
        self.registrar_uri = registrar_uri
        self.aor = aor
        self.credentials = credentials
        self.expires = expires
        self._call_id = call_id or f"{secrets.token_hex(12)}@voxcast"
        self._from_tag = secrets.token_hex(6)
        self._new_branch = new_branch
        self._cseq = 0
        self._tx: ClientNonInviteTransaction | None = None
        self._auth = Authenticator(credentials, lambda: secrets.token_hex(8))
        self._next_at: float | None = None
        self._closing = False
        self.registered_until: float | None = None
        self.last_code: int | None = None
        #: why the last attempt failed (code, reason) until one succeeds again (for /readyz)
        self.last_failure: tuple[int, str] | None = None

    @property
    def call_id(self) -> str:
        return self._call_id

    @property
    def deadline(self) -> float | None:
        times = [self._next_at, self._tx.deadline if self._tx else None]
        present = [t for t in times if t is not None]
        return min(present) if present else None

    @property
    def finished(self) -> bool:
        return self._closing and self._tx is None

    def _request(self, expires: int) -> Request:
        self._cseq += 1
        h = Headers()
        h.add("Via", self.local.via(self._new_branch()))
        h.add("Max-Forwards", "70")
        h.add("From", f"<{self.aor}>;tag={self._from_tag}")
        h.add("To", f"<{self.aor}>")
        h.add("Call-ID", self._call_id)
        h.add("CSeq", f"{self._cseq} REGISTER")
        h.add("Contact", self.local.contact(self.credentials.username))
        h.add("Expires", str(expires))
        h.add("User-Agent", "voxcast")
        return Request("REGISTER", self.registrar_uri, h)

    def _send(self, request: Request, now: float) -> list[Output]:
        self._tx = ClientNonInviteTransaction(request, now, reliable=self.local.reliable)
        return [a for a in self._tx.start() if isinstance(a, Send)]

    def start(self, now: float) -> list[Output]:
        self._auth = Authenticator(self.credentials, lambda: secrets.token_hex(8))
        self._next_at = None
        return self._send(self._request(0 if self._closing else self.expires), now)

    def hangup(self, now: float, reason: str = "closing") -> list[Output]:
        """Remove the binding (Expires: 0); the registration is finished once answered."""
        self._closing = True
        if self.registered_until is None:
            self._next_at = None
            return []
        self.registered_until = None
        return self.start(now)

    def tick(self, now: float) -> list[Output]:
        out: list[Output] = []
        if self._tx is not None and self._tx.deadline is not None and now >= self._tx.deadline:
            out += self._actions(self._tx.tick(now), now)
        if self._next_at is not None and now >= self._next_at and self._tx is None:
            out += self.start(now)
        return out

    def unreachable(self, now: float) -> list[Output]:
        """A transport error towards the registrar: this attempt failed (retried later)."""
        if self._tx is None:
            return []
        return self._failed(503, "registrar unreachable", now)

    def receive(self, message: Message, now: float) -> list[Output]:
        if not isinstance(message, Response) or self._tx is None:
            return []
        if client_key(message) != client_key(self._tx.request):
            return []  # an answer to an earlier REGISTER
        return self._actions(self._tx.receive(message, now), now)

    def _actions(self, actions: Sequence[object], now: float) -> list[Output]:
        out: list[Output] = []
        for action in actions:
            if isinstance(action, Send):
                out.append(action)
            elif isinstance(action, Deliver):
                out += self._final(action.response, now)
            elif isinstance(action, TimedOut):
                out += self._failed(408, "no answer from the registrar", now)
        return out

    def _final(self, response: Response, now: float) -> list[Output]:
        if response.status < 200:
            return []
        assert self._tx is not None
        request = self._tx.request
        self._tx = None
        self.last_code = response.status
        if response.status in (401, 407):
            retry = self._request(0 if self._closing else self.expires)
            headers = self._auth.answer(retry, response)
            if headers is not None:
                for name, value in headers:
                    retry.headers.add(name, value)
                return self._send(retry, now)
            return self._failed(response.status, "registrar refused our credentials", now)
        if response.status >= 300:
            return self._failed(response.status, response.reason or "refused", now)
        if self._closing:
            return []
        granted = self._granted(response, request)
        self.registered_until = now + granted
        self.last_failure = None
        self._next_at = now + max(1.0, granted - min(REFRESH_MARGIN_S, granted / 2))
        return [Registered(granted)]

    def _granted(self, response: Response, request: Request) -> int:
        """The registrar's expiry for our binding: our Contact's expires parameter, else the
        Expires header, else what we asked for."""
        ours = parse_name_addr(request.headers.get("Contact") or "").uri
        for value in response.headers.get_all("Contact"):
            with contextlib.suppress(SipError, ValueError):
                contact = parse_name_addr(value)
                if contact.uri == ours and contact.params.get("expires"):
                    return int(contact.params["expires"] or self.expires)
        with contextlib.suppress(ValueError):
            return int(response.headers.get("Expires") or self.expires)
        return self.expires

    def _failed(self, code: int, reason: str, now: float) -> list[Output]:
        self._tx = None
        self.registered_until = None
        if self._closing:
            return []
        self.last_failure = (code, reason)
        self._next_at = now + RETRY_SECONDS
        return [RegistrationFailed(code, reason)]
