"""One inbound call as a sans-IO state machine: the user agent server of RFC 3261 for an INVITE
we received (a caller dialling one of our numbers). Like `useragent.OutboundCall` it never
touches a socket or a clock: feed it messages and times, it returns what to send and what
happened.

Driving it (what `voxcast.telephony.callin` does on the registrar's endpoint):

    call = InboundCall(invite=request, local=Local(host, port), local_tag=new_tag())
    out = call.start(now)                  # 100 Trying at once (488 for an unusable offer)
    out += call.ring(now)                  # 180 Ringing while we look the number up
    out += call.answer(now, rtp_host, rtp_port, session_id)    # 200 with our SDP answer
    out += call.reject(now, 404)           # ...or a final failure (404, 480, 486...)
    out += call.receive(message, now)      # ACK, CANCEL, BYE, retransmitted INVITE...
    out += call.tick(now)                  # whenever `call.deadline` has passed
    out += call.hangup(now)                # BYE once answered (480 before)

Events (the `useragent` vocabulary): `Answered(media)` as our 200 goes out (media: the
caller's offer, where RTP goes), `MediaChanged` (a re-INVITE: hold, resume), `DtmfInfo`, and
`Ended(code, by, reason)` exactly once, last. In `Ended`, `HangupBy.CALLEE` means the far end,
here the caller: 200 when it hung up after the answer, 487 when it cancelled before; 200 with
`US` after our BYE; our final status with `US` when we refused; 408 with `NETWORK` when our
200 was never ACKed (Timer L: we then BYE).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum

from voxcast.ports import HangupBy
from voxcast.telephony.sip.dialog import ALLOW, Dialog, Local
from voxcast.telephony.sip.message import (
    Message,
    Request,
    Response,
    SipError,
    new_branch,
    parse_name_addr,
    parse_uri,
    response_to,
)
from voxcast.telephony.sip.sdp import PCMA, PCMU, Media, answer_to, parse_offer
from voxcast.telephony.sip.transaction import (
    Acked,
    Action,
    ClientNonInviteTransaction,
    Send,
    ServerInviteTransaction,
    ServerNonInviteTransaction,
    ServerTransaction,
    Terminated,
    TimedOut,
    client_key,
    server_key,
)
from voxcast.telephony.sip.useragent import (
    KNOWN_UNSUPPORTED,
    SERVED,
    Answered,
    DtmfInfo,
    Ended,
    Event,
    MediaChanged,
    _dtmf_info,
)

__all__ = ["Answered", "DtmfInfo", "Ended", "InboundCall", "MediaChanged", "Output", "Phase"]

Output = Send | Event


class Phase(Enum):
    OFFERED = "offered"  # the INVITE is in, 100 Trying sent
    RINGING = "ringing"  # 180 sent
    ANSWERED = "answered"  # our 200 is out (its ACK may still be on the way)
    HANGING_UP = "hanging-up"  # our BYE is out
    ENDED = "ended"


def dialed_number(invite: Request) -> str | None:
    """The number a caller dialled: the Request-URI's user part, else the To URI's (a proxy
    may have rewritten the Request-URI to our contact)."""
    for text in (invite.uri, _uri_of(invite.headers.get("To"))):
        if not text:
            continue
        try:
            user = parse_uri(text).user
        except SipError:
            continue
        if user:
            return user.split(";", 1)[0]
    return None


def _uri_of(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return parse_name_addr(value).uri
    except SipError:
        return None


class InboundCall:
    """See the module docstring. `local_tag` is our To tag for the whole call; `new_branch`
    makes the branches of our own requests (tests pass fixed ones)."""

    def __init__(
        self,
        *,
        invite: Request,
        local: Local,
        local_tag: str,
        new_branch: Callable[[], str] = new_branch,
        codecs: tuple[int, ...] = (PCMU, PCMA),
    ) -> None:
        self.invite = invite
        self.local = local
        self.local_tag = local_tag
        self.codecs = codecs
        self._new_branch = new_branch
        self.number = dialed_number(invite)
        self.phase = Phase.OFFERED
        self.dialog: Dialog | None = None
        self.media: Media | None = None
        try:
            self.offer: Media | None = parse_offer(invite.body, codecs) if invite.body else None
        except SipError:
            self.offer = None
        self._invite_key = server_key(invite)
        self._invite_tx: ServerInviteTransaction | None = None
        self._servers: dict[tuple[str, str, str], ServerTransaction] = {}
        self._bye: ClientNonInviteTransaction | None = None
        self._pending_end: Ended | None = None
        self._reported = False
        self._our_sdp: tuple[str, int, int, int] | None = None  # address, port, session, version

    # -- properties -----------------------------------------------------------------------

    @property
    def call_id(self) -> str:
        return self.invite.call_id

    @property
    def caller(self) -> str | None:
        """The caller's number (the From URI's user part), for records."""
        uri = _uri_of(self.invite.headers.get("From"))
        if uri is None:
            return None
        try:
            return parse_uri(uri).user or None
        except SipError:
            return None

    @property
    def deadline(self) -> float | None:
        times = [tx.deadline for tx in self._servers.values()]
        if self._bye is not None:
            times.append(self._bye.deadline)
        present = [t for t in times if t is not None]
        return min(present) if present else None

    @property
    def finished(self) -> bool:
        return self.phase is Phase.ENDED and self.deadline is None

    # -- inputs ---------------------------------------------------------------------------

    def start(self, now: float) -> list[Output]:
        """Take the INVITE: 100 Trying at once (it stops the caller's retransmissions while
        we look the number up), or 488 when its offer has no codec we speak."""
        tx = ServerInviteTransaction(self.invite, now, reliable=self.local.reliable)
        self._invite_tx = tx
        self._servers[self._invite_key] = tx
        if self.offer is None:
            return self._final(now, 488, "no usable SDP offer", HangupBy.NETWORK)
        return self._respond_invite(self._response(self.invite, 100), now)

    def ring(self, now: float) -> list[Output]:
        """180 Ringing (once): the caller hears its own ringback while we find an agent."""
        if self.phase is not Phase.OFFERED:
            return []
        self.phase = Phase.RINGING
        return self._respond_invite(self._response(self.invite, 180), now)

    def answer(self, now: float, address: str, port: int, session_id: int) -> list[Output]:
        """200 with our SDP answer (RTP to `address`:`port`); re-sent until the ACK."""
        if self.phase not in (Phase.OFFERED, Phase.RINGING) or self.offer is None:
            return []
        self._our_sdp = (address, port, session_id, 1)
        body = answer_to(self.offer, address, port, session_id, 1)
        self.dialog = Dialog.from_invite(self.invite, self.local_tag, self.local)
        self.phase = Phase.ANSWERED
        self.media = self.offer
        return [
            *self._respond_invite(self._response(self.invite, 200, body=body), now),
            Answered(self.offer),
        ]

    def reject(self, now: float, status: int, reason: str | None = None) -> list[Output]:
        """A final failure before the answer: 404 unknown number, 480 no agent, 486 busy..."""
        if self.phase not in (Phase.OFFERED, Phase.RINGING):
            return []
        return self._final(now, status, reason or "refused", HangupBy.US)

    def hangup(self, now: float, reason: str = "hung up by us") -> list[Output]:
        """End the call from our side: 480 before the answer, BYE after."""
        if self.phase in (Phase.OFFERED, Phase.RINGING):
            return self._final(now, 480, reason, HangupBy.US)
        if self.phase is Phase.ANSWERED:
            return self._send_bye(now, Ended(200, HangupBy.US, reason))
        return []

    def unreachable(self, now: float) -> list[Output]:
        """A transport error towards the caller: nothing more can reach it."""
        self._bye = None
        self._servers.clear()
        if self.phase is Phase.HANGING_UP:
            return self._end(self._pending_end or Ended(200, HangupBy.US, "hung up by us"))
        return self._end(Ended(503, HangupBy.NETWORK, "caller unreachable"))

    def tick(self, now: float) -> list[Output]:
        out: list[Output] = []
        for key, tx in list(self._servers.items()):
            if tx.deadline is not None and now >= tx.deadline:
                out += self._server_actions(key, tx, tx.tick(now), now)
        bye = self._bye
        if bye is not None and bye.deadline is not None and now >= bye.deadline:
            for action in bye.tick(now):
                if isinstance(action, Send):
                    out.append(action)
                elif isinstance(action, TimedOut):
                    out += self._end(self._pending_end or Ended(408, HangupBy.NETWORK, "BYE"))
                elif isinstance(action, Terminated):
                    self._bye = None
        return out

    def receive(self, message: Message, now: float) -> list[Output]:
        """A message the transport routed to this call (by Call-ID). Malformed ones are
        dropped."""
        try:
            if isinstance(message, Response):
                return self._response_in(message, now)
            return self._request_in(message, now)
        except SipError:
            return []

    # -- our responses --------------------------------------------------------------------

    def _response(
        self, request: Request, status: int, reason: str | None = None, *, body: bytes = b""
    ) -> Response:
        response = response_to(request, status, reason, to_tag=self.local_tag, body=body)
        if request.method == "INVITE" and 100 < status < 300:
            # §12.1.1: the dialog's route set is the INVITE's Record-Route, echoed
            for route in request.headers.get_all("Record-Route"):
                response.headers.add("Record-Route", route)
        if request.method in ("INVITE", "UPDATE") and 200 <= status < 300:
            response.headers.add("Contact", self.local.contact(self.number or "voxcast"))
            response.headers.add("Allow", ALLOW)
        if request.method == "OPTIONS" and status == 200:
            response.headers.add("Allow", ALLOW)
            response.headers.add("Accept", "application/sdp, application/dtmf-relay")
        if status == 405:
            response.headers.add("Allow", ALLOW)
        return response

    def _respond_invite(self, response: Response, now: float) -> list[Output]:
        tx = self._invite_tx
        if tx is None:
            return []
        return self._server_actions(self._invite_key, tx, tx.respond(response, now), now)

    def _final(self, now: float, status: int, reason: str, by: HangupBy) -> list[Output]:
        out = self._respond_invite(self._response(self.invite, status), now)
        return out + self._end(Ended(status, by, reason))

    def _send_bye(self, now: float, ended: Ended) -> list[Output]:
        """Our BYE; as for `OutboundCall`, the call is over for us as it goes out."""
        assert self.dialog is not None
        self.phase = Phase.HANGING_UP
        self._pending_end = ended
        request = self.dialog.request("BYE", self._new_branch())
        self._bye = ClientNonInviteTransaction(request, now, reliable=self.local.reliable)
        return [*(a for a in self._bye.start() if isinstance(a, Send)), *self._report(ended)]

    def _report(self, ended: Ended) -> list[Output]:
        if self._reported:
            return []
        self._reported = True
        return [ended]

    def _end(self, ended: Ended) -> list[Output]:
        if self.phase is Phase.ENDED:
            return []
        self.phase = Phase.ENDED
        return self._report(ended)

    # -- what comes in --------------------------------------------------------------------

    def _response_in(self, response: Response, now: float) -> list[Output]:
        bye = self._bye
        if bye is None or client_key(response) != client_key(bye.request):
            return []
        out: list[Output] = []
        for action in bye.receive(response, now):
            if isinstance(action, Terminated):
                self._bye = None
        if response.status >= 200:
            out += self._end(self._pending_end or Ended(200, HangupBy.US, "hung up by us"))
        return out

    def _request_in(self, request: Request, now: float) -> list[Output]:
        if request.method == "ACK":
            for key, tx in list(self._servers.items()):
                if isinstance(tx, ServerInviteTransaction) and tx.matches_ack(request):
                    return self._server_actions(key, tx, tx.receive(request, now), now)
            return []
        key = server_key(request)
        existing = self._servers.get(key)
        if existing is not None:  # a retransmission: the same answer again
            return self._server_actions(key, existing, existing.receive(request, now), now)
        if request.method == "CANCEL":
            return self._cancel(request, key, now)
        in_dialog = (
            self.dialog is not None
            and self.phase in (Phase.ANSWERED, Phase.HANGING_UP)
            and self.dialog.matches(request)
        )
        if not in_dialog:
            return [Send(self._response(request, 481))]
        assert self.dialog is not None
        if request.method not in SERVED:
            status = 405 if request.method in KNOWN_UNSUPPORTED else 501
            return [Send(self._response(request, status))]
        if not self.dialog.accept_remote_cseq(request):
            return [Send(self._response(request, 500, "Out of order CSeq"))]
        served: ServerTransaction
        if request.method == "INVITE":
            served = ServerInviteTransaction(request, now, reliable=self.local.reliable)
        else:
            served = ServerNonInviteTransaction(request, now, reliable=self.local.reliable)
        self._servers[key] = served
        response, events = self._serve(request)
        out = self._server_actions(key, served, served.respond(response, now), now)
        for event in events:
            out += self._end(event) if isinstance(event, Ended) else [event]
        return out

    def _cancel(self, request: Request, key: tuple[str, str, str], now: float) -> list[Output]:
        """§9.2: 200 to the CANCEL; the INVITE, if still unanswered, gets 487."""
        invite_key = (key[0], key[1], "INVITE")
        if invite_key != self._invite_key:
            return [Send(self._response(request, 481))]
        tx = ServerNonInviteTransaction(request, now, reliable=self.local.reliable)
        self._servers[key] = tx
        out = self._server_actions(key, tx, tx.respond(self._response(request, 200), now), now)
        if self.phase in (Phase.OFFERED, Phase.RINGING):
            out += self._respond_invite(self._response(self.invite, 487), now)
            out += self._end(Ended(487, HangupBy.CALLEE, "caller cancelled"))
        return out

    def _serve(self, request: Request) -> tuple[Response, list[Event]]:
        assert self.dialog is not None
        method = request.method
        if method == "BYE":
            if self.phase is Phase.HANGING_UP and self._pending_end is not None:
                return self._response(request, 200), [self._pending_end]  # BYEs crossed
            return self._response(request, 200), [Ended(200, HangupBy.CALLEE, "caller hung up")]
        if method == "INFO":
            digit = _dtmf_info(request)
            events: list[Event] = []
            if digit is not None and self.phase is Phase.ANSWERED:
                events.append(DtmfInfo(digit))
            return self._response(request, 200), events
        if method == "OPTIONS":
            return self._response(request, 200), []
        # INVITE or UPDATE: a target refresh, perhaps a new offer (hold, resume)
        self.dialog.refresh_target(request)
        if not request.body or self._our_sdp is None:
            # an offerless re-INVITE would need our offer and the answer in the ACK: the
            # session simply stays as it is
            return self._response(request, 488 if method == "INVITE" else 200), []
        try:
            theirs = parse_offer(request.body, self.codecs)
        except SipError:
            return self._response(request, 488), []
        address, port, session_id, version = self._our_sdp
        self._our_sdp = (address, port, session_id, version + 1)
        body = answer_to(theirs, address, port, session_id, version + 1)
        self.media = theirs
        return self._response(request, 200, body=body), [MediaChanged(theirs)]

    def _server_actions(
        self, key: tuple[str, str, str], tx: ServerTransaction, actions: list[Action], now: float
    ) -> list[Output]:
        out: list[Output] = []
        for action in actions:
            if isinstance(action, Send):
                out.append(action)
            elif isinstance(action, Terminated):
                self._servers.pop(key, None)
            elif isinstance(action, Acked):
                continue  # the dialog is confirmed; nothing changes for the call
            elif isinstance(action, TimedOut):
                # §13.3.1.4: our 2xx was never ACKed: the dialog is dead, say so with a BYE
                final = tx.final if isinstance(tx, ServerInviteTransaction) else None
                if final is not None and final.status < 300 and self.phase is Phase.ANSWERED:
                    out += self._send_bye(now, Ended(408, HangupBy.NETWORK, "no ACK for our 200"))
        return out
