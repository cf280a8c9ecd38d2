"""RFC 3261 §17.1 client transactions as pure state machines: fed responses and clock ticks,
they return actions (send this, deliver that, time out). No sockets, no sleeping.

Responses are matched to a transaction by the top Via branch and the CSeq method (§17.1.3),
never by Call-ID alone; the caller does the matching with `key_of`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from voxcast.telephony.sip.message import (
    Headers,
    Message,
    Request,
    Response,
    parse_cseq,
    parse_via,
)

T1 = 0.5  # RTT estimate
T2 = 4.0  # maximum retransmit interval for non-INVITE requests
T4 = 5.0  # how long a message stays in the network


@dataclass(frozen=True)
class Send:
    message: Message


@dataclass(frozen=True)
class Deliver:
    response: Response


@dataclass(frozen=True)
class TimedOut:
    """No final response in time (Timer B or F): the request failed (treat as 408)."""


Action = Send | Deliver | TimedOut


class State(Enum):
    CALLING = "calling"
    TRYING = "trying"
    PROCEEDING = "proceeding"
    COMPLETED = "completed"
    TERMINATED = "terminated"


def key_of(message: Message) -> tuple[str, str]:
    """(top Via branch, CSeq method): what ties a response to its client transaction.
    An ACK or CANCEL is its own method, so it never matches the INVITE's transaction."""
    vias = message.headers.get_all("Via")
    branch = parse_via(vias[0]).branch if vias else None
    _, method = parse_cseq(message.headers.get("CSeq") or "")
    return branch or "", method


def ack_for(request: Request, response: Response) -> Request:
    """The ACK a client INVITE transaction sends for a 3xx-6xx (§17.1.1.3): same branch,
    the response's To (with its tag), the INVITE's Route set."""
    headers = Headers()
    headers.add("Via", request.headers.get_all("Via")[0])
    for route in request.headers.get_all("Route"):
        headers.add("Route", route)
    headers.add("From", request.headers.get("From") or "")
    headers.add("To", response.headers.get("To") or request.headers.get("To") or "")
    headers.add("Call-ID", request.call_id)
    number, _ = parse_cseq(request.headers.get("CSeq") or "")
    headers.add("CSeq", f"{number} ACK")
    headers.add("Max-Forwards", "70")
    return Request("ACK", request.uri, headers)


class ClientInviteTransaction:
    """§17.1.1: CALLING → PROCEEDING → (2xx: TERMINATED) | (≥300: COMPLETED → TERMINATED)."""

    def __init__(self, request: Request, now: float, *, reliable: bool = False) -> None:
        self.request = request
        self.reliable = reliable
        self.state = State.CALLING
        self._interval = T1
        self._timer_a: float | None = None if reliable else now + T1
        self._timer_b: float | None = now + 64 * T1
        self._timer_d: float | None = None
        self._ack: Request | None = None

    def start(self) -> list[Send]:
        return [Send(self.request)]

    @property
    def deadline(self) -> float | None:
        """When `tick` next has something to do (None: nothing pending)."""
        times = [t for t in (self._timer_a, self._timer_b, self._timer_d) if t is not None]
        return min(times) if times and self.state is not State.TERMINATED else None

    def receive(self, response: Response, now: float) -> list[Action]:
        if self.state is State.TERMINATED:
            return []
        if response.status < 200:
            if self.state in (State.CALLING, State.PROCEEDING):
                self.state = State.PROCEEDING
                # the far end has the INVITE: no more retransmissions, and no Timer B; how
                # long to ring is the user agent's decision (it CANCELs)
                self._timer_a = self._timer_b = None
                return [Deliver(response)]
            return []
        if response.status < 300:
            if self.state in (State.CALLING, State.PROCEEDING):
                # the 2xx is ACKed by the dialog, end to end; retransmissions go there too
                self._terminate()
                return [Deliver(response)]
            return []
        if self.state in (State.CALLING, State.PROCEEDING):
            self.state = State.COMPLETED
            self._timer_a = self._timer_b = None
            self._timer_d = now + (0.0 if self.reliable else 32.0)
            self._ack = ack_for(self.request, response)
            return [Send(self._ack), Deliver(response)]
        if self.state is State.COMPLETED and self._ack is not None:
            return [Send(self._ack)]  # a retransmitted final: ACK again, tell no one
        return []

    def tick(self, now: float) -> list[Action]:
        actions: list[Action] = []
        if self.state is State.CALLING:
            if self._timer_b is not None and now >= self._timer_b:
                self._terminate()
                return [TimedOut()]
            if self._timer_a is not None and now >= self._timer_a:
                self._interval *= 2
                self._timer_a = now + self._interval
                actions.append(Send(self.request))
        elif self.state is State.COMPLETED and self._timer_d is not None and now >= self._timer_d:
            self._terminate()
        return actions

    def _terminate(self) -> None:
        self.state = State.TERMINATED
        self._timer_a = self._timer_b = self._timer_d = None


class ClientNonInviteTransaction:
    """§17.1.2 (BYE, CANCEL, OPTIONS, INFO, REGISTER): TRYING → PROCEEDING → COMPLETED."""

    def __init__(self, request: Request, now: float, *, reliable: bool = False) -> None:
        self.request = request
        self.reliable = reliable
        self.state = State.TRYING
        self._interval = T1
        self._timer_e: float | None = None if reliable else now + T1
        self._timer_f: float | None = now + 64 * T1
        self._timer_k: float | None = None

    def start(self) -> list[Send]:
        return [Send(self.request)]

    @property
    def deadline(self) -> float | None:
        times = [t for t in (self._timer_e, self._timer_f, self._timer_k) if t is not None]
        return min(times) if times and self.state is not State.TERMINATED else None

    def receive(self, response: Response, now: float) -> list[Action]:
        if self.state not in (State.TRYING, State.PROCEEDING):
            return []  # retransmissions of the final are absorbed
        if response.status < 200:
            self.state = State.PROCEEDING
            return [Deliver(response)]
        self.state = State.COMPLETED
        self._timer_e = self._timer_f = None
        self._timer_k = now + (0.0 if self.reliable else T4)
        return [Deliver(response)]

    def tick(self, now: float) -> list[Action]:
        if self.state in (State.TRYING, State.PROCEEDING):
            if self._timer_f is not None and now >= self._timer_f:
                self.state = State.TERMINATED
                self._timer_e = self._timer_f = None
                return [TimedOut()]
            if self._timer_e is not None and now >= self._timer_e:
                cap = T2
                self._interval = min(self._interval * 2, cap) if self.state is State.TRYING else T2
                self._timer_e = now + self._interval
                return [Send(self.request)]
        elif self.state is State.COMPLETED and self._timer_k is not None and now >= self._timer_k:
            self.state = State.TERMINATED
            self._timer_k = None
        return []
