"""RFC 3261 §17 transactions as pure state machines: fed messages and clock ticks (`now` is
passed in, in seconds on any monotonic scale), they return actions (send this, deliver that,
timed out, terminated). No sockets, no sleeping.

Client side (§17.1): INVITE (Timers A, B, D; the ACK of a 3xx-6xx is built here with the
INVITE's branch) and non-INVITE (Timers E, F, K). Server side (§17.2, with RFC 6026's Accepted
state): INVITE (Timers G, H, I; a 2xx is re-sent until its ACK, Timer L) and non-INVITE
(Timer J), which answer retransmitted requests with the same response.

Matching (§17.1.3, §17.2.3) is the owner's job, with `client_key` (top Via branch and CSeq
method) and `server_key` (branch, sent-by, method; an ACK matches its INVITE): never by
Call-ID alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from voxcast.telephony.sip.core.message import (
    Headers,
    Message,
    Request,
    Response,
    parse_cseq,
    top_via,
)

T1 = 0.5  # RTT estimate
T2 = 4.0  # maximum retransmit interval for non-INVITE requests and INVITE responses
T4 = 5.0  # how long a message stays in the network
TIMEOUT = 64 * T1  # Timers B, F, H, J, L


@dataclass(frozen=True)
class Send:
    """A message for the transport; `again` when it was sent before (a retransmission, or the
    ACK of a final response the far end sent again): counted, they tell of a slow peer or a
    late reader."""

    message: Message
    again: bool = False


@dataclass(frozen=True)
class Deliver:
    """A response for the transaction user (client transactions)."""

    response: Response


@dataclass(frozen=True)
class Acked:
    """The ACK that confirmed our final response to an INVITE (server transactions); for an
    offerless re-INVITE it carries the far end's SDP answer."""

    ack: Request


@dataclass(frozen=True)
class TimedOut:
    """Client: no final response in time (Timer B or F: treat as 408). Server: our final
    response to an INVITE was never ACKed (Timer H or L)."""


@dataclass(frozen=True)
class Terminated:
    """The transaction is over: its owner may forget it."""


Action = Send | Deliver | Acked | TimedOut | Terminated


class State(Enum):
    CALLING = "calling"
    TRYING = "trying"
    PROCEEDING = "proceeding"
    ACCEPTED = "accepted"
    COMPLETED = "completed"
    CONFIRMED = "confirmed"
    TERMINATED = "terminated"


def client_key(message: Message) -> tuple[str, str]:
    """(top Via branch, CSeq method): what ties a response to its client transaction. An ACK or
    CANCEL carries its own method, so it never matches the INVITE's transaction."""
    _, method = parse_cseq(message.headers.get("CSeq") or "")
    return top_via(message).branch or "", method


#: kept for callers of the first version
key_of = client_key


def server_key(request: Request) -> tuple[str, str, str]:
    """(branch, sent-by, method) of a request we received (§17.2.3); an ACK is keyed as its
    INVITE so that the ACK of a non-2xx finds the transaction that sent the response."""
    via = top_via(request)
    method = "INVITE" if request.method == "ACK" else request.method
    return via.branch or "", via.sent_by.lower(), method


def ack_for(request: Request, response: Response) -> Request:
    """The ACK a client INVITE transaction sends for a 3xx-6xx (§17.1.1.3): same branch and
    Request-URI, the response's To (with its tag), the INVITE's Route set."""
    headers = Headers()
    headers.add("Via", request.headers.get_all("Via")[0])
    for route in request.headers.get_all("Route"):
        headers.add("Route", route)
    headers.add("Max-Forwards", "70")
    headers.add("From", request.headers.get("From") or "")
    headers.add("To", response.headers.get("To") or request.headers.get("To") or "")
    headers.add("Call-ID", request.call_id)
    number, _ = parse_cseq(request.headers.get("CSeq") or "")
    headers.add("CSeq", f"{number} ACK")
    return Request("ACK", request.uri, headers)


def _earliest(a: float | None, b: float | None, c: float | None) -> float | None:
    earliest = a
    if b is not None and (earliest is None or b < earliest):
        earliest = b
    if c is not None and (earliest is None or c < earliest):
        earliest = c
    return earliest


class ClientInviteTransaction:
    """§17.1.1: CALLING → PROCEEDING → (2xx: TERMINATED) | (≥300: COMPLETED → TERMINATED).

    A 1xx stops retransmission and Timer B: how long a call may ring is the user agent's
    decision (it CANCELs). A 2xx terminates the transaction; its retransmissions and their
    ACKs belong to the dialog (§13.2.2.4)."""

    def __init__(self, request: Request, now: float, *, reliable: bool = False) -> None:
        self.request = request
        self.reliable = reliable
        self.state = State.CALLING
        self._interval = T1
        self._timer_a: float | None = None if reliable else now + T1
        self._timer_b: float | None = now + TIMEOUT
        self._timer_d: float | None = None
        self._ack: Request | None = None

    def start(self) -> list[Action]:
        return [Send(self.request)]

    @property
    def deadline(self) -> float | None:
        """When `tick` next has something to do (None: nothing pending)."""
        if self.state is State.TERMINATED:
            return None
        return _earliest(self._timer_a, self._timer_b, self._timer_d)

    def receive(self, response: Response, now: float) -> list[Action]:
        if self.state is State.TERMINATED:
            return []
        live = self.state in (State.CALLING, State.PROCEEDING)
        if response.status < 200:
            if not live:
                return []  # a late provisional after the final: reordered, ignore
            self.state = State.PROCEEDING
            self._timer_a = self._timer_b = None
            return [Deliver(response)]
        if response.status < 300:
            if not live:
                return []
            self._terminate()
            return [Deliver(response), Terminated()]
        if live:
            self.state = State.COMPLETED
            self._timer_a = self._timer_b = None
            self._ack = ack_for(self.request, response)
            if self.reliable:  # Timer D is 0 on reliable transports
                self._terminate()
                return [Send(self._ack), Deliver(response), Terminated()]
            self._timer_d = now + 32.0
            return [Send(self._ack), Deliver(response)]
        if self.state is State.COMPLETED and self._ack is not None:
            # a retransmitted final: our ACK was lost; tell no one
            return [Send(self._ack, again=True)]
        return []

    def tick(self, now: float) -> list[Action]:
        if self.state is State.CALLING:
            if self._timer_b is not None and now >= self._timer_b:
                self._terminate()
                return [TimedOut(), Terminated()]
            if self._timer_a is not None and now >= self._timer_a:
                self._interval *= 2
                self._timer_a = now + self._interval
                return [Send(self.request, again=True)]
        elif self.state is State.COMPLETED and self._timer_d is not None and now >= self._timer_d:
            self._terminate()
            return [Terminated()]
        return []

    def _terminate(self) -> None:
        self.state = State.TERMINATED
        self._timer_a = self._timer_b = self._timer_d = None


class ClientNonInviteTransaction:
    """§17.1.2 (BYE, CANCEL, OPTIONS, INFO, REGISTER): TRYING → PROCEEDING → COMPLETED.
    Retransmits with doubling capped at T2 (at T2 once a provisional came)."""

    def __init__(self, request: Request, now: float, *, reliable: bool = False) -> None:
        self.request = request
        self.reliable = reliable
        self.state = State.TRYING
        self._interval = T1
        self._timer_e: float | None = None if reliable else now + T1
        self._timer_f: float | None = now + TIMEOUT
        self._timer_k: float | None = None

    def start(self) -> list[Action]:
        return [Send(self.request)]

    @property
    def deadline(self) -> float | None:
        if self.state is State.TERMINATED:
            return None
        return _earliest(self._timer_e, self._timer_f, self._timer_k)

    def receive(self, response: Response, now: float) -> list[Action]:
        if self.state not in (State.TRYING, State.PROCEEDING):
            return []  # retransmissions of the final are absorbed
        if response.status < 200:
            self.state = State.PROCEEDING
            return [Deliver(response)]
        self._timer_e = self._timer_f = None
        if self.reliable:  # Timer K is 0 on reliable transports
            self.state = State.TERMINATED
            return [Deliver(response), Terminated()]
        self.state = State.COMPLETED
        self._timer_k = now + T4
        return [Deliver(response)]

    def tick(self, now: float) -> list[Action]:
        if self.state in (State.TRYING, State.PROCEEDING):
            if self._timer_f is not None and now >= self._timer_f:
                self.state = State.TERMINATED
                self._timer_e = self._timer_f = None
                return [TimedOut(), Terminated()]
            if self._timer_e is not None and now >= self._timer_e:
                if self.state is State.TRYING:
                    self._interval = min(self._interval * 2, T2)
                else:
                    self._interval = T2
                self._timer_e = now + self._interval
                return [Send(self.request, again=True)]
        elif self.state is State.COMPLETED and self._timer_k is not None and now >= self._timer_k:
            self.state = State.TERMINATED
            self._timer_k = None
            return [Terminated()]
        return []


class ServerNonInviteTransaction:
    """§17.2.2, for BYE, INFO, OPTIONS, UPDATE we receive: a retransmitted request gets the
    same response again (the far end's retransmission means ours was lost); Timer J keeps the
    answer that long."""

    def __init__(self, request: Request, now: float, *, reliable: bool = False) -> None:
        self.request = request
        self.reliable = reliable
        self.state = State.TRYING
        self._last: Response | None = None
        self._timer_j: float | None = None

    @property
    def deadline(self) -> float | None:
        return None if self.state is State.TERMINATED else self._timer_j

    def respond(self, response: Response, now: float) -> list[Action]:
        if self.state not in (State.TRYING, State.PROCEEDING):
            return []
        self._last = response
        if response.status < 200:
            self.state = State.PROCEEDING
            return [Send(response)]
        if self.reliable:
            self.state = State.TERMINATED
            return [Send(response), Terminated()]
        self.state = State.COMPLETED
        self._timer_j = now + TIMEOUT
        return [Send(response)]

    def receive(self, request: Request, now: float) -> list[Action]:
        """A retransmission of our request."""
        if self.state in (State.PROCEEDING, State.COMPLETED) and self._last is not None:
            return [Send(self._last, again=True)]
        return []

    def tick(self, now: float) -> list[Action]:
        if self.state is State.COMPLETED and self._timer_j is not None and now >= self._timer_j:
            self.state = State.TERMINATED
            self._timer_j = None
            return [Terminated()]
        return []


class ServerInviteTransaction:
    """§17.2.1 with RFC 6026, for the re-INVITEs we receive. A 3xx-6xx is re-sent (Timer G)
    until its ACK (Timer H: none came); then Timer I absorbs ACK copies. A 2xx is re-sent with
    the same doubling until its ACK (§13.3.1.4; Timer L: none came). Either way a retransmitted
    INVITE gets the final response again."""

    def __init__(self, request: Request, now: float, *, reliable: bool = False) -> None:
        self.request = request
        self.reliable = reliable
        self.state = State.PROCEEDING
        self._last: Response | None = None
        self._interval = T1
        self._resend: float | None = None  # Timer G, or the 2xx retransmission timer
        self._give_up: float | None = None  # Timer H or L
        self._timer_i: float | None = None

    @property
    def cseq_number(self) -> int:
        return parse_cseq(self.request.headers.get("CSeq") or "")[0]

    @property
    def deadline(self) -> float | None:
        if self.state is State.TERMINATED:
            return None
        return _earliest(self._resend, self._give_up, self._timer_i)

    @property
    def awaiting_ack(self) -> bool:
        return self.state in (State.ACCEPTED, State.COMPLETED)

    @property
    def final(self) -> Response | None:
        """The final response we sent, if any."""
        if self._last is not None and self._last.status >= 200:
            return self._last
        return None

    def respond(self, response: Response, now: float) -> list[Action]:
        if self.state is not State.PROCEEDING:
            return []
        self._last = response
        if response.status >= 200:
            self.state = State.ACCEPTED if response.status < 300 else State.COMPLETED
            self._resend = None if self.reliable else now + T1
            self._give_up = now + TIMEOUT
        return [Send(response)]

    def matches_ack(self, ack: Request) -> bool:
        """The ACK of a non-2xx has our INVITE's branch; the ACK of a 2xx is a new transaction
        of the dialog, recognised by the INVITE's CSeq number (§13.2.2.4, §17.2.3)."""
        if self.state is State.COMPLETED:
            return top_via(ack).branch == top_via(self.request).branch
        if self.state is State.ACCEPTED:
            return parse_cseq(ack.headers.get("CSeq") or "")[0] == self.cseq_number
        return False

    def receive(self, request: Request, now: float) -> list[Action]:
        if request.method == "ACK":
            if self.state is State.COMPLETED:
                self.state = State.CONFIRMED
                self._resend = self._give_up = None
                if self.reliable:
                    self.state = State.TERMINATED
                    return [Acked(request), Terminated()]
                self._timer_i = now + T4
                return [Acked(request)]
            if self.state is State.ACCEPTED:
                self.state = State.TERMINATED
                self._resend = self._give_up = None
                return [Acked(request), Terminated()]
            return []  # an ACK copy in CONFIRMED: absorbed
        if self._last is not None and self.state in (
            State.PROCEEDING,
            State.ACCEPTED,
            State.COMPLETED,
        ):
            return [Send(self._last, again=True)]
        return []

    def tick(self, now: float) -> list[Action]:
        if self.state in (State.ACCEPTED, State.COMPLETED):
            if self._give_up is not None and now >= self._give_up:
                self.state = State.TERMINATED
                self._resend = self._give_up = None
                return [TimedOut(), Terminated()]
            if self._resend is not None and now >= self._resend and self._last is not None:
                self._interval = min(self._interval * 2, T2)
                self._resend = now + self._interval
                return [Send(self._last, again=True)]
        elif self.state is State.CONFIRMED and self._timer_i is not None and now >= self._timer_i:
            self.state = State.TERMINATED
            self._timer_i = None
            return [Terminated()]
        return []


ClientTransaction = ClientInviteTransaction | ClientNonInviteTransaction
ServerTransaction = ServerInviteTransaction | ServerNonInviteTransaction
