"""One inbound call as a sans-IO state machine: the user agent server of RFC 3261 for an INVITE
we received (a caller dialling one of our numbers). Like `useragent.OutboundCall` it never
touches a socket or a clock: feed it messages and times, it returns what to send and what
happened.

Driving it (what `voxcast.telephony.callcenter.callin` does on the registrar's endpoint):

    call = InboundCall(invite=request, local=Local(host, port), local_tag=new_tag())
    out = call.start(now)                  # 100 Trying at once (488 for an unusable offer)
    out += call.ring(now)                  # 180 Ringing while we look the number up
    out += call.answer(now, rtp_host, rtp_port, session_id)    # 200 with our SDP answer
    out += call.reject(now, 404)           # ...or a final failure (404, 480, 486...)
    out += call.receive(message, now)      # ACK, CANCEL, BYE, retransmitted INVITE...
    out += call.tick(now)                  # whenever `call.deadline` has passed
    out += call.hangup(now)                # BYE once answered (480 before)

Its lifecycle is a `session.Session` of the UAS role, and its in-dialog half is
`callagent.CallAgent`, the same code as the outbound call's. Events (the `useragent`
vocabulary): `Answered(media)` as our 200 goes out (media: the caller's offer, where RTP
goes), `MediaChanged` (a re-INVITE: hold, resume), `DtmfInfo`, and
`Ended(code, by, reason)` exactly once, last. In `Ended`, `HangupBy.CALLEE` means the far end,
here the caller: 200 when it hung up after the answer, 487 when it cancelled before; 200 with
`US` after our BYE; our final status with `US` when we refused; 408 with `NETWORK` when our
200 was never ACKed (Timer L: we then BYE).
"""

from __future__ import annotations

from collections.abc import Callable

from voxcast.ports import HangupBy
from voxcast.telephony.sip.core.callagent import (
    Answered,
    CallAgent,
    DtmfInfo,
    MediaChanged,
    OurSdp,
    Output,
)
from voxcast.telephony.sip.core.dialog import ALLOW, Dialog, Local
from voxcast.telephony.sip.core.message import (
    Message,
    Request,
    Response,
    SipError,
    new_branch,
    parse_name_addr,
    parse_uri,
)
from voxcast.telephony.sip.core.sdp import PCMA, PCMU, Media, answer_to, parse_offer
from voxcast.telephony.sip.core.session import Action, Ended, Event, Role, Session, State
from voxcast.telephony.sip.core.transaction import (
    ClientNonInviteTransaction,
    Send,
    ServerInviteTransaction,
    ServerNonInviteTransaction,
    Terminated,
    TimedOut,
    client_key,
    server_key,
)

__all__ = ["Answered", "DtmfInfo", "Ended", "InboundCall", "MediaChanged", "Output"]


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


class InboundCall(CallAgent):
    """See the module docstring. `local_tag` is our To tag for the whole call; `new_branch`
    makes the branches of our own requests (tests pass fixed ones)."""

    far_end = "caller"

    def __init__(
        self,
        *,
        invite: Request,
        local: Local,
        local_tag: str,
        new_branch: Callable[[], str] = new_branch,
        codecs: tuple[int, ...] = (PCMU, PCMA),
        session: Session | None = None,
    ) -> None:
        super().__init__(
            session=session or Session(Role.UAS), local=local, codecs=codecs, new_branch=new_branch
        )
        self.invite = invite
        self.local_tag = local_tag
        self.number = dialed_number(invite)
        try:
            self.offer: Media | None = parse_offer(invite.body, codecs) if invite.body else None
        except SipError:
            self.offer = None
        self._invite_key = server_key(invite)
        self._invite_tx: ServerInviteTransaction | None = None
        self._bye: ClientNonInviteTransaction | None = None
        self._refusal = 480  # the final status of a hang-up before the answer

    # -- properties -----------------------------------------------------------------------

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

    # -- inputs ---------------------------------------------------------------------------

    def start(self, now: float) -> list[Output]:
        """Take the INVITE: 100 Trying at once (it stops the caller's retransmissions while
        we look the number up), or 488 when its offer has no codec we speak."""
        tx = ServerInviteTransaction(self.invite, now, reliable=self.local.reliable)
        self._invite_tx = tx
        self._servers[self._invite_key] = tx
        if self.offer is None:
            return self._refuse(now, 488, "no usable SDP offer", HangupBy.NETWORK)
        return self._respond_invite(self._response_for(self.invite, 100), now)

    def ring(self, now: float) -> list[Output]:
        """180 Ringing (once): the caller hears its own ringback while we find an agent."""
        if self.session.state is not State.CALLING:
            return []
        self._fire(Event.RING)
        return self._respond_invite(self._response_for(self.invite, 180), now)

    def answer(self, now: float, address: str, port: int, session_id: int) -> list[Output]:
        """200 with our SDP answer (RTP to `address`:`port`); re-sent until the ACK."""
        if not self.session.early or self.offer is None:
            return []
        self.our_sdp = OurSdp(address, port, session_id, 1)
        body = answer_to(self.offer, address, port, session_id, 1)
        self.dialog = Dialog.from_invite(self.invite, self.local_tag, self.local)
        self.media = self.offer
        sent = self._respond_invite(self._response_for(self.invite, 200, body=body), now)
        sent += self._fire(Event.ANSWER, now=now, report=Answered(self.offer))
        return sent + (self._fire(Event.HOLD) if self.offer.on_hold else [])

    def reject(self, now: float, status: int, reason: str | None = None) -> list[Output]:
        """A final failure before the answer: 404 unknown number, 480 no agent, 486 busy..."""
        if not self.session.early:
            return []
        return self._refuse(now, status, reason or "refused", HangupBy.US)

    def hangup(self, now: float, reason: str = "hung up by us") -> list[Output]:
        """End the call from our side: 480 before the answer, BYE after."""
        if self.session.early:
            return self._refuse(now, 480, reason, HangupBy.US)
        if self.session.in_dialog:
            return self._fire(Event.HANGUP, Ended(200, HangupBy.US, reason), now)
        return []

    def unreachable(self, now: float) -> list[Output]:
        """A transport error towards the caller: nothing more can reach it."""
        self._bye = None
        self._servers.clear()
        return self._fire(Event.FAILED, Ended(503, HangupBy.NETWORK, "caller unreachable"))

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
                    out += self._fire(Event.BYE_DONE, Ended(408, HangupBy.NETWORK, "BYE"))
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

    # -- the session's actions ------------------------------------------------------------

    def _act(self, action: Action, now: float) -> list[Output]:
        if action is Action.SEND_REFUSAL:
            return self._respond_invite(self._response_for(self.invite, self._refusal), now)
        return []

    def _refuse(self, now: float, status: int, reason: str, by: HangupBy) -> list[Output]:
        self._refusal = status
        return self._fire(Event.HANGUP, Ended(status, by, reason), now)

    def _send_bye(self, now: float) -> list[Output]:
        """Our BYE; as for `OutboundCall`, the call is over for us as it goes out."""
        self._bye, sends = self._bye_transaction(now)
        return sends

    # -- our responses --------------------------------------------------------------------

    def _response_for(
        self, request: Request, status: int, reason: str | None = None, body: bytes = b""
    ) -> Response:
        response = self._base_response(request, status, reason, self.local_tag, body)
        if request.method == "INVITE" and 100 < status < 300:
            # §12.1.1: the dialog's route set is the INVITE's Record-Route, echoed
            for route in request.headers.get_all("Record-Route"):
                response.headers.add("Record-Route", route)
        if request.method in ("INVITE", "UPDATE") and 200 <= status < 300:
            response.headers.add("Contact", self.local.contact(self.number or "voxcast"))
            response.headers.add("Allow", ALLOW)
        return response

    def _respond_invite(self, response: Response, now: float) -> list[Output]:
        tx = self._invite_tx
        if tx is None:
            return []
        return self._server_actions(self._invite_key, tx, tx.respond(response, now), now)

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
            out += self._fire(Event.BYE_DONE, Ended(200, HangupBy.US, "hung up by us"))
        return out

    def _cancel_in(self, request: Request, key: tuple[str, str, str], now: float) -> list[Output]:
        """§9.2: 200 to the CANCEL; the INVITE, if still unanswered, gets 487."""
        invite_key = (key[0], key[1], "INVITE")
        if invite_key != self._invite_key:
            return [Send(self._response_for(request, 481))]
        tx = ServerNonInviteTransaction(request, now, reliable=self.local.reliable)
        self._servers[key] = tx
        ok = self._response_for(request, 200)
        out = self._server_actions(key, tx, tx.respond(ok, now), now)
        if self.session.early:
            out += self._respond_invite(self._response_for(self.invite, 487), now)
            out += self._fire(Event.FAILED, Ended(487, HangupBy.CALLEE, "caller cancelled"))
        return out
