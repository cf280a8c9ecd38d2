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
    call.state                          # the session's state (core.session): calling,
                                        # ringing, early, answered, held, ending, ended

The in-dialog half (the far end's BYE, INFO, OPTIONS, re-INVITE/UPDATE, our BYE) is
`callagent.CallAgent`, shared with the inbound call; what may happen when is the table in
`session`.

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
from enum import Enum

from voxcast.ports import HangupBy
from voxcast.telephony.sip.core.callagent import (
    Answered,
    CallAgent,
    CallEvent,
    DtmfInfo,
    EarlyMedia,
    MediaChanged,
    OurSdp,
    Output,
    Ringing,
    origin,
)
from voxcast.telephony.sip.core.dialog import Dialog, Local, cancel_for, new_invite
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
from voxcast.telephony.sip.core.sdp import (
    PCMA,
    PCMU,
    Media,
    parse_answer,
    read_own_offer,
)
from voxcast.telephony.sip.core.session import Action, Ended, Event, Role, Session, State
from voxcast.telephony.sip.core.transaction import (
    TIMEOUT,
    ClientInviteTransaction,
    ClientNonInviteTransaction,
    ClientTransaction,
    Deliver,
    Send,
    ServerInviteTransaction,
    Terminated,
    TimedOut,
    client_key,
)
from voxcast.telephony.sip.core.transaction import Action as TxAction
from voxcast.telephony.sip.core.transaction import State as TxState

__all__ = [
    "Answered",
    "CallEvent",
    "Credentials",
    "DtmfInfo",
    "EarlyMedia",
    "Ended",
    "MediaChanged",
    "OutboundCall",
    "Output",
    "Ringing",
    "Send",
]

#: failures the callee chose; the others are the network's
CALLEE_CODES = frozenset({480, 486, 600, 603})


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


class OutboundCall(CallAgent):
    """See the module docstring. `new_branch` and `new_cnonce` make ids (tests pass fixed
    ones); `ring_timeout` (seconds) makes the call CANCEL itself when nobody answers;
    `session` is the call's lifecycle (the SIP carrier passes its own, to read it)."""

    far_end = "callee"

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
        session: Session | None = None,
    ) -> None:
        super().__init__(
            session=session or Session(Role.UAC), local=local, codecs=codecs, new_branch=new_branch
        )
        self.sdp_offer = sdp_offer
        self.credentials = credentials
        self.ring_timeout = ring_timeout
        self._new_cnonce = new_cnonce
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
        # our own media, to answer re-offers from the far end with; our SRTP keys, if offered
        ours, self.srtp = read_own_offer(sdp_offer, self.codecs)
        session_id, version = origin(sdp_offer)
        self.our_sdp = OurSdp(ours.address, ours.port, session_id, version, self.srtp, sdp_offer)
        self.last_reinvite_status: int | None = None
        self._clients: dict[tuple[str, str], tuple[_Role, ClientTransaction]] = {}
        self._acks: dict[tuple[str, int], Request] = {}  # (to-tag, CSeq) → ACK of that 2xx
        self._invite_auth = Authenticator(credentials, new_cnonce) if credentials else None
        self._bye_auth = Authenticator(credentials, new_cnonce) if credentials else None
        self._provisional = False  # the current INVITE had a provisional: CANCEL may go
        self._progressed = False
        self._cancel_deadline: float | None = None  # set when our CANCEL goes out
        self._ring_deadline: float | None = None
        self._early: Media | None = None

    # -- properties -----------------------------------------------------------------------

    @property
    def deadline(self) -> float | None:
        """When `tick` next has something to do (None: nothing pending)."""
        # read after every message and timer of every call: no lists built
        earliest = self._cancel_deadline
        ring = self._ring_deadline
        if ring is not None and (earliest is None or ring < earliest):
            earliest = ring
        for _, tx in self._clients.values():
            at = tx.deadline
            if at is not None and (earliest is None or at < earliest):
                earliest = at
        for server in self._servers.values():
            at = server.deadline
            if at is not None and (earliest is None or at < earliest):
                earliest = at
        return earliest

    @property
    def progressed(self) -> bool:
        """A provisional response other than 100 arrived: the far end, not just the next
        hop (100 is hop-by-hop, §21.1.1), has the call."""
        return self._progressed

    # -- inputs ---------------------------------------------------------------------------

    def start(self, now: float) -> list[Output]:
        if self.ring_timeout is not None:
            self._ring_deadline = now + self.ring_timeout
        return self._send_client(self.invite, _Role.INVITE, now)

    def hangup(
        self,
        now: float,
        reason: str = "hung up by us",
        by: HangupBy = HangupBy.US,
        code: int | None = None,
    ) -> list[Output]:
        """End the call from our side: CANCEL while it rings (the call's code 487, or
        `code`), BYE once answered (200)."""
        if self.session.early:
            return self._fire(Event.HANGUP, Ended(code or 487, by, reason), now)
        if self.session.in_dialog:
            return self._fire(Event.HANGUP, Ended(code or 200, by, reason), now)
        return []

    def unreachable(self, now: float) -> list[Output]:
        """A transport error towards the far end (ICMP unreachable, a refused connection):
        §8.1.3.1 treats it as a 503 to what is pending, so the call ends now, not after 32 s
        of retransmissions to nobody."""
        self._clients.clear()
        if self.session.early:
            return self._fire(Event.FAILED, Ended(503, HangupBy.NETWORK, "destination unreachable"))
        if self.session.in_dialog:
            return self._fire(Event.FAILED, Ended(200, HangupBy.NETWORK, "far end unreachable"))
        return self._fire(Event.FAILED, Ended(487, HangupBy.US, "cancelled"))

    def reinvite(self, now: float, sdp: bytes) -> list[Output]:
        """Send a re-INVITE with a new offer (e.g. hold). A failure (488, 491...) leaves the
        call as it was; only 481 or a time-out ends it (§12.2.1.2). Nothing is sent while
        another INVITE of the dialog is pending."""
        if not self.session.in_dialog or self.dialog is None or self._invite_pending():
            return []
        request = self.dialog.request("INVITE", self._new_branch(), sdp)
        return self._send_client(request, _Role.REINVITE, now)

    def tick(self, now: float) -> list[Output]:
        out: list[Output] = []
        if self._ring_deadline is not None and now >= self._ring_deadline:
            self._ring_deadline = None
            if self.session.state is State.CALLING:
                # not even a provisional: nothing to CANCEL (§9.1) and nobody rang; the
                # network failed us. The INVITE transaction stays to absorb a late answer.
                out += self._fire(
                    Event.FAILED, Ended(408, HangupBy.NETWORK, "no response to INVITE")
                )
            elif self.session.early:
                out += self._fire(Event.HANGUP, Ended(480, HangupBy.US, "no answer"), now)
        if self._cancel_deadline is not None and now >= self._cancel_deadline:
            # §9.1: no final response 64*T1 after our CANCEL: the INVITE is given up
            self._cancel_deadline = None
            if self.session.state is State.CANCELLING:
                out += self._fire(Event.FAILED, Ended(487, HangupBy.US, "cancelled"))
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
            return self._request_in(message, now)
        except SipError:
            return []  # a malformed message inside the call is dropped, never fatal

    # -- the session's actions ------------------------------------------------------------

    def _fire(
        self,
        event: Event,
        end: Ended | None = None,
        now: float = 0.0,
        report: CallEvent | None = None,
    ) -> list[Output]:
        out = super()._fire(event, end, now, report)
        if self.session.state is State.ENDED:
            self._ring_deadline = self._cancel_deadline = None
        elif not self.session.early:
            self._ring_deadline = None  # answered, or given up: no ring time left
        return out

    def _act(self, action: Action, now: float) -> list[Output]:
        if action is Action.SEND_CANCEL and self._provisional:
            return self._send_cancel(now)
        return []  # a CANCEL waits for a provisional (§9.1); the reports are the caller's

    # -- sending --------------------------------------------------------------------------

    def _send_client(self, request: Request, role: _Role, now: float) -> list[Output]:
        tx: ClientTransaction
        if request.method == "INVITE":
            tx = ClientInviteTransaction(request, now, reliable=self.local.reliable)
        else:
            tx = ClientNonInviteTransaction(request, now, reliable=self.local.reliable)
        self._clients[client_key(request)] = (role, tx)
        return list(_sends(tx.start()))

    def _send_cancel(self, now: float) -> list[Output]:
        self._cancel_deadline = now + TIMEOUT
        return self._send_client(cancel_for(self.invite), _Role.CANCEL, now)

    def _send_bye(self, now: float) -> list[Output]:
        """Our BYE: the session is over for us as it goes out (§15.1.1). The BYE
        transaction goes on (auth retry, absorbing answers) but times nothing: a BYE never
        answered must not add 32 s of Timer F to the talk time or hold the channel."""
        return self._send_client(self._new_bye(), _Role.BYE, now)

    def _our_reinvite_pending(self) -> bool:
        return any(
            role is _Role.REINVITE and tx.state in (TxState.CALLING, TxState.PROCEEDING)
            for role, tx in self._clients.values()
        )

    def _invite_pending(self) -> bool:
        """An INVITE of this dialog in progress in either direction (§14.1)."""
        theirs = any(
            isinstance(tx, ServerInviteTransaction)
            and tx.state is not TxState.TERMINATED
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
        self, key: tuple[str, str], role: _Role, actions: list[TxAction], now: float
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
            return self._fire(Event.FAILED, Ended(408, HangupBy.NETWORK, "no response to INVITE"))
        if role is _Role.BYE:
            return self._fire(Event.BYE_DONE, Ended(408, HangupBy.NETWORK, "BYE timed out"))
        if role is _Role.REINVITE and self.session.in_dialog:
            self.last_reinvite_status = 408
            ended = Ended(408, HangupBy.NETWORK, "no response to re-INVITE")
            return self._fire(Event.HANGUP, ended, now)
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
            return self._fire(Event.BYE_DONE, Ended(200, HangupBy.US, "hung up by us"))
        return []  # CANCEL's 200/481, a fork's BYE answer: nothing to do

    def _invite_response(self, response: Response, now: float) -> list[Output]:
        status = response.status
        if self.session.state is State.ENDED:
            # we gave up on this INVITE (no final after our CANCEL): a late 2xx still gets
            # its ACK and a BYE so that nothing stays up at the far end
            return self._stray_dialog(response, now) if 200 <= status < 300 else []
        if status < 200:
            return self._provisional_response(response, now)
        if status < 300:
            return self._first_2xx(response, now)
        cancelling = self.session.state is State.CANCELLING
        if status in (401, 407) and not cancelling and self._invite_auth:
            headers = self._invite_auth.answer(self.invite, response)
            if headers is not None:
                return self._retry_invite(headers, now)
            return self._fire(
                Event.FAILED, Ended(status, HangupBy.NETWORK, "authentication failed")
            )
        # when cancelling, the end we chose stands (the 487, or whatever crossed our CANCEL)
        ended = Ended(status, ended_by(status), response.reason or "failed")
        return self._fire(Event.FAILED, ended)

    def _provisional_response(self, response: Response, now: float) -> list[Output]:
        self._provisional = True
        self._progressed = self._progressed or response.status > 100
        out: list[Output] = []
        if self.session.state is State.CANCELLING:
            if self._cancel_deadline is None:  # our CANCEL waited for this (§9.1)
                out += self._send_cancel(now)
            return out
        if not self.session.early:
            return out
        out += self._fire(Event.TRYING)
        if response.status in (180, 183):
            out += self._fire(Event.RING, report=Ringing())
        if response.status > 100 and response.body:
            try:
                media = parse_answer(response.body, self.codecs, self.srtp)
            except SipError:
                return out  # early media is optional
            if media != self._early:
                self._early = media
                out += self._fire(Event.EARLY_MEDIA, report=EarlyMedia(media))
        return out

    def _first_2xx(self, response: Response, now: float) -> list[Output]:
        self.dialog = Dialog.from_2xx(self.invite, response, self.local)
        ack = self.dialog.ack(self._new_branch())
        self._acks[(self.dialog.remote_tag, self.dialog.invite_cseq)] = ack
        out: list[Output] = [Send(ack)]
        if self.session.state is State.CANCELLING:
            # our CANCEL crossed the 200: the call exists, so end it properly (the table
            # says BYE; the end stays the one we chose when we cancelled)
            return out + self._fire(Event.ANSWER, now=now)
        try:
            media = parse_answer(response.body, self.codecs, self.srtp)
        except SipError as err:
            # the reason names what was wrong (an SRTP key form we do not do, say): the
            # call's record then says why it failed
            ended = Ended(488, HangupBy.NETWORK, f"unusable SDP answer: {err}")
            return out + self._fire(Event.BAD_ANSWER, ended, now)
        self.media = media
        out += self._fire(Event.ANSWER, now=now, report=Answered(media))
        if media.on_hold:
            out += self._fire(Event.HOLD)
        return out

    def _late_2xx(self, response: Response, now: float) -> list[Output]:
        """A 2xx whose transaction is over: a retransmission (our ACK was lost); a second 2xx
        from another fork of a forked INVITE; or a 2xx to an INVITE we gave up on (Timer B
        fired while every response was lost). The last two are ACKed then BYE'd (§13.2.2.4),
        so that no call is left up at the far end."""
        tag = parse_name_addr(response.headers.get("To") or "").tag or ""
        number, _ = response.cseq
        ack = self._acks.get((tag, number))
        if ack is not None:
            return [Send(ack, again=True)]
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
                media = parse_answer(response.body, self.codecs, self.srtp)
            except SipError:
                return out
            return out + self._media_now(media)
        if status == 481:
            return self._fire(
                Event.FAILED, Ended(481, HangupBy.NETWORK, "the far end lost the call")
            )
        if status == 408 and self.session.in_dialog:
            ended = Ended(408, HangupBy.NETWORK, "re-INVITE timed out")
            return self._fire(Event.HANGUP, ended, now)
        return []  # 488, 491, 500...: the session goes on as it was

    def _cancel_in(self, request: Request, key: tuple[str, str, str], now: float) -> list[Output]:
        # we answer every INVITE at once, so there is never anything left to cancel
        invite_key = (key[0], key[1], "INVITE")
        status = 200 if invite_key in self._servers else 481
        return [Send(self._response_for(request, status))]

    def _response_for(
        self, request: Request, status: int, reason: str | None = None, body: bytes = b""
    ) -> Response:
        local_tag = self.dialog.local_tag if self.dialog else _tag_of(self.invite)
        response = self._base_response(request, status, reason, local_tag, body)
        if request.method in ("INVITE", "UPDATE") and 200 <= status < 300:
            response.headers.add("Contact", self.local.contact(_user_of_contact(self.invite)))
        if status in (491, 500) and request.method != "BYE":
            response.headers.add("Retry-After", "1")
        return response


def _sends(actions: list[TxAction]) -> list[Output]:
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
