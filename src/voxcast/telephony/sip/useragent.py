"""One outbound call as a sans-IO state machine: the user agent of RFC 3261 tied to its
transactions, dialog, digest answers and SDP. It never touches a socket or a clock: feed it
messages and times, it returns what to send and what happened.

Driving it (what `transport.SipEndpoint` does; tests do it by hand):

    call = OutboundCall(local=..., target_uri=..., from_uri=..., call_id=..., from_tag=...,
                        sdp_offer=sdp.offer(rtp_host, rtp_port, session_id), ...)
    out = call.start(now)
    out += call.receive(message, now)   # every message routed to this call (by Call-ID)
    out += call.tick(now)               # whenever `call.deadline` has passed
    out += call.hangup(now)             # CANCEL while ringing, BYE once answered
    call.finished                       # ended, and no retransmission left to absorb

`out` holds `Send(message)` (for the transport) and the call's events, which mirror the
`voxcast.ports` events. Wrapping it into the `Carrier` port (the SIP carrier):

    Ringing()                  → ports.Ringing(at=clock.now())
    EarlyMedia(media)          → ports.EarlyMedia(...); RTP may start towards media.address/port
    Answered(media)            → ports.Answered(...); start RTP (codec media.codec, DTMF
                                 payload type media.dtmf_payload)
    MediaChanged(media)        → the far end re-INVITEd (hold: media.on_hold, stop sending;
                                 resume; a new address): retarget RTP, no port event
    DtmfInfo(digit)            → ports.Dtmf (SIP INFO; RFC 4733 digits come from rtp/)
    Ended(code, by, reason)    → ports.HungUp(at, by, sip_code=code, reason): exactly once,
                                 always the last event. by is a ports.HangupBy.
    Call.hangup()              → endpoint.hangup(call_id) (reason "hung up by us"); pass
                                 `ring_timeout=request.max_ringing_s` and the call CANCELs
                                 itself after that long, ending Ended(480, US, "no answer").

Codes reported in `Ended`: 200 after an answered call; the final response's code for a
failed call (by CALLEE for 480/486/600/603, else NETWORK); 408 when the far end never
answered the INVITE; 487 when we cancelled (480 for the ring timeout); 488 when the 2xx's SDP
was unusable (the call is ACKed and BYE'd).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from voxcast.ports import HangupBy
from voxcast.telephony.sip.dialog import ALLOW, Dialog, Local, cancel_for, new_invite
from voxcast.telephony.sip.digest import Authenticator, Credentials
from voxcast.telephony.sip.message import (
    Headers,
    Message,
    Request,
    Response,
    SipError,
    new_branch,
    parse_name_addr,
    response_to,
)
from voxcast.telephony.sip.sdp import PCMA, PCMU, Media, answer_to, parse_answer, parse_offer
from voxcast.telephony.sip.transaction import (
    TIMEOUT,
    Acked,
    Action,
    ClientInviteTransaction,
    ClientNonInviteTransaction,
    ClientTransaction,
    Deliver,
    Send,
    ServerInviteTransaction,
    ServerNonInviteTransaction,
    ServerTransaction,
    State,
    Terminated,
    TimedOut,
    client_key,
    server_key,
)

__all__ = [
    "Answered",
    "Credentials",
    "DtmfInfo",
    "EarlyMedia",
    "Ended",
    "MediaChanged",
    "OutboundCall",
    "Output",
    "Phase",
    "Ringing",
    "Send",
]


@dataclass(frozen=True)
class Ringing:
    pass


@dataclass(frozen=True)
class EarlyMedia:
    media: Media


@dataclass(frozen=True)
class Answered:
    media: Media


@dataclass(frozen=True)
class MediaChanged:
    media: Media


@dataclass(frozen=True)
class DtmfInfo:
    digit: str


@dataclass(frozen=True)
class Ended:
    code: int
    by: HangupBy
    reason: str


Event = Ringing | EarlyMedia | Answered | MediaChanged | DtmfInfo | Ended
Output = Send | Event

#: methods we know but do not serve (405 with Allow); anything else unknown gets 501
KNOWN_UNSUPPORTED = frozenset(
    {"REGISTER", "SUBSCRIBE", "NOTIFY", "REFER", "MESSAGE", "PUBLISH", "PRACK"}
)
SERVED = frozenset({"BYE", "INFO", "OPTIONS", "INVITE", "UPDATE"})
#: failures the callee chose; the others are the network's
CALLEE_CODES = frozenset({480, 486, 600, 603})
DTMF_KEYS = "0123456789*#ABCD"


class Phase(Enum):
    INVITING = "inviting"  # INVITE sent, no provisional yet
    RINGING = "ringing"  # a provisional arrived
    CANCELLING = "cancelling"  # we hung up before an answer
    ANSWERED = "answered"
    HANGING_UP = "hanging-up"  # our BYE is out
    ENDED = "ended"


class _Role(Enum):
    INVITE = "invite"  # the current initial INVITE
    OLD_INVITE = "old-invite"  # an INVITE replaced by its authenticated retry
    REINVITE = "reinvite"  # our re-INVITE in the dialog
    CANCEL = "cancel"
    BYE = "bye"
    FORK_BYE = "fork-bye"  # a BYE ending an extra dialog from a forked 2xx
    OTHER = "other"


def ended_by(status: int) -> HangupBy:
    return HangupBy.CALLEE if status in CALLEE_CODES else HangupBy.NETWORK


def _new_cnonce() -> str:
    return secrets.token_hex(8)


class OutboundCall:
    """See the module docstring. `new_branch` and `new_cnonce` make ids (tests pass fixed
    ones); `ring_timeout` (seconds) makes the call CANCEL itself when nobody answers."""

    def __init__(
        self,
        *,
        local: Local,
        target_uri: str,
        from_uri: str,
        call_id: str,
        from_tag: str,
        sdp_offer: bytes,
        new_branch: Callable[[], str] = new_branch,
        new_cnonce: Callable[[], str] = _new_cnonce,
        credentials: Credentials | None = None,
        route: tuple[str, ...] = (),
        to_uri: str | None = None,
        from_display: str | None = None,
        extra_headers: tuple[tuple[str, str], ...] = (),
        ring_timeout: float | None = None,
        codecs: tuple[int, ...] = (PCMU, PCMA),
        user_agent: str = "voxcast",
    ) -> None:
        self.local = local
        self.sdp_offer = sdp_offer
        self.codecs = codecs
        self.credentials = credentials
        self.ring_timeout = ring_timeout
        self._new_branch = new_branch
        self._new_cnonce = new_cnonce
        self.phase = Phase.INVITING
        self.invite = new_invite(
            local=local,
            target_uri=target_uri,
            from_uri=from_uri,
            from_tag=from_tag,
            call_id=call_id,
            branch=new_branch(),
            sdp=sdp_offer,
            to_uri=to_uri,
            from_display=from_display,
            user_agent=user_agent,
            route=route,
            extra_headers=extra_headers,
        )
        # our own media, to answer re-offers from the far end with
        ours = parse_offer(sdp_offer, codecs)
        self._our_address, self._our_port = ours.address, ours.port
        self._session_id, self._sdp_version = _origin(sdp_offer)
        self.dialog: Dialog | None = None
        self.media: Media | None = None
        self.last_reinvite_status: int | None = None
        self._clients: dict[tuple[str, str], tuple[_Role, ClientTransaction]] = {}
        self._servers: dict[tuple[str, str, str], ServerTransaction] = {}
        self._acks: dict[tuple[str, int], Request] = {}  # (to-tag, CSeq) → ACK of that 2xx
        self._invite_auth = Authenticator(credentials, new_cnonce) if credentials else None
        self._bye_auth = Authenticator(credentials, new_cnonce) if credentials else None
        self._provisional = False
        self._progressed = False
        self._cancel_wanted = False
        self._cancel_deadline: float | None = None
        self._ring_deadline: float | None = None
        self._pending_end: Ended | None = None
        self._reported = False  # the Ended event is out (at our BYE, before the call is over)
        self._rang = False
        self._early: Media | None = None
        self._offerless: set[int] = set()  # CSeqs of re-INVITEs we answered with an offer

    # -- properties -----------------------------------------------------------------------

    @property
    def call_id(self) -> str:
        return self.invite.call_id

    @property
    def deadline(self) -> float | None:
        """When `tick` next has something to do (None: nothing pending)."""
        times = [tx.deadline for _, tx in self._clients.values()]
        times += [tx.deadline for tx in self._servers.values()]
        times += [self._cancel_deadline, self._ring_deadline]
        present = [t for t in times if t is not None]
        return min(present) if present else None

    @property
    def progressed(self) -> bool:
        """A provisional response other than 100 arrived: the far end, not just the next
        hop (100 is hop-by-hop, §21.1.1), has the call."""
        return self._progressed

    @property
    def finished(self) -> bool:
        """Ended, and no transaction left that still absorbs retransmissions."""
        return self.phase is Phase.ENDED and self.deadline is None

    # -- inputs ---------------------------------------------------------------------------

    def start(self, now: float) -> list[Output]:
        if self.ring_timeout is not None:
            self._ring_deadline = now + self.ring_timeout
        return self._send_client(self.invite, _Role.INVITE, now)

    def hangup(self, now: float, reason: str = "hung up by us") -> list[Output]:
        """End the call from our side: CANCEL while it rings, BYE once answered."""
        if self.phase in (Phase.INVITING, Phase.RINGING):
            return self._cancel(now, Ended(487, HangupBy.US, reason))
        if self.phase is Phase.ANSWERED:
            return self._bye(now, Ended(200, HangupBy.US, reason))
        return []

    def unreachable(self, now: float) -> list[Output]:
        """A transport error towards the far end (ICMP unreachable, a refused connection):
        §8.1.3.1 treats it as a 503 to what is pending, so the call ends now, not after 32 s
        of retransmissions to nobody."""
        self._clients.clear()
        if self.phase in (Phase.INVITING, Phase.RINGING):
            return self._end(Ended(503, HangupBy.NETWORK, "destination unreachable"))
        if self.phase is Phase.CANCELLING:
            return self._end(self._pending_end or Ended(487, HangupBy.US, "cancelled"))
        if self.phase is Phase.ANSWERED:
            return self._end(Ended(200, HangupBy.NETWORK, "far end unreachable"))
        if self.phase is Phase.HANGING_UP:
            return self._end(self._pending_end or Ended(200, HangupBy.US, "hung up by us"))
        return []

    def reinvite(self, now: float, sdp: bytes) -> list[Output]:
        """Send a re-INVITE with a new offer (e.g. hold). A failure (488, 491...) leaves the
        call as it was; only 481 or a time-out ends it (§12.2.1.2). Nothing is sent while
        another INVITE of the dialog is pending."""
        if self.phase is not Phase.ANSWERED or self.dialog is None or self._invite_pending():
            return []
        request = self.dialog.request("INVITE", self._new_branch(), sdp)
        return self._send_client(request, _Role.REINVITE, now)

    def tick(self, now: float) -> list[Output]:
        out: list[Output] = []
        if self._ring_deadline is not None and now >= self._ring_deadline:
            self._ring_deadline = None
            if self.phase is Phase.INVITING:
                # not even a provisional: nothing to CANCEL (§9.1) and nobody rang; the
                # network failed us. The INVITE transaction stays to absorb a late answer.
                out += self._end(Ended(408, HangupBy.NETWORK, "no response to INVITE"))
            elif self.phase is Phase.RINGING:
                out += self._cancel(now, Ended(480, HangupBy.US, "no answer"))
        if self._cancel_deadline is not None and now >= self._cancel_deadline:
            # §9.1: no final response 64*T1 after our CANCEL: the INVITE is given up
            self._cancel_deadline = None
            if self.phase is Phase.CANCELLING:
                out += self._end(self._pending_end or Ended(487, HangupBy.US, "cancelled"))
        for key, (role, tx) in list(self._clients.items()):
            if tx.deadline is not None and now >= tx.deadline:
                out += self._client_actions(key, role, tx.tick(now), now)
        for skey, stx in list(self._servers.items()):
            if stx.deadline is not None and now >= stx.deadline:
                out += self._server_actions(skey, stx, stx.tick(now), now)
        return out

    def receive(self, message: Message, now: float) -> list[Output]:
        """A message the transport routed to this call. Malformed parts are dropped."""
        try:
            if isinstance(message, Response):
                return self._response(message, now)
            return self._request(message, now)
        except SipError:
            return []  # a malformed message inside the call is dropped, never fatal

    # -- sending --------------------------------------------------------------------------

    def _send_client(self, request: Request, role: _Role, now: float) -> list[Output]:
        tx: ClientTransaction
        if request.method == "INVITE":
            tx = ClientInviteTransaction(request, now, reliable=self.local.reliable)
        else:
            tx = ClientNonInviteTransaction(request, now, reliable=self.local.reliable)
        self._clients[client_key(request)] = (role, tx)
        return list(_sends(tx.start()))

    def _cancel(self, now: float, ended: Ended) -> list[Output]:
        self.phase = Phase.CANCELLING
        self._pending_end = ended
        self._ring_deadline = None
        if self._provisional:
            return self._send_cancel(now)
        self._cancel_wanted = True  # §9.1: CANCEL only once a provisional arrived
        return []

    def _send_cancel(self, now: float) -> list[Output]:
        self._cancel_wanted = False
        self._cancel_deadline = now + TIMEOUT
        return self._send_client(cancel_for(self.invite), _Role.CANCEL, now)

    def _bye(self, now: float, ended: Ended) -> list[Output]:
        """Send BYE; the call ends as we send it (§15.1.1: the session is over for us). The
        BYE transaction goes on (auth retry, absorbing answers) but times nothing: a BYE never
        answered must not add 32 s of Timer F to the talk time or hold the channel."""
        assert self.dialog is not None
        self.phase = Phase.HANGING_UP
        self._pending_end = ended
        request = self.dialog.request("BYE", self._new_branch())
        return [*self._send_client(request, _Role.BYE, now), *self._report(ended)]

    def _report(self, ended: Ended) -> list[Output]:
        """The call's one `Ended` event, the first time it is due."""
        if self._reported:
            return []
        self._reported = True
        return [ended]

    def _end(self, ended: Ended) -> list[Output]:
        if self.phase is Phase.ENDED:
            return []
        self.phase = Phase.ENDED
        self._ring_deadline = self._cancel_deadline = None
        return self._report(ended)

    def _our_reinvite_pending(self) -> bool:
        return any(
            role is _Role.REINVITE and tx.state in (State.CALLING, State.PROCEEDING)
            for role, tx in self._clients.values()
        )

    def _invite_pending(self) -> bool:
        """An INVITE of this dialog in progress in either direction (§14.1)."""
        theirs = any(
            isinstance(tx, ServerInviteTransaction)
            and tx.state is not State.TERMINATED
            and (tx.final is None or tx.awaiting_ack)
            for tx in self._servers.values()
        )
        return theirs or self._our_reinvite_pending()

    # -- responses ------------------------------------------------------------------------

    def _response(self, response: Response, now: float) -> list[Output]:
        key = client_key(response)
        entry = self._clients.get(key)
        if entry is not None:
            role, tx = entry
            out = self._client_actions(key, role, tx.receive(response, now), now)
            if out or not 200 <= response.status < 300:
                return out
        if key[1] == "INVITE" and 200 <= response.status < 300:
            return self._late_2xx(response, now)
        return []

    def _client_actions(
        self, key: tuple[str, str], role: _Role, actions: list[Action], now: float
    ) -> list[Output]:
        out: list[Output] = []
        for action in actions:
            if isinstance(action, Send):
                out.append(action)
            elif isinstance(action, Terminated):
                self._clients.pop(key, None)
            elif role is _Role.OLD_INVITE:
                continue  # only its ACKs matter now
            elif isinstance(action, TimedOut):
                out += self._timed_out(role, now)
            elif isinstance(action, Deliver):
                out += self._delivered(role, action.response, now)
        return out

    def _timed_out(self, role: _Role, now: float) -> list[Output]:
        if role is _Role.INVITE:
            if self.phase is Phase.CANCELLING and self._pending_end is not None:
                return self._end(self._pending_end)
            return self._end(Ended(408, HangupBy.NETWORK, "no response to INVITE"))
        if role is _Role.BYE:
            return self._end(self._pending_end or Ended(408, HangupBy.NETWORK, "BYE timed out"))
        if role is _Role.REINVITE and self.phase is Phase.ANSWERED:
            self.last_reinvite_status = 408
            return self._bye(now, Ended(408, HangupBy.NETWORK, "no response to re-INVITE"))
        return []

    def _delivered(self, role: _Role, response: Response, now: float) -> list[Output]:
        if role is _Role.INVITE:
            return self._invite_response(response, now)
        if role is _Role.REINVITE:
            return self._reinvite_response(response, now)
        if role is _Role.BYE and response.status >= 200:
            if response.status in (401, 407) and self.dialog is not None and self._bye_auth:
                retry = self.dialog.request("BYE", self._new_branch())
                headers = self._bye_auth.answer(retry, response)
                if headers is not None:
                    for name, value in headers:
                        retry.headers.add(name, value)
                    return self._send_client(retry, _Role.BYE, now)
            return self._end(self._pending_end or Ended(200, HangupBy.US, "hung up by us"))
        return []  # CANCEL's 200/481, a fork's BYE answer: nothing to do

    def _invite_response(self, response: Response, now: float) -> list[Output]:
        status = response.status
        if self.phase is Phase.ENDED:
            # we gave up on this INVITE (no final after our CANCEL): a late 2xx still gets
            # its ACK and a BYE so that nothing stays up at the far end
            return self._stray_dialog(response, now) if 200 <= status < 300 else []
        if status < 200:
            return self._provisional_response(response, now)
        if status < 300:
            return self._first_2xx(response, now)
        if status in (401, 407) and self.phase is not Phase.CANCELLING and self._invite_auth:
            headers = self._invite_auth.answer(self.invite, response)
            if headers is not None:
                return self._retry_invite(headers, now)
            return self._end(Ended(status, HangupBy.NETWORK, "authentication failed"))
        if self.phase is Phase.CANCELLING and self._pending_end is not None:
            return self._end(self._pending_end)
        return self._end(Ended(status, ended_by(status), response.reason or "failed"))

    def _provisional_response(self, response: Response, now: float) -> list[Output]:
        self._provisional = True
        self._progressed = self._progressed or response.status > 100
        out: list[Output] = []
        if self._cancel_wanted:
            out += self._send_cancel(now)
        if self.phase is Phase.INVITING:
            self.phase = Phase.RINGING
        if self.phase is not Phase.RINGING:
            return out
        if response.status in (180, 183) and not self._rang:
            self._rang = True
            out.append(Ringing())
        if response.status > 100 and response.body:
            try:
                media = parse_answer(response.body, self.codecs)
            except SipError:
                return out  # early media is optional
            if media != self._early:
                self._early = media
                out.append(EarlyMedia(media))
        return out

    def _first_2xx(self, response: Response, now: float) -> list[Output]:
        self.dialog = Dialog.from_2xx(self.invite, response, self.local)
        ack = self.dialog.ack(self._new_branch())
        self._acks[(self.dialog.remote_tag, self.dialog.invite_cseq)] = ack
        out: list[Output] = [Send(ack)]
        if self.phase is Phase.CANCELLING:
            # our CANCEL crossed the 200: the call exists, so end it properly
            return out + self._bye(now, self._pending_end or Ended(487, HangupBy.US, "cancelled"))
        try:
            media = parse_answer(response.body, self.codecs)
        except SipError:
            return out + self._bye(now, Ended(488, HangupBy.NETWORK, "unusable SDP answer"))
        self.phase = Phase.ANSWERED
        self._ring_deadline = None
        self.media = media
        return [*out, Answered(media)]

    def _late_2xx(self, response: Response, now: float) -> list[Output]:
        """A 2xx whose transaction is over: a retransmission (our ACK was lost); a second 2xx
        from another fork of a forked INVITE; or a 2xx to an INVITE we gave up on (Timer B
        fired while every response was lost). The last two are ACKed then BYE'd (§13.2.2.4),
        so that no call is left up at the far end."""
        tag = parse_name_addr(response.headers.get("To") or "").tag or ""
        number, _ = response.cseq
        ack = self._acks.get((tag, number))
        if ack is not None:
            return [Send(ack)]
        if number != self.invite.cseq[0]:
            return []
        return self._stray_dialog(response, now)

    def _stray_dialog(self, response: Response, now: float) -> list[Output]:
        """ACK a 2xx that we do not want as our call, and BYE its dialog."""
        stray = Dialog.from_2xx(self.invite, response, self.local)
        if self.dialog is not None:
            stray.local_cseq = self.dialog.local_cseq
        ack = stray.ack(self._new_branch())
        self._acks[(stray.remote_tag, stray.invite_cseq)] = ack
        bye = stray.request("BYE", self._new_branch())
        return [Send(ack), *self._send_client(bye, _Role.FORK_BYE, now)]

    def _retry_invite(self, auth_headers: list[tuple[str, str]], now: float) -> list[Output]:
        number, _ = self.invite.cseq
        h = Headers(list(self.invite.headers.items))
        h.set("Via", self.local.via(self._new_branch()))
        h.set("CSeq", f"{number + 1} INVITE")
        for name, value in auth_headers:
            h.set(name, value)
        for key, (role, tx) in list(self._clients.items()):
            if role is _Role.INVITE:
                self._clients[key] = (_Role.OLD_INVITE, tx)
        self.invite = Request("INVITE", self.invite.uri, h, self.invite.body)
        self._provisional = False
        return self._send_client(self.invite, _Role.INVITE, now)

    def _reinvite_response(self, response: Response, now: float) -> list[Output]:
        status = response.status
        if status < 200:
            return []
        self.last_reinvite_status = status
        if status < 300 and self.dialog is not None:
            number, _ = response.cseq
            ack = self.dialog.ack(self._new_branch(), cseq=number)
            self._acks[(self.dialog.remote_tag, number)] = ack
            out: list[Output] = [Send(ack)]
            try:
                self.media = parse_answer(response.body, self.codecs)
            except SipError:
                return out
            return [*out, MediaChanged(self.media)]
        if status == 481:
            return self._end(Ended(481, HangupBy.NETWORK, "the far end lost the call"))
        if status == 408 and self.phase is Phase.ANSWERED:
            return self._bye(now, Ended(408, HangupBy.NETWORK, "re-INVITE timed out"))
        return []  # 488, 491, 500...: the session goes on as it was

    # -- requests from the far end --------------------------------------------------------

    def _request(self, request: Request, now: float) -> list[Output]:
        if request.method == "ACK":
            return self._ack(request, now)
        key = server_key(request)
        existing = self._servers.get(key)
        if existing is not None:  # a retransmission: the same answer again
            return self._server_actions(key, existing, existing.receive(request, now), now)
        if request.method == "CANCEL":
            # we answer every INVITE at once, so there is never anything left to cancel
            invite_key = (key[0], key[1], "INVITE")
            status = 200 if invite_key in self._servers else 481
            return [Send(self._response_for(request, status))]
        in_dialog = (
            self.dialog is not None
            and self.phase in (Phase.ANSWERED, Phase.HANGING_UP)
            and self.dialog.matches(request)
        )
        if not in_dialog:
            return [Send(self._response_for(request, 481))]
        assert self.dialog is not None
        if request.method not in SERVED:
            status = 405 if request.method in KNOWN_UNSUPPORTED else 501
            return [Send(self._response_for(request, status))]
        if not self.dialog.accept_remote_cseq(request):
            return [Send(self._response_for(request, 500, "Out of order CSeq"))]
        tx: ServerTransaction
        if request.method == "INVITE":
            tx = ServerInviteTransaction(request, now, reliable=self.local.reliable)
        else:
            tx = ServerNonInviteTransaction(request, now, reliable=self.local.reliable)
        response, events = self._serve(request)
        self._servers[key] = tx
        out = self._server_actions(key, tx, tx.respond(response, now), now)
        for event in events:
            if isinstance(event, Ended):
                out += self._end(event)
            else:
                out.append(event)
        return out

    def _serve(self, request: Request) -> tuple[Response, list[Event]]:
        """Our answer to a new in-dialog request, and what it means for the call."""
        assert self.dialog is not None
        method = request.method
        if method == "BYE":
            if self.phase is Phase.HANGING_UP and self._pending_end is not None:
                return self._response_for(request, 200), [self._pending_end]  # BYEs crossed
            return self._response_for(request, 200), [Ended(200, HangupBy.CALLEE, "callee hung up")]
        if method == "INFO":
            digit = _dtmf_info(request)
            events: list[Event] = []
            if digit is not None and self.phase is Phase.ANSWERED:
                events.append(DtmfInfo(digit))
            return self._response_for(request, 200), events
        if method == "OPTIONS":
            return self._response_for(request, 200), []
        # INVITE or UPDATE: a target refresh, perhaps with a new offer (hold, resume)
        if method == "INVITE" and self._our_reinvite_pending():
            return self._response_for(request, 491), []  # glare (§14.2)
        self.dialog.refresh_target(request)
        if not request.body:
            if method == "UPDATE":
                return self._response_for(request, 200), []
            # an offerless re-INVITE: we offer in the 200, the answer comes in the ACK
            self._offerless.add(request.cseq[0])
            self._sdp_version += 1
            sdp = _with_version(self.sdp_offer, self._session_id, self._sdp_version)
            return self._response_for(request, 200, body=sdp), []
        try:
            theirs = parse_offer(request.body, self.codecs)
        except SipError:
            return self._response_for(request, 488), []
        self._sdp_version += 1
        body = answer_to(
            theirs, self._our_address, self._our_port, self._session_id, self._sdp_version
        )
        self.media = theirs
        return self._response_for(request, 200, body=body), [MediaChanged(theirs)]

    def _ack(self, ack: Request, now: float) -> list[Output]:
        for skey, tx in list(self._servers.items()):
            if isinstance(tx, ServerInviteTransaction) and tx.matches_ack(ack):
                return self._server_actions(skey, tx, tx.receive(ack, now), now)
        return []  # an ACK for nothing we know (e.g. a copy after the transaction ended)

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
                number = action.ack.cseq[0]
                if number in self._offerless and action.ack.body:
                    self._offerless.discard(number)
                    try:
                        self.media = parse_answer(action.ack.body, self.codecs)
                    except SipError:
                        continue
                    out.append(MediaChanged(self.media))
            elif isinstance(action, TimedOut):
                # §13.3.1.4: our 2xx to a re-INVITE was never ACKed: the dialog is dead
                final = tx.final if isinstance(tx, ServerInviteTransaction) else None
                if final is not None and final.status < 300 and self.phase is Phase.ANSWERED:
                    out += self._bye(now, Ended(408, HangupBy.NETWORK, "no ACK for our 200"))
        return out

    def _response_for(
        self, request: Request, status: int, reason: str | None = None, body: bytes = b""
    ) -> Response:
        local_tag = self.dialog.local_tag if self.dialog else _tag_of(self.invite)
        response = response_to(request, status, reason, to_tag=local_tag, body=body)
        if status == 405 or (request.method == "OPTIONS" and status == 200):
            response.headers.add("Allow", ALLOW)
        if request.method == "OPTIONS" and status == 200:
            response.headers.add("Accept", "application/sdp, application/dtmf-relay")
        if request.method in ("INVITE", "UPDATE") and 200 <= status < 300:
            response.headers.add("Contact", self.local.contact(_user_of_contact(self.invite)))
        if status in (491, 500) and request.method != "BYE":
            response.headers.add("Retry-After", "1")
        return response


def _sends(actions: list[Action]) -> list[Output]:
    return [a for a in actions if isinstance(a, Send)]


def _tag_of(request: Request) -> str:
    try:
        return parse_name_addr(request.headers.get("From") or "").tag or ""
    except SipError:
        return ""


def _user_of_contact(invite: Request) -> str:
    try:
        uri = parse_name_addr(invite.headers.get("Contact") or "").uri
    except SipError:
        return "voxcast"
    user = uri.split(":", 1)[-1].split("@", 1)
    return user[0] if len(user) == 2 and user[0] else "voxcast"


def _origin(sdp: bytes) -> tuple[int, int]:
    """(session id, version) from our own SDP's o= line."""
    for line in sdp.decode("utf-8", "replace").splitlines():
        if line.startswith("o="):
            fields = line[2:].split()
            if len(fields) >= 3 and fields[1].isdigit() and fields[2].isdigit():
                return int(fields[1]), int(fields[2])
    return 1, 1


def _with_version(sdp: bytes, session_id: int, version: int) -> bytes:
    lines = sdp.decode("utf-8", "replace").split("\r\n")
    for i, line in enumerate(lines):
        if line.startswith("o="):
            fields = line[2:].split()
            if len(fields) >= 6:
                fields[1], fields[2] = str(session_id), str(version)
                lines[i] = "o=" + " ".join(fields)
            break
    return "\r\n".join(lines).encode()


def _dtmf_info(request: Request) -> str | None:
    """The key of an INFO: `Signal=1` (application/dtmf-relay), or a bare `1`
    (application/dtmf). Some gateways send 10 for * and 11 for #."""
    kind = (request.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    text = request.body.decode("utf-8", "replace").strip()
    value: str | None = None
    if kind == "application/dtmf":
        value = text
    else:
        for line in text.splitlines():
            name, _, rest = line.partition("=")
            if name.strip().lower() == "signal":
                value = rest.strip()
                break
    if value is None:
        return None
    value = {"10": "*", "11": "#"}.get(value, value).upper()
    return value if len(value) == 1 and value in DTMF_KEYS else None
