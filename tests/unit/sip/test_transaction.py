"""Client transactions under loss, duplication and reordering, on a clock we move by hand."""

from __future__ import annotations

from voxcast.telephony.sip.message import Headers, Request, Response, parse, serialize
from voxcast.telephony.sip.transaction import (
    ClientInviteTransaction,
    ClientNonInviteTransaction,
    Deliver,
    Send,
    State,
    TimedOut,
    key_of,
)


def request(method: str = "INVITE", branch: str = "z9hG4bK-1") -> Request:
    h = Headers()
    h.add("Via", f"SIP/2.0/UDP 127.0.0.1:5070;branch={branch}")
    h.add("Route", "<sip:proxy.example;lr>")
    h.add("From", "<sip:voxcast@127.0.0.1>;tag=abc")
    h.add("To", "<sip:8613000000001@127.0.0.1>")
    h.add("Call-ID", "call-1@127.0.0.1")
    h.add("CSeq", f"1 {method}")
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


def sends(actions: list[object]) -> int:
    return sum(isinstance(a, Send) for a in actions)


def run_clock(
    tx: ClientInviteTransaction | ClientNonInviteTransaction, until: float, step: float = 0.05
) -> list[object]:
    out: list[object] = []
    t = 0.0
    while t <= until:
        out += tx.tick(t)
        t = round(t + step, 3)
    return out


def test_unanswered_invite_is_retransmitted_with_doubling_then_times_out() -> None:
    tx = ClientInviteTransaction(request(), 0.0)
    assert sends(tx.start()) == 1
    actions = run_clock(tx, 33.0)
    # Timer A fires at 0.5, 1.5, 3.5, 7.5, 15.5 and 31.5 s; Timer B at 32 s
    assert sends(actions) == 6
    assert isinstance(actions[-1], TimedOut) and tx.state is State.TERMINATED


def test_provisional_stops_retransmissions_and_timer_b() -> None:
    req = request()
    tx = ClientInviteTransaction(req, 0.0)
    tx.start()
    tx.tick(0.5)
    assert [type(a) for a in tx.receive(response(180, req), 0.6)] == [Deliver]
    assert sends(run_clock(tx, 120.0)) == 0
    assert tx.state is State.PROCEEDING  # ringing may last: the user agent CANCELs


def test_busy_is_acked_once_per_copy_and_delivered_once() -> None:
    req = request()
    tx = ClientInviteTransaction(req, 0.0)
    tx.start()
    first = tx.receive(response(486, req), 0.2)
    assert [type(a) for a in first] == [Send, Deliver]
    ack = first[0].message  # type: ignore[union-attr]
    assert isinstance(ack, Request) and ack.method == "ACK"
    assert key_of(ack)[0] == "z9hG4bK-1" and ack.headers.get("CSeq") == "1 ACK"
    assert "tag=far" in (ack.headers.get("To") or "")
    assert ack.headers.get_all("Route") == ["<sip:proxy.example;lr>"]
    again = tx.receive(response(486, req), 0.9)  # the 486 retransmitted: our ACK was lost
    assert [type(a) for a in again] == [Send]
    tx.tick(33.0)
    assert tx.state is State.TERMINATED


def test_2xx_terminates_and_late_or_reordered_responses_are_ignored() -> None:
    req = request()
    tx = ClientInviteTransaction(req, 0.0)
    tx.start()
    assert [type(a) for a in tx.receive(response(200, req), 0.1)] == [Deliver]
    assert tx.receive(response(180, req), 0.2) == []
    assert tx.receive(response(200, req), 0.3) == []


def test_responses_match_by_branch_and_method_not_call_id() -> None:
    invite, cancel = request("INVITE"), request("CANCEL")
    assert key_of(response(487, invite)) == ("z9hG4bK-1", "INVITE")
    assert key_of(response(200, cancel)) == ("z9hG4bK-1", "CANCEL")
    other = request("INVITE", branch="z9hG4bK-2")
    assert key_of(response(401, other)) != key_of(invite)


def test_bye_retransmits_capped_at_t2_and_times_out_after_32_s() -> None:
    tx = ClientNonInviteTransaction(request("BYE"), 0.0)
    tx.start()
    actions = run_clock(tx, 33.0)
    # 0.5, 1.5, 3.5, 7.5, then every 4 s up to 31.5: 4 + 6 = 10 retransmissions
    assert sends(actions) == 10
    assert isinstance(actions[-1], TimedOut)


def test_bye_answered_absorbs_duplicates() -> None:
    req = request("BYE")
    tx = ClientNonInviteTransaction(req, 0.0)
    tx.start()
    assert [type(a) for a in tx.receive(response(200, req), 0.2)] == [Deliver]
    assert tx.receive(response(200, req), 0.3) == []
    assert sends(run_clock(tx, 10.0)) == 0
    assert tx.state is State.TERMINATED
