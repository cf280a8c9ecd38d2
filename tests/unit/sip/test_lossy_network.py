"""Whole calls through a network that drops, duplicates and reorders datagrams (hypothesis
chooses each datagram's fate), against a far end that behaves like a real UAS (it retransmits
its 200 until the ACK and its 487 until its ACK, as SIPp does). However the network behaves,
each call ends exactly once with the right code, and the far end is never left with a call
up (every 200 it sent is ACKed, and the call is then BYE'd)."""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from voxcast.ports import HangupBy
from voxcast.telephony.sip.core.dialog import Local
from voxcast.telephony.sip.core.message import (
    Message,
    Request,
    Response,
    parse,
    response_to,
    serialize,
)
from voxcast.telephony.sip.core.sdp import offer
from voxcast.telephony.sip.core.transaction import T1, T2, Send
from voxcast.telephony.sip.core.useragent import Answered, Ended, OutboundCall, Output

SDP = (
    b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=audio 7000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n"
)


@dataclass
class Resender:
    """A response re-sent with doubling up to T2 until stopped (Timer G / 2xx retransmit)."""

    message: Response
    next_at: float
    interval: float = T1
    until: float = 0.0


@dataclass
class FarEnd:
    """A UAS: 100 at once, 180, then 200 after `answer_after` (or never)."""

    answer_after: float | None
    hangs_up_at: float | None = None
    sent: list[tuple[float, Message]] = field(default_factory=list)
    invite: Request | None = None
    last: Response | None = None
    resender: Resender | None = None
    answered: bool = False
    acked: bool = False
    terminated: bool = False  # a final other than 200 was sent (487)
    bye_received: bool = False
    our_bye: Request | None = None
    our_bye_answered: bool = False
    bye_next: float = 0.0
    bye_interval: float = T1
    answer_at: float | None = None

    def out(self, now: float, message: Message) -> None:
        self.sent.append((now, message))

    def respond(self, now: float, status: int, body: bytes = b"") -> Response:
        assert self.invite is not None
        r = response_to(self.invite, status, to_tag="far" if status > 100 else None, body=body)
        if 200 <= status < 300:
            r.headers.add("Contact", "<sip:far@127.0.0.1:5060>")
        self.last = r
        self.out(now, r)
        return r

    def receive(self, now: float, msg: Message) -> None:
        if isinstance(msg, Response):
            if self.our_bye is not None and msg.cseq[1] == "BYE" and msg.status >= 200:
                self.our_bye_answered = True
            return
        if msg.method == "INVITE":
            if self.invite is None:
                self.invite = msg
                self.respond(now, 100)
                self.respond(now, 180)
                if self.answer_after is not None:
                    self.answer_at = now + self.answer_after
            elif self.last is not None:
                self.out(now, self.last)
        elif msg.method == "ACK":
            if self.resender is not None:
                self.resender = None
            if self.answered:
                self.acked = True
        elif msg.method == "CANCEL":
            self.out(now, response_to(msg, 200, to_tag="far"))
            if not self.answered and not self.terminated:
                self.terminated = True
                self.answer_at = None
                r = self.respond(now, 487)
                self.resender = Resender(r, now + T1, until=now + 64 * T1)
        elif msg.method == "BYE":
            self.bye_received = True
            self.out(now, response_to(msg, 200))

    def tick(self, now: float) -> None:
        if self.answer_at is not None and now >= self.answer_at:
            self.answer_at = None
            self.answered = True
            r = self.respond(now, 200, SDP)
            self.resender = Resender(r, now + T1, until=now + 64 * T1)
        if self.resender is not None and now >= self.resender.next_at:
            if now >= self.resender.until:
                self.resender = None
            else:
                self.out(now, self.resender.message)
                self.resender.interval = min(self.resender.interval * 2, T2)
                self.resender.next_at = now + self.resender.interval
        if (
            self.hangs_up_at is not None
            and now >= self.hangs_up_at
            and self.acked
            and not self.bye_received
            and self.our_bye is None
        ):
            assert self.invite is not None
            h = response_to(self.invite, 200, to_tag="far").headers
            bye = Request("BYE", "sip:voxcast@127.0.0.1:5070", h)
            bye.headers.set("From", h.get("To") or "")
            bye.headers.set("To", self.invite.headers.get("From") or "")
            bye.headers.set("CSeq", "1 BYE")
            bye.headers.set("Via", "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-far-bye")
            self.our_bye = bye
            self.bye_next = now
        if self.our_bye is not None and not self.our_bye_answered and now >= self.bye_next:
            self.out(now, self.our_bye)
            self.bye_next = now + self.bye_interval
            self.bye_interval = min(self.bye_interval * 2, T2)

    @property
    def next_deadline(self) -> float | None:
        times = [self.answer_at]
        if self.resender is not None:
            times.append(self.resender.next_at)
        if self.hangs_up_at is not None and self.our_bye is None and self.acked:
            # only a call that is up can be hung up (else the simulation would spin here)
            times.append(self.hangs_up_at)
        if self.our_bye is not None and not self.our_bye_answered:
            times.append(self.bye_next)
        present = [t for t in times if t is not None]
        return min(present) if present else None


def simulate(
    fates: list[tuple[int, float]],
    *,
    answer_after: float | None,
    we_hang_up_at: float | None,
    far_hangs_up_at: float | None = None,
) -> tuple[list[Output], FarEnd]:
    """Run one call to its end. Each datagram (either way) takes the next fate: (copies,
    delay); 0 copies is a loss, 2 a duplicate, the delays reorder. Once the fates run out the
    network is perfect, so every call must end."""
    counter = itertools.count(1)
    call = OutboundCall(
        local=Local("127.0.0.1", 5070),
        target_uri="sip:8613000000001@127.0.0.1:5060",
        from_uri="sip:voxcast@127.0.0.1",
        call_id="lossy-1",
        from_tag="ours",
        sdp_offer=offer("127.0.0.1", 40000, 1),
        new_branch=lambda: f"z9hG4bK-{next(counter)}",
    )
    far = FarEnd(answer_after, hangs_up_at=far_hangs_up_at)
    fate = iter(fates)
    queue: list[tuple[float, int, str, bytes]] = []
    seq = itertools.count()
    outputs: list[Output] = []

    def transmit(now: float, to: str, message: Message) -> None:
        copies, delay = next(fate, (1, 0.01))
        for i in range(copies):
            at = now + delay + 0.003 * i
            heapq.heappush(queue, (at, next(seq), to, serialize(message)))

    def ours(now: float, out: list[Output]) -> None:
        for o in out:
            if isinstance(o, Send):
                transmit(now, "far", o.message)
            else:
                outputs.append(o)

    ours(0.0, call.start(0.0))
    now = 0.0
    hung_up = False
    for _step in range(100_000):  # bounded: a stuck deadline fails instead of spinning
        if now >= 300.0:
            break
        candidates = [t for t in (call.deadline, far.next_deadline) if t is not None]
        if queue:
            candidates.append(queue[0][0])
        if we_hang_up_at is not None and not hung_up:
            candidates.append(we_hang_up_at)
        if not candidates:
            break
        now = max(now, min(candidates))
        if we_hang_up_at is not None and not hung_up and now >= we_hang_up_at:
            hung_up = True
            ours(now, call.hangup(now))
        while queue and queue[0][0] <= now:
            _, _, to, data = heapq.heappop(queue)
            message = parse(data)
            if to == "far":
                far.receive(now, message)
            else:
                ours(now, call.receive(message, now))
        far.tick(now)
        for at, message in far.sent:
            transmit(at, "us", message)
        far.sent.clear()
        if call.deadline is not None and now >= call.deadline:
            ours(now, call.tick(now))
        if call.finished and not queue and far.next_deadline is None:
            break
    else:
        raise AssertionError(f"the simulation did not advance past {now} s")
    return outputs, far


fates = st.lists(
    st.tuples(st.sampled_from([0, 0, 1, 1, 1, 2]), st.sampled_from([0.0, 0.01, 0.2, 0.7])),
    max_size=40,
)


def the_end(outputs: list[Output]) -> Ended:
    ends = [o for o in outputs if isinstance(o, Ended)]
    assert len(ends) == 1, outputs
    assert outputs[-1] is ends[0]
    assert sum(isinstance(o, Answered) for o in outputs) <= 1
    return ends[0]


@settings(max_examples=400, deadline=None, derandomize=True)
@given(fates)
def test_answered_then_hung_up_by_us_through_a_lossy_network(
    fates: list[tuple[int, float]],
) -> None:
    outputs, far = simulate(fates, answer_after=2.0, we_hang_up_at=10.0)
    end = the_end(outputs)
    if any(isinstance(o, Answered) for o in outputs):
        assert (end.code, end.by) == (200, HangupBy.US)
        assert far.acked and far.bye_received
    else:  # every INVITE copy (or every answer) was lost: the INVITE timed out
        assert end.code in (408, 487)
    if far.answered:
        assert far.bye_received  # never a call left up at the far end


@settings(max_examples=400, deadline=None, derandomize=True)
@given(fates, st.sampled_from([4.9, 5.0, 5.05, 5.3]))
def test_cancelled_while_ringing_possibly_crossing_the_200(
    fates: list[tuple[int, float]], hang_up_at: float
) -> None:
    outputs, far = simulate(fates, answer_after=5.0, we_hang_up_at=hang_up_at)
    end = the_end(outputs)
    if any(isinstance(o, Answered) for o in outputs):
        assert (end.code, end.by) == (200, HangupBy.US)
    else:
        assert end.by is HangupBy.US or end.code == 408
    if far.answered:
        assert far.acked and far.bye_received


@settings(max_examples=300, deadline=None, derandomize=True)
@given(fates)
def test_the_far_end_hangs_up_through_a_lossy_network(fates: list[tuple[int, float]]) -> None:
    outputs, far = simulate(fates, answer_after=1.0, we_hang_up_at=None, far_hangs_up_at=8.0)
    end = the_end(outputs)
    if any(isinstance(o, Answered) for o in outputs):
        assert (end.code, end.by) in ((200, HangupBy.CALLEE), (200, HangupBy.US))
        assert far.our_bye_answered or far.bye_received


@settings(max_examples=200, deadline=None, derandomize=True)
@given(fates)
def test_nobody_answers_and_the_ring_is_cancelled(fates: list[tuple[int, float]]) -> None:
    outputs, far = simulate(fates, answer_after=None, we_hang_up_at=20.0)
    end = the_end(outputs)
    assert end.by is HangupBy.US or end.code == 408
    assert not far.answered
