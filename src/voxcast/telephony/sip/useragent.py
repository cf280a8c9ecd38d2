"""One outbound call as a sans-IO state machine: the user agent client of RFC 3261 tied to its
transactions, dialog and digest answers. Feed it messages and clock ticks; it returns what to
send and what happened. The transport (sockets) and the SIP carrier (Carrier port) wrap it.

    call = OutboundCall(...); out = call.start(now)
    out += call.receive(message, now)      # every message the transport matched to this call
    out += call.tick(now)                  # whenever call.deadline passes
    out += call.hangup(now)                # CANCEL while ringing, BYE once answered

`out` holds `Send(message)` and call events: `Ringing`, `EarlyMedia`, `Answered` (with the
far end's media), `DtmfInfo` and, exactly once, `Ended(code, by, reason)`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from voxcast.telephony.sip import digest
from voxcast.telephony.sip.dialog import Dialog, Local, cancel_for, new_invite
from voxcast.telephony.sip.message import (
    Headers,
    Message,
    Request,
    Response,
    SipParseError,
    parse_cseq,
)
from voxcast.telephony.sip.sdp import Answer, parse_answer
from voxcast.telephony.sip.transaction import (
    ClientInviteTransaction,
    ClientNonInviteTransaction,
    Deliver,
    Send,
    TimedOut,
    key_of,
)


@dataclass(frozen=True)
class Ringing:
    pass


@dataclass(frozen=True)
class EarlyMedia:
    media: Answer


@dataclass(frozen=True)
class Answered:
    media: Answer


@dataclass(frozen=True)
class DtmfInfo:
    digit: str


@dataclass(frozen=True)
class Ended:
    code: int
    by: str  # "callee" | "us" | "network"
    reason: str


Output = Send | Ringing | EarlyMedia | Answered | DtmfInfo | Ended


class Phase(Enum):
    INVITING = "inviting"
    RINGING = "ringing"
    CANCELLING = "cancelling"
    ANSWERED = "answered"
    HANGING_UP = "hanging-up"
    ENDED = "ended"


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str


class OutboundCall:
    """See the module docstring. `new_branch` and `new_cnonce` make ids (tests pass fixed ones)."""

    def __init__(
        self,
        *,
        local: Local,
        target_uri: str,
        from_uri: str,
        call_id: str,
        from_tag: str,
        sdp_offer: bytes,
        new_branch: Callable[[], str],
        new_cnonce: Callable[[], str] = lambda: "0a4f113b",
        credentials: Credentials | None = None,
        route: tuple[str, ...] = (),
    ) -> None:
        self.local = local
        self.sdp_offer = sdp_offer
        self._new_branch = new_branch
        self._new_cnonce = new_cnonce
        self.credentials = credentials
        self.phase = Phase.INVITING
        self.invite = new_invite(
            local=local,
            target_uri=target_uri,
            from_uri=from_uri,
            from_tag=from_tag,
            call_id=call_id,
            branch=new_branch(),
            sdp=sdp_offer,
            route=route,
        )
        self._invite_tx: ClientInviteTransaction | None = None
        self._invite_txs: dict[tuple[str, str], ClientInviteTransaction] = {}
        self._other_tx: dict[tuple[str, str], ClientNonInviteTransaction] = {}
        self.dialog: Dialog | None = None
        self._ack: Request | None = None
        self._authenticated = False
        self._provisional = False
        self._cancel_wanted = False
        self._rang = False
        self._answered_code = 0
        self._answered_media: Answer | None = None
        self._served: dict[tuple[str, str], Response] = {}

    @property
    def call_id(self) -> str:
        return self.invite.call_id

    @property
    def deadline(self) -> float | None:
        times = [tx.deadline for tx in self._transactions() if tx.deadline is not None]
        return min(times) if times else None

    def _transactions(self) -> list[ClientInviteTransaction | ClientNonInviteTransaction]:
        txs: list[ClientInviteTransaction | ClientNonInviteTransaction] = []
        txs.extend(self._invite_txs.values())
        txs.extend(self._other_tx.values())
        return txs

    # -- inputs ---------------------------------------------------------------------------

    def start(self, now: float) -> list[Output]:
        return self._send_invite(now)

    def _send_invite(self, now: float) -> list[Output]:
        self._invite_tx = ClientInviteTransaction(self.invite, now)
        self._invite_txs[key_of(self.invite)] = self._invite_tx
        return list(self._invite_tx.start())

    def tick(self, now: float) -> list[Output]:
        out: list[Output] = []
        for invite_tx in self._invite_txs.values():
            if invite_tx is self._invite_tx:
                out += self._from_invite(invite_tx.tick(now), now)
            else:
                invite_tx.tick(now)  # an earlier INVITE only winds down (Timer D)
        for key, other_tx in list(self._other_tx.items()):
            out += self._from_other(key, other_tx.tick(now), now)
        return out

    def hangup(self, now: float) -> list[Output]:
        """End the call from our side: CANCEL while it rings, BYE once answered."""
        if self.phase in (Phase.INVITING, Phase.RINGING):
            self.phase = Phase.CANCELLING
            if self._provisional:
                return self._send_cancel(now)
            self._cancel_wanted = True  # §9.1: CANCEL only once a provisional arrived
            return []
        if self.phase is Phase.ANSWERED:
            return self._send_bye(now, Ended(200, "us", "hung up by us"))
        return []

    def receive(self, message: Message, now: float) -> list[Output]:
        try:
            if isinstance(message, Response):
                return self._response(message, now)
            return self._request(message, now)
        except SipParseError:
            return []  # a malformed message inside the call is dropped, never fatal

    # -- responses ------------------------------------------------------------------------

    def _response(self, response: Response, now: float) -> list[Output]:
        key = key_of(response)
        if key[1] == "INVITE":
            if 200 <= response.status < 300 and self._ack is not None:
                return [Send(self._ack)]  # a retransmitted 2xx: our ACK was lost
            tx = self._invite_txs.get(key)
            if tx is None:
                return []
            if tx is self._invite_tx:
                return self._from_invite(tx.receive(response, now), now)
            # an earlier INVITE (before the authenticated retry): only re-ACK its finals
            return [a for a in tx.receive(response, now) if isinstance(a, Send)]
        other = self._other_tx.get(key)
        if other is None:
            return []
        return self._from_other(key, other.receive(response, now), now)

    def _from_invite(self, actions: list[Send | Deliver | TimedOut], now: float) -> list[Output]:
        out: list[Output] = []
        for action in actions:
            if isinstance(action, Send):
                out.append(action)
            elif isinstance(action, TimedOut):
                out += self._end(Ended(408, "network", "no response to INVITE"))
            else:
                out += self._invite_response(action.response, now)
        return out

    def _invite_response(self, response: Response, now: float) -> list[Output]:
        status = response.status
        if status < 200:
            self._provisional = True
            out: list[Output] = []
            if self._cancel_wanted:
                self._cancel_wanted = False
                out += self._send_cancel(now)
            if self.phase is Phase.INVITING:
                self.phase = Phase.RINGING
            if status in (180, 183) and not self._rang and self.phase is Phase.RINGING:
                self._rang = True
                out.append(Ringing())
            if status == 183 and response.body and self.phase is Phase.RINGING:
                with contextlib.suppress(SipParseError):  # early media is optional
                    out.append(EarlyMedia(parse_answer(response.body)))
            return out
        if status < 300:
            self.dialog = Dialog.from_2xx(self.invite, response, self.local)
            self._ack = self.dialog.ack(self._new_branch())
            out = [Send(self._ack)]
            if self.phase is Phase.CANCELLING:
                # our CANCEL crossed the 200: the call exists, so end it properly
                self.phase = Phase.ANSWERED
                return out + self._send_bye(now, Ended(487, "us", "cancelled"))
            try:
                media = parse_answer(response.body)
            except SipParseError:
                return out + self._send_bye(now, Ended(488, "network", "unusable SDP answer"))
            self.phase = Phase.ANSWERED
            self._answered_media = media
            return [*out, Answered(media)]
        if (
            status in (401, 407)
            and self.credentials is not None
            and not self._authenticated
            and self.phase is not Phase.CANCELLING
        ):
            return self._retry_with_credentials(response, now)
        if self.phase is Phase.CANCELLING:
            return self._end(Ended(487 if status == 487 else status, "us", "cancelled"))
        by = "callee" if status in (486, 600, 603, 480) else "network"
        return self._end(Ended(status, by, response.reason or "failed"))

    def _retry_with_credentials(self, challenge_response: Response, now: float) -> list[Output]:
        assert self.credentials is not None
        header = "WWW-Authenticate" if challenge_response.status == 401 else "Proxy-Authenticate"
        reply = "Authorization" if challenge_response.status == 401 else "Proxy-Authorization"
        try:
            challenge = digest.parse_challenge(challenge_response.headers.get(header) or "")
        except SipParseError:
            return self._end(Ended(challenge_response.status, "network", "bad challenge"))
        self._authenticated = True
        number, _ = parse_cseq(self.invite.headers.get("CSeq") or "")
        h = Headers(list(self.invite.headers.items))
        h.set("Via", self.local.via(self._new_branch()))
        h.set("CSeq", f"{number + 1} INVITE")
        h.set(
            reply,
            digest.authorization(
                challenge,
                method="INVITE",
                uri=self.invite.uri,
                username=self.credentials.username,
                password=self.credentials.password,
                cnonce=self._new_cnonce(),
            ),
        )
        self.invite = Request("INVITE", self.invite.uri, h, self.invite.body)
        self._provisional = False
        return self._send_invite(now)

    def _from_other(
        self, key: tuple[str, str], actions: list[Send | Deliver | TimedOut], now: float
    ) -> list[Output]:
        out: list[Output] = []
        for action in actions:
            if isinstance(action, Send):
                out.append(action)
            elif (
                key[1] == "BYE"
                and self.phase is Phase.HANGING_UP
                and (isinstance(action, TimedOut) or action.response.status >= 200)
            ):
                out += self._end(self._pending_end)
        return out

    def _send_cancel(self, now: float) -> list[Output]:
        cancel = cancel_for(self.invite)
        tx = ClientNonInviteTransaction(cancel, now)
        self._other_tx[key_of(cancel)] = tx
        return list(tx.start())

    def _send_bye(self, now: float, ended: Ended) -> list[Output]:
        assert self.dialog is not None
        bye = self.dialog.request("BYE", self._new_branch())
        tx = ClientNonInviteTransaction(bye, now)
        self._other_tx[key_of(bye)] = tx
        self.phase = Phase.HANGING_UP
        self._pending_end = ended
        return list(tx.start())

    # -- requests from the far end ------------------------------------------------------------

    def _request(self, request: Request, now: float) -> list[Output]:
        if request.method == "ACK":
            return []
        key = key_of(request)
        if key in self._served:
            return [Send(self._served[key])]  # a retransmission: the same answer again
        if self.dialog is None or not self.dialog.matches(request):
            return [self._answer(request, 481, "Call/Transaction Does Not Exist")]
        if request.method == "BYE":
            out: list[Output] = [self._answer(request, 200, "OK")]
            code = 200 if self._answered_media is not None else 487
            return out + self._end(Ended(code, "callee", "callee hung up"))
        if request.method == "INFO":
            out = [self._answer(request, 200, "OK")]
            digit = _dtmf_relay(request.body)
            if digit is not None and self.phase is Phase.ANSWERED:
                out.append(DtmfInfo(digit))
            return out
        if request.method == "OPTIONS":
            return [self._answer(request, 200, "OK")]
        if request.method == "INVITE":
            # a re-INVITE (hold, codec change): keep our media as it is and say so
            return [self._answer(request, 200, "OK", self.sdp_offer)]
        return [self._answer(request, 501, "Not Implemented")]

    def _answer(self, request: Request, status: int, reason: str, body: bytes = b"") -> Send:
        h = Headers()
        for via in request.headers.get_all("Via"):
            h.add("Via", via)
        for name in ("From", "To", "Call-ID", "CSeq"):
            h.add(name, request.headers.get(name) or "")
        if body:
            h.add("Contact", self.local.contact("voxcast"))
            h.add("Content-Type", "application/sdp")
        response = Response(status, reason, h, body)
        self._served[key_of(request)] = response
        return Send(response)

    def _end(self, ended: Ended) -> list[Output]:
        if self.phase is Phase.ENDED:
            return []
        self.phase = Phase.ENDED
        return [ended]

    _pending_end: Ended = Ended(200, "us", "hung up by us")


def _dtmf_relay(body: bytes) -> str | None:
    """`Signal=1` of an application/dtmf-relay INFO body."""
    for line in body.decode("utf-8", "replace").splitlines():
        name, _, value = line.partition("=")
        if name.strip().lower() == "signal" and value.strip():
            return value.strip()[:1]
    return None
