"""Transactions under loss, duplication and reordering, on a clock we move by hand."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from voxcast.telephony.sip.core.message import Headers, Request, Response, parse, serialize
from voxcast.telephony.sip.core.transaction import (
    T2,
    Acked,
    Action,
    ClientInviteTransaction,
    ClientNonInviteTransaction,
    Deliver,
    Send,
    ServerInviteTransaction,
    ServerNonInviteTransaction,
    State,
    Terminated,
    TimedOut,
    client_key,
    server_key,
)


def request(method: str = "INVITE", branch: str = "z9hG4bK-1", cseq: int = 1) -> Request:
    h = Headers()
    h.add("Via", f"SIP/2.0/UDP 127.0.0.1:5070;branch={branch}")
    h.add("Route", "<sip:proxy.example;lr>")
    h.add("From", "<sip:voxcast@127.0.0.1>;tag=abc")
    h.add("To", "<sip:8613000000001@127.0.0.1>")
    h.add("Call-ID", "call-1@127.0.0.1")
    h.add("CSeq", f"{cseq} {method}")
    return Request(method, "sip:8613000000001@127.0.0.1", h)


def response(status: int, req: Request, tag: str = "far") -> Response:
    h = Headers()
    for via in req.headers.get_all("Via"):
        h.add("Via", via)
    h.add("From", req.headers.get("From") or "")
    h.add("To", f"{req.headers.get('To')};tag={tag}")
    h.add("Call-ID", req.call_id)
    h.add("CSeq", req.headers.get("CSeq") or "")
    # through the wire format, as the transport would hand it over
    msg = parse(serialize(Response(status, "x", h)))
    assert isinstance(msg, Response)
    return msg


def sends(actions: list[Action]) -> int:
    return sum(isinstance(a, Send) for a in actions)


def kinds(actions: list[Action]) -> list[type]:
    return [type(a) for a in actions]


def run_clock(
    tx: ClientInviteTransaction
    | ClientNonInviteTransaction
    | ServerInviteTransaction
    | ServerNonInviteTransaction,
    until: float,
    start: float = 0.0,
    step: float = 0.05,
) -> list[Action]:
    out: list[Action] = []
    t = start
    while t <= until:
        out += tx.tick(t)
        t = round(t + step, 3)
    return out


def send_times(
    tx: ClientInviteTransaction | ClientNonInviteTransaction | ServerInviteTransaction,
    until: float,
    step: float = 0.05,
) -> list[float]:
    times = []
    t = 0.0
    while t <= until:
        if any(isinstance(a, Send) for a in tx.tick(t)):
            times.append(t)
        t = round(t + step, 3)
    return times


# -- client INVITE --------------------------------------------------------------------------------


def test_unanswered_invite_is_retransmitted_with_doubling_then_times_out() -> None:
    tx = ClientInviteTransaction(request(), 0.0)
    first = tx.start()
    assert sends(first) == 1 and not first[0].again  # type: ignore[union-attr]
    # Timer A fires at 0.5, 1.5, 3.5, 7.5, 15.5 and 31.5 s; Timer B at 32 s
    assert send_times(tx, 31.9) == [0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    assert kinds(tx.tick(32.0)) == [TimedOut, Terminated]
    assert tx.state is State.TERMINATED and tx.deadline is None


def test_a_retransmission_is_marked_as_sent_again() -> None:
    """The transport counts them (voxcast_sip_retransmissions_total): a steady rate says the
    answers come, or are read, later than T1."""
    tx = ClientInviteTransaction(request(), 0.0)
    assert tx.start() == [Send(request())]
    assert tx.tick(0.5) == [Send(request(), again=True)]
    bye = ClientNonInviteTransaction(request("BYE"), 0.0)
    assert bye.start() == [Send(request("BYE"))]
    assert bye.tick(0.5) == [Send(request("BYE"), again=True)]


def test_invite_over_a_reliable_transport_is_never_retransmitted() -> None:
    tx = ClientInviteTransaction(request(), 0.0, reliable=True)
    tx.start()
    assert send_times(tx, 31.9) == []
    assert kinds(tx.tick(32.0)) == [TimedOut, Terminated]


def test_provisional_stops_retransmissions_and_timer_b() -> None:
    req = request()
    tx = ClientInviteTransaction(req, 0.0)
    tx.start()
    tx.tick(0.5)
    assert kinds(tx.receive(response(180, req), 0.6)) == [Deliver]
    assert sends(run_clock(tx, 120.0, start=0.6)) == 0
    assert tx.state is State.PROCEEDING and tx.deadline is None  # the user agent CANCELs


def test_busy_is_acked_once_per_copy_and_delivered_once() -> None:
    req = request()
    tx = ClientInviteTransaction(req, 0.0)
    tx.start()
    first = tx.receive(response(486, req), 0.2)
    assert kinds(first) == [Send, Deliver]
    ack = first[0].message  # type: ignore[union-attr]
    assert isinstance(ack, Request) and ack.method == "ACK"
    assert client_key(ack)[0] == "z9hG4bK-1" and ack.headers.get("CSeq") == "1 ACK"
    assert ack.uri == req.uri
    assert "tag=far" in (ack.headers.get("To") or "")
    assert ack.headers.get_all("Route") == ["<sip:proxy.example;lr>"]
    assert isinstance(parse(serialize(ack)), Request)
    assert not first[0].again  # type: ignore[union-attr]
    for t in (0.9, 1.5, 20.0):  # the 486 retransmitted: our ACK was lost
        assert tx.receive(response(486, req), t) == [Send(ack, again=True)]
    assert sends(run_clock(tx, 31.0, start=0.2)) == 0  # no INVITE retransmission after a final
    assert kinds(tx.tick(32.2)) == [Terminated]
    assert tx.state is State.TERMINATED
    assert tx.receive(response(486, req), 40.0) == []


def test_final_over_reliable_transport_terminates_at_once() -> None:
    req = request()
    tx = ClientInviteTransaction(req, 0.0, reliable=True)
    tx.start()
    assert kinds(tx.receive(response(404, req), 0.2)) == [Send, Deliver, Terminated]


def test_2xx_terminates_and_late_or_reordered_responses_are_ignored() -> None:
    req = request()
    tx = ClientInviteTransaction(req, 0.0)
    tx.start()
    assert kinds(tx.receive(response(200, req), 0.1)) == [Deliver, Terminated]
    assert tx.receive(response(180, req), 0.2) == []
    assert tx.receive(response(200, req), 0.3) == []
    assert tx.tick(100.0) == []


def test_a_lost_invite_is_recovered_by_retransmission() -> None:
    req = request()
    tx = ClientInviteTransaction(req, 0.0)
    tx.start()  # lost
    assert sends(tx.tick(0.5)) == 1  # this copy arrives
    assert kinds(tx.receive(response(100, req, tag=""), 0.55)) == [Deliver]
    assert kinds(tx.receive(response(200, req), 3.0)) == [Deliver, Terminated]


def test_reordered_180_after_486_is_not_delivered() -> None:
    req = request()
    tx = ClientInviteTransaction(req, 0.0)
    tx.start()
    assert kinds(tx.receive(response(486, req), 0.3)) == [Send, Deliver]
    assert tx.receive(response(180, req), 0.31) == []


def test_responses_match_by_branch_and_method_not_call_id() -> None:
    invite, cancel = request("INVITE"), request("CANCEL")
    assert client_key(response(487, invite)) == ("z9hG4bK-1", "INVITE")
    assert client_key(response(200, cancel)) == ("z9hG4bK-1", "CANCEL")
    other = request("INVITE", branch="z9hG4bK-2")
    assert client_key(response(401, other)) != client_key(invite)
    same_call_id_other_branch = response(200, other)
    assert same_call_id_other_branch.call_id == invite.call_id
    assert client_key(same_call_id_other_branch) != client_key(invite)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    copies=st.lists(
        st.tuples(st.sampled_from([100, 180, 183, 486, 487, 503]), st.integers(0, 3)),
        min_size=1,
        max_size=12,
    ),
    order=st.randoms(use_true_random=False),
)
def test_any_mix_of_lost_duplicated_and_reordered_responses_delivers_one_final(
    copies: list[tuple[int, int]], order: object
) -> None:
    """Whatever the network does, the user agent hears of at most one final, every copy of a
    final that arrives is ACKed, and nothing is delivered after the final."""
    req = request()
    tx = ClientInviteTransaction(req, 0.0)
    tx.start()
    arrivals = [status for status, n in copies for _ in range(n)]  # n = 0: lost
    order.shuffle(arrivals)  # type: ignore[attr-defined]
    finals_delivered: list[int] = []
    acks = 0
    final_copies = 0
    seen_final = False
    t = 0.0
    for status in arrivals:
        t += 0.1
        tx.tick(t)
        out = tx.receive(response(status, req), t)
        delivered = [a.response.status for a in out if isinstance(a, Deliver)]
        if seen_final:
            assert delivered == []
        if status >= 300:
            final_copies += 1
            seen_final = True
        finals_delivered += [s for s in delivered if s >= 200]
        acks += sum(
            1
            for a in out
            if isinstance(a, Send) and isinstance(a.message, Request) and a.message.method == "ACK"
        )
    assert len(finals_delivered) == (1 if final_copies else 0)
    assert acks == final_copies


# -- client non-INVITE ----------------------------------------------------------------------------


def test_bye_retransmits_capped_at_t2_and_times_out_after_32_s() -> None:
    tx = ClientNonInviteTransaction(request("BYE"), 0.0)
    tx.start()
    # 0.5, 1.5, 3.5, 7.5, then every 4 s up to 31.5
    assert send_times(tx, 31.9) == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    assert kinds(tx.tick(32.0)) == [TimedOut, Terminated]


def test_non_invite_after_a_provisional_retransmits_every_t2() -> None:
    req = request("BYE")
    tx = ClientNonInviteTransaction(req, 0.0)
    tx.start()
    tx.tick(0.5)
    assert kinds(tx.receive(response(100, req), 0.6)) == [Deliver]
    out = run_clock(tx, 20.0, start=0.6)
    assert sends(out) == 5  # 1.5, then every T2
    assert T2 == 4.0


def test_bye_answered_absorbs_duplicates_then_timer_k_ends_it() -> None:
    req = request("BYE")
    tx = ClientNonInviteTransaction(req, 0.0)
    tx.start()
    assert kinds(tx.receive(response(200, req), 0.2)) == [Deliver]
    assert tx.receive(response(200, req), 0.3) == []
    assert tx.receive(response(481, req), 0.4) == []
    assert sends(run_clock(tx, 5.25, start=0.2)) == 0
    assert tx.state is State.TERMINATED


def test_non_invite_over_reliable_transport_terminates_with_its_final() -> None:
    req = request("OPTIONS")
    tx = ClientNonInviteTransaction(req, 0.0, reliable=True)
    tx.start()
    assert send_times(tx, 10.0) == []
    assert kinds(tx.receive(response(200, req), 1.0)) == [Deliver, Terminated]


# -- server transactions --------------------------------------------------------------------------


def far_request(method: str, branch: str = "z9hG4bK-far-1", cseq: int = 7) -> Request:
    h = Headers()
    h.add("Via", f"SIP/2.0/UDP 127.0.0.1:5080;branch={branch}")
    h.add("From", "<sip:8613000000001@127.0.0.1>;tag=far")
    h.add("To", "<sip:voxcast@127.0.0.1>;tag=ours")
    h.add("Call-ID", "call-1@127.0.0.1")
    h.add("CSeq", f"{cseq} {method}")
    return Request(method, "sip:voxcast@127.0.0.1:5070", h)


def answer(req: Request, status: int) -> Response:
    h = Headers()
    for via in req.headers.get_all("Via"):
        h.add("Via", via)
    for name in ("From", "To", "Call-ID", "CSeq"):
        h.add(name, req.headers.get(name) or "")
    return Response(status, "x", h)


def test_server_non_invite_answers_retransmissions_with_the_same_response() -> None:
    bye = far_request("BYE")
    tx = ServerNonInviteTransaction(bye, 0.0)
    assert tx.receive(bye, 0.1) == []  # nothing to re-send before we answered
    ok = answer(bye, 200)
    assert tx.respond(ok, 0.1) == [Send(ok)]
    assert tx.receive(bye, 0.6) == [Send(ok, again=True)]
    assert tx.receive(bye, 1.6) == [Send(ok, again=True)]
    assert tx.respond(answer(bye, 500), 1.7) == []  # one final only
    assert run_clock(tx, 32.0, start=1.7) == []
    assert kinds(tx.tick(32.2)) == [Terminated]


def test_server_invite_2xx_is_resent_until_the_ack() -> None:
    reinvite = far_request("INVITE")
    tx = ServerInviteTransaction(reinvite, 0.0)
    ok = answer(reinvite, 200)
    assert tx.respond(ok, 0.0) == [Send(ok)]
    assert send_times(tx, 8.0) == [0.5, 1.5, 3.5, 7.5]
    assert tx.receive(reinvite, 8.1) == [Send(ok, again=True)]  # the INVITE again: the 200 again
    ack = far_request("ACK", branch="z9hG4bK-far-ack", cseq=7)
    assert tx.matches_ack(ack)
    assert not tx.matches_ack(far_request("ACK", branch="z9hG4bK-x", cseq=8))
    assert kinds(tx.receive(ack, 8.2)) == [Acked, Terminated]
    assert tx.tick(40.0) == []


def test_server_invite_2xx_without_ack_times_out() -> None:
    reinvite = far_request("INVITE")
    tx = ServerInviteTransaction(reinvite, 0.0)
    tx.respond(answer(reinvite, 200), 0.0)
    out = run_clock(tx, 32.0)
    assert kinds(out)[-2:] == [TimedOut, Terminated]


def test_server_invite_error_is_resent_until_acked_then_absorbs_ack_copies() -> None:
    reinvite = far_request("INVITE")
    tx = ServerInviteTransaction(reinvite, 0.0)
    busy = answer(reinvite, 488)
    tx.respond(busy, 0.0)
    assert send_times(tx, 2.0) == [0.5, 1.5]
    ack = far_request("ACK", branch="z9hG4bK-far-1")  # same branch as the INVITE
    assert server_key(ack) == server_key(reinvite)
    assert tx.matches_ack(ack)
    assert kinds(tx.receive(ack, 2.0)) == [Acked]
    assert tx.receive(ack, 2.5) == [] and tx.receive(reinvite, 2.6) == []
    assert run_clock(tx, 6.9, start=2.0) == []
    assert kinds(tx.tick(7.1)) == [Terminated]


def test_server_keys_differ_by_branch_sent_by_and_method() -> None:
    bye = far_request("BYE")
    assert server_key(bye) == ("z9hG4bK-far-1", "127.0.0.1:5080", "BYE")
    assert server_key(far_request("INFO")) != server_key(bye)
    assert server_key(far_request("BYE", branch="z9hG4bK-far-2")) != server_key(bye)
