"""What both user agents do once a call has a dialog, whichever side sent the INVITE: serve the
far end's in-dialog requests (BYE, INFO, OPTIONS, re-INVITE and UPDATE with hold and resume,
glare), their server transactions and retransmissions, our BYE, and the call's `Session`.
`useragent.OutboundCall` (UAC) and `inbound.InboundCall` (UAS) add how the call starts."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

from voxcast.ports import HangupBy
from voxcast.telephony.sip.core.dialog import ALLOW, Dialog, Local
from voxcast.telephony.sip.core.message import Request, Response, SipError, response_to
from voxcast.telephony.sip.core.sdes import SrtpOffer
from voxcast.telephony.sip.core.sdp import Media, answer_to, parse_answer, parse_offer
from voxcast.telephony.sip.core.session import Action, Ended, Event, Session, State
from voxcast.telephony.sip.core.transaction import (
    Acked,
    ClientNonInviteTransaction,
    Send,
    ServerInviteTransaction,
    ServerNonInviteTransaction,
    ServerTransaction,
    Terminated,
    TimedOut,
    server_key,
)
from voxcast.telephony.sip.core.transaction import Action as TxAction

__all__ = [
    "Answered",
    "CallAgent",
    "CallEvent",
    "DtmfInfo",
    "EarlyMedia",
    "Ended",
    "MediaChanged",
    "OurSdp",
    "Output",
    "Ringing",
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


CallEvent = Ringing | EarlyMedia | Answered | MediaChanged | DtmfInfo | Ended
#: a user agent's outputs: messages for the transport, and the call's events
Output = Send | CallEvent


#: methods we know but do not serve (405 with Allow); anything else unknown gets 501
KNOWN_UNSUPPORTED = frozenset(
    {"REGISTER", "SUBSCRIBE", "NOTIFY", "REFER", "MESSAGE", "PUBLISH", "PRACK"}
)
SERVED = frozenset({"BYE", "INFO", "OPTIONS", "INVITE", "UPDATE"})
DTMF_KEYS = "0123456789*#ABCD"


@dataclass
class OurSdp:
    """Our side of the media, to answer the far end's re-offers with: where our RTP is, the
    o= line's session and version (one more for each answer), our SRTP offer and key, and our
    whole offer for an offerless re-INVITE (None: refuse one with 488)."""

    address: str
    port: int
    session_id: int
    version: int
    srtp: SrtpOffer | None = None
    offer: bytes | None = None

    @property
    def srtp_key(self) -> bytes | None:
        return self.srtp.cryptos[0].key if self.srtp is not None else None

    def next_version(self) -> int:
        self.version += 1
        return self.version


class CallAgent(ABC):
    """The shared half of a user agent; see the module docstring. Subclasses set `dialog`
    when the call is answered, `our_sdp` once our media is known, and implement
    `_response_for` (the headers of their responses) and `_cancel_in` (a far CANCEL)."""

    #: how the far end is named in the reason when it hangs up
    far_end = "far end"

    def __init__(
        self,
        *,
        session: Session,
        local: Local,
        codecs: tuple[int, ...],
        new_branch: Callable[[], str],
    ) -> None:
        self.session = session
        self.local = local
        self.codecs = codecs
        self._new_branch = new_branch
        self.dialog: Dialog | None = None
        self.media: Media | None = None
        self.our_sdp: OurSdp | None = None
        self._servers: dict[tuple[str, str, str], ServerTransaction] = {}
        self._offerless: set[int] = set()  # CSeqs of re-INVITEs we answered with an offer

    # -- what both roles tell ------------------------------------------------------------

    #: the INVITE that made the call (ours, or the caller's)
    invite: Request

    @property
    def call_id(self) -> str:
        return self.invite.call_id

    @property
    def state(self) -> State:
        return self.session.state

    @property
    @abstractmethod
    def deadline(self) -> float | None:
        """When `tick` next has something to do (None: nothing pending)."""

    @property
    def finished(self) -> bool:
        """Ended, and no transaction left that still absorbs retransmissions."""
        return self.session.state is State.ENDED and self.deadline is None

    # -- the session ---------------------------------------------------------------------

    def _fire(
        self,
        event: Event,
        end: Ended | None = None,
        now: float = 0.0,
        report: CallEvent | None = None,
    ) -> list[Output]:
        """Move the session and carry out what the table says: `report` is the event to
        report if the table says so (Ringing, EarlyMedia, Answered), `end` how the call
        ends if this ends it. What only one role does (CANCEL, a refusal) is `_act`'s."""
        out: list[Output] = []
        for action in self.session.fire(event, end):
            if action is Action.SEND_BYE:
                out += self._send_bye(now)
            elif action is Action.REPORT_END:
                assert self.session.end is not None
                out.append(self.session.end)
            elif action in _REPORTS:
                assert report is not None, f"{event} reports, but nothing to report"
                out.append(report)
            else:
                out += self._act(action, now)
        return out

    @abstractmethod
    def _act(self, action: Action, now: float) -> list[Output]:
        """Carry out what the session table says (each role's own actions)."""

    @abstractmethod
    def _send_bye(self, now: float) -> list[Output]:
        """Our BYE (each role builds its own request)."""

    def _new_bye(self) -> Request:
        assert self.dialog is not None
        return self.dialog.request("BYE", self._new_branch())

    def _media_now(self, media: Media) -> list[Output]:
        """The far end's media changed in the dialog (a re-offer, an answer): hold follows it."""
        self.media = media
        out = self._fire(Event.HOLD if media.on_hold else Event.RESUME)
        return [*out, MediaChanged(media)]

    def _our_reinvite_pending(self) -> bool:
        return False

    # -- requests from the far end --------------------------------------------------------

    def _request_in(self, request: Request, now: float) -> list[Output]:
        if request.method == "ACK":
            for skey, stx in list(self._servers.items()):
                if isinstance(stx, ServerInviteTransaction) and stx.matches_ack(request):
                    return self._server_actions(skey, stx, stx.receive(request, now), now)
            return []  # an ACK for nothing we know (e.g. a copy after the transaction ended)
        key = server_key(request)
        existing = self._servers.get(key)
        if existing is not None:  # a retransmission: the same answer again
            return self._server_actions(key, existing, existing.receive(request, now), now)
        if request.method == "CANCEL":
            return self._cancel_in(request, key, now)
        dialog = self.dialog
        if dialog is None or not self.session.dialog_up or not dialog.matches(request):
            return [Send(self._response_for(request, 481))]
        if request.method not in SERVED:
            status = 405 if request.method in KNOWN_UNSUPPORTED else 501
            return [Send(self._response_for(request, status))]
        if not dialog.accept_remote_cseq(request):
            return [Send(self._response_for(request, 500, "Out of order CSeq"))]
        tx: ServerTransaction
        if request.method == "INVITE":
            tx = ServerInviteTransaction(request, now, reliable=self.local.reliable)
        else:
            tx = ServerNonInviteTransaction(request, now, reliable=self.local.reliable)
        self._servers[key] = tx
        response, then = self._serve(request, dialog)
        out = self._server_actions(key, tx, tx.respond(response, now), now)
        return out + then(now)

    @abstractmethod
    def _cancel_in(self, request: Request, key: tuple[str, str, str], now: float) -> list[Output]:
        """A CANCEL from the far end (only the called side has an INVITE to cancel)."""

    def _serve(
        self, request: Request, dialog: Dialog
    ) -> tuple[Response, Callable[[float], list[Output]]]:
        """Our answer to a new in-dialog request, and what it does to the call once the
        answer is out."""
        method = request.method
        if method == "BYE":
            ended = Ended(200, HangupBy.CALLEE, f"{self.far_end} hung up")
            return self._response_for(request, 200), lambda now: self._fire(
                Event.FAR_BYE, ended, now
            )
        if method == "INFO":
            digit = _dtmf_info(request)
            events: list[Output] = []
            if digit is not None and self.session.in_dialog:
                events.append(DtmfInfo(digit))
            return self._response_for(request, 200), lambda now: events
        if method == "OPTIONS":
            return self._response_for(request, 200), _nothing
        # INVITE or UPDATE: a target refresh, perhaps with a new offer (hold, resume)
        if method == "INVITE" and self._our_reinvite_pending():
            return self._response_for(request, 491), _nothing  # glare (§14.2)
        dialog.refresh_target(request)
        ours = self.our_sdp
        if not request.body or ours is None:
            if method == "UPDATE":
                return self._response_for(request, 200), _nothing
            if ours is None or ours.offer is None:
                # without our whole offer the session simply stays as it is
                return self._response_for(request, 488), _nothing
            # an offerless re-INVITE: we offer in the 200, the answer comes in the ACK
            self._offerless.add(request.cseq[0])
            sdp = _with_version(ours.offer, ours.session_id, ours.next_version())
            return self._response_for(request, 200, body=sdp), _nothing
        try:
            theirs = parse_offer(request.body, self.codecs, ours.srtp_key)
        except SipError:
            return self._response_for(request, 488), _nothing
        if ours.srtp is not None and ours.srtp.mandatory and theirs.srtp is None:
            return self._response_for(request, 488), _nothing  # no falling back to plain RTP
        body = answer_to(theirs, ours.address, ours.port, ours.session_id, ours.next_version())
        return self._response_for(request, 200, body=body), lambda now: self._media_now(theirs)

    def _server_actions(
        self,
        key: tuple[str, str, str],
        tx: ServerTransaction,
        actions: list[TxAction],
        now: float,
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
                    ours = self.our_sdp
                    try:
                        media = parse_answer(
                            action.ack.body, self.codecs, ours.srtp if ours else None
                        )
                    except SipError:
                        continue
                    out += self._media_now(media)
            elif isinstance(action, TimedOut):
                # §13.3.1.4: our 2xx was never ACKed: the dialog is dead, say so with a BYE
                final = tx.final if isinstance(tx, ServerInviteTransaction) else None
                if final is not None and final.status < 300 and self.session.in_dialog:
                    ended = Ended(408, HangupBy.NETWORK, "no ACK for our 200")
                    out += self._fire(Event.HANGUP, ended, now)
        return out

    @abstractmethod
    def _response_for(
        self, request: Request, status: int, reason: str | None = None, body: bytes = b""
    ) -> Response:
        """A response to the far end's in-dialog `request` with this role's headers."""

    def _base_response(
        self, request: Request, status: int, reason: str | None, to_tag: str, body: bytes
    ) -> Response:
        """The headers both roles put on their responses."""
        response = response_to(request, status, reason, to_tag=to_tag, body=body)
        if status == 405 or (request.method == "OPTIONS" and status == 200):
            response.headers.add("Allow", ALLOW)
        if request.method == "OPTIONS" and status == 200:
            response.headers.add("Accept", "application/sdp, application/dtmf-relay")
        return response

    def _bye_transaction(self, now: float) -> tuple[ClientNonInviteTransaction, list[Output]]:
        tx = ClientNonInviteTransaction(self._new_bye(), now, reliable=self.local.reliable)
        return tx, [a for a in tx.start() if isinstance(a, Send)]


_REPORTS = frozenset({Action.REPORT_RINGING, Action.REPORT_EARLY, Action.REPORT_ANSWERED})


def _nothing(now: float) -> list[Output]:
    return []


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


def origin(sdp: bytes) -> tuple[int, int]:
    """(session id, version) from our own SDP's o= line."""
    for line in sdp.decode("utf-8", "replace").splitlines():
        if line.startswith("o="):
            fields = line[2:].split()
            if len(fields) >= 3 and fields[1].isdigit() and fields[2].isdigit():
                return int(fields[1]), int(fields[2])
    return 1, 1


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
