"""The inbound call state machine (the UAS) against a scripted caller, no sockets: 100 at
once, 180, 200 with an SDP answer re-sent until its ACK, refusals, CANCEL before the answer,
BYE from either side, and the dialog our BYE is built from."""

from __future__ import annotations

import itertools

from voxcast.ports import HangupBy
from voxcast.telephony.sip.core.dialog import Dialog, Local
from voxcast.telephony.sip.core.inbound import (
    Answered,
    DtmfInfo,
    Ended,
    InboundCall,
    MediaChanged,
    Output,
    dialed_number,
)
from voxcast.telephony.sip.core.message import Request, Response, parse, parse_name_addr, serialize
from voxcast.telephony.sip.core.sdp import PCMA, parse_answer
from voxcast.telephony.sip.core.session import State
from voxcast.telephony.sip.core.transaction import Send

OFFER = (
    b"v=0\r\no=caller 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=audio 6000 RTP/AVP 8 0 101\r\na=rtpmap:101 telephone-event/8000\r\n"
)
HOLD = OFFER + b"a=sendonly\r\n"


def invite(
    *,
    body: bytes = OFFER,
    uri: str = "sip:4001@127.0.0.1:5070",
    record_route: str | None = None,
) -> Request:
    rr = f"Record-Route: {record_route}\r\n" if record_route else ""
    text = (
        f"INVITE {uri} SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 127.0.0.1:6060;branch=z9hG4bK-inv-1;received=127.0.0.1;rport=6060\r\n"
        f"{rr}"
        'From: "Caller" <sip:8613800000001@127.0.0.1:6060>;tag=caller-tag\r\n'
        "To: <sip:4001@127.0.0.1:5070>\r\n"
        "Call-ID: in-1@127.0.0.1\r\n"
        "CSeq: 1 INVITE\r\n"
        "Contact: <sip:8613800000001@127.0.0.1:6060>\r\n"
        "Max-Forwards: 70\r\n"
        "Content-Type: application/sdp\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    message = parse(text)
    assert isinstance(message, Request)
    return message


def new_call(request: Request | None = None) -> InboundCall:
    counter = itertools.count(1)
    return InboundCall(
        invite=request or invite(),
        local=Local("127.0.0.1", 5070),
        local_tag="our-tag",
        new_branch=lambda: f"z9hG4bK-ours-{next(counter)}",
    )


def sent(out: list[Output]) -> list[Response | Request]:
    messages = [o.message for o in out if isinstance(o, Send)]
    # every message must survive the wire
    return [parse(serialize(m)) for m in messages]  # type: ignore[misc]


def statuses(out: list[Output]) -> list[int]:
    return [m.status for m in sent(out) if isinstance(m, Response)]


def events(out: list[Output]) -> list[object]:
    return [o for o in out if not isinstance(o, Send)]


def in_dialog(method: str, cseq: int, *, branch: str, body: bytes = b"") -> Request:
    ctype = "Content-Type: application/sdp\r\n" if body else ""
    text = (
        f"{method} sip:4001@127.0.0.1:5070 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:6060;branch={branch}\r\n"
        "From: <sip:8613800000001@127.0.0.1:6060>;tag=caller-tag\r\n"
        "To: <sip:4001@127.0.0.1:5070>;tag=our-tag\r\n"
        "Call-ID: in-1@127.0.0.1\r\n"
        f"CSeq: {cseq} {method}\r\n"
        "Contact: <sip:8613800000001@127.0.0.1:6060>\r\n"
        f"{ctype}Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    message = parse(text)
    assert isinstance(message, Request)
    return message


def ack(cseq: int = 1) -> Request:
    return in_dialog("ACK", cseq, branch="z9hG4bK-ack-1")


def cancel() -> Request:
    text = (
        b"CANCEL sip:4001@127.0.0.1:5070 SIP/2.0\r\n"
        b"Via: SIP/2.0/UDP 127.0.0.1:6060;branch=z9hG4bK-inv-1;received=127.0.0.1;rport=6060\r\n"
        b'From: "Caller" <sip:8613800000001@127.0.0.1:6060>;tag=caller-tag\r\n'
        b"To: <sip:4001@127.0.0.1:5070>\r\n"
        b"Call-ID: in-1@127.0.0.1\r\n"
        b"CSeq: 1 CANCEL\r\n"
        b"Content-Length: 0\r\n\r\n"
    )
    message = parse(text)
    assert isinstance(message, Request)
    return message


def answered_call() -> InboundCall:
    call = new_call()
    call.start(0.0)
    call.ring(0.1)
    call.answer(0.2, "127.0.0.1", 40000, 77)
    call.receive(ack(), 0.3)
    return call


def test_the_dialled_number_is_the_request_uri_user_else_the_to_user() -> None:
    assert dialed_number(invite()) == "4001"
    assert dialed_number(invite(uri="sip:127.0.0.1:5070")) == "4001"
    assert new_call().caller == "8613800000001"


def test_100_at_once_then_180_then_200_with_an_sdp_answer() -> None:
    call = new_call()
    out = call.start(0.0)
    assert statuses(out) == [100]
    assert parse_name_addr(sent(out)[0].headers.get("To") or "").tag is None
    out = call.ring(0.1)
    assert statuses(out) == [180]
    assert parse_name_addr(sent(out)[0].headers.get("To") or "").tag == "our-tag"
    assert call.ring(0.15) == []  # only once
    out = call.answer(0.2, "127.0.0.1", 40000, 77)
    (ok,) = sent(out)
    assert isinstance(ok, Response) and ok.status == 200
    assert ok.headers.get("Contact") == "<sip:4001@127.0.0.1:5070;transport=udp>"
    ours = parse_answer(ok.body, (PCMA,))
    assert (ours.address, ours.port, ours.codec, ours.dtmf_payload) == (
        "127.0.0.1",
        40000,
        PCMA,
        101,
    )
    (event,) = events(out)
    assert isinstance(event, Answered)
    assert (event.media.address, event.media.port, event.media.codec) == ("127.0.0.1", 6000, 8)
    assert call.state is State.ANSWERED


def test_the_200_is_resent_until_the_ack_and_absorbs_a_retransmitted_invite() -> None:
    call = new_call()
    call.start(0.0)
    call.answer(0.1, "127.0.0.1", 40000, 77)
    assert call.deadline == 0.6  # T1 = 0.5 s (RFC 3261 §17.2.1)
    assert statuses(call.tick(0.6)) == [200]
    assert statuses(call.receive(invite(), 0.7)) == [200]  # the INVITE again: the 200 again
    assert call.receive(ack(), 0.8) == []
    assert call.deadline is None
    assert call.tick(10.0) == []


def test_an_unacked_200_ends_the_call_with_a_bye() -> None:
    call = new_call()
    call.start(0.0)
    call.answer(0.0, "127.0.0.1", 40000, 77)
    out = call.tick(32.0)  # Timer H = 64 x T1 (RFC 3261 §17.2.1)
    (bye,) = sent(out)
    assert isinstance(bye, Request) and bye.method == "BYE"
    assert events(out) == [Ended(408, HangupBy.NETWORK, "no ACK for our 200")]


def test_refusals_end_the_call_and_wait_for_their_ack() -> None:
    for status in (404, 480, 486):
        call = new_call()
        call.start(0.0)
        out = call.reject(0.1, status, "why")
        assert statuses(out) == [status]
        assert events(out) == [Ended(status, HangupBy.US, "why")]
        assert not call.finished  # the 4xx is re-sent until its ACK
        call.receive(
            parse(  # type: ignore[arg-type]
                serialize(invite())
                .replace(b"INVITE sip:", b"ACK sip:", 1)
                .replace(b"CSeq: 1 INVITE", b"CSeq: 1 ACK")
            ),
            0.2,
        )
        assert call.deadline is not None  # Timer I absorbs ACK copies
        call.tick(10.0)
        assert call.finished


def test_an_offer_without_a_codec_we_speak_gets_488() -> None:
    call = new_call(invite(body=OFFER.replace(b"RTP/AVP 8 0 101", b"RTP/AVP 18")))
    out = call.start(0.0)
    assert statuses(out) == [488]
    assert events(out) == [Ended(488, HangupBy.NETWORK, "no usable SDP offer")]


def test_cancel_before_the_answer_gets_200_and_the_invite_487() -> None:
    call = new_call()
    call.start(0.0)
    call.ring(0.1)
    out = call.receive(cancel(), 0.5)
    got = sent(out)
    assert [(m.status, m.cseq[1]) for m in got if isinstance(m, Response)] == [
        (200, "CANCEL"),
        (487, "INVITE"),
    ]
    assert events(out) == [Ended(487, HangupBy.CALLEE, "caller cancelled")]
    assert call.answer(0.6, "127.0.0.1", 40000, 77) == []  # too late
    # a retransmitted CANCEL gets the same 200
    assert statuses(call.receive(cancel(), 0.7)) == [200]


def test_a_cancel_after_the_answer_changes_nothing() -> None:
    call = answered_call()
    out = call.receive(cancel(), 1.0)
    assert statuses(out) == [200]
    assert events(out) == []
    assert call.state is State.ANSWERED


def test_bye_from_the_caller() -> None:
    call = answered_call()
    out = call.receive(in_dialog("BYE", 2, branch="z9hG4bK-bye-1"), 5.0)
    assert statuses(out) == [200]
    assert events(out) == [Ended(200, HangupBy.CALLEE, "caller hung up")]
    assert statuses(call.receive(in_dialog("BYE", 2, branch="z9hG4bK-bye-1"), 5.1)) == [200]


def test_our_bye_goes_to_the_callers_contact_with_the_tags_swapped() -> None:
    call = answered_call()
    out = call.hangup(5.0, "agent hung up")
    (bye,) = sent(out)
    assert isinstance(bye, Request)
    assert bye.method == "BYE"
    assert bye.uri == "sip:8613800000001@127.0.0.1:6060"
    assert parse_name_addr(bye.headers.get("From") or "").tag == "our-tag"
    assert parse_name_addr(bye.headers.get("To") or "").tag == "caller-tag"
    assert bye.headers.get("CSeq") == "1 BYE"
    assert events(out) == [Ended(200, HangupBy.US, "agent hung up")]
    assert call.state is State.ENDING
    ok = Response(200, "OK", bye.headers, b"")
    assert call.receive(ok, 5.1) == []  # the call already reported its end
    assert call.state is State.ENDED
    assert not call.finished  # Timer K absorbs copies of the 200
    call.tick(10.1)  # Timer K = T4 = 5 s (RFC 3261 §17.1.2.2)
    assert call.finished


def test_hangup_before_the_answer_is_480() -> None:
    call = new_call()
    call.start(0.0)
    out = call.hangup(1.0, "no agent")
    assert statuses(out) == [480]
    assert events(out) == [Ended(480, HangupBy.US, "no agent")]


def test_requests_outside_the_dialog_get_481() -> None:
    call = new_call()
    call.start(0.0)
    assert statuses(call.receive(in_dialog("BYE", 2, branch="z9hG4bK-early"), 0.1)) == [481]


def test_reinvite_hold_and_info_dtmf() -> None:
    call = answered_call()
    out = call.receive(in_dialog("INVITE", 2, branch="z9hG4bK-re-1", body=HOLD), 2.0)
    assert statuses(out) == [200]
    (changed,) = events(out)
    assert isinstance(changed, MediaChanged) and changed.media.on_hold
    info = in_dialog("INFO", 3, branch="z9hG4bK-info-1")
    info.headers.add("Content-Type", "application/dtmf-relay")
    info.body = b"Signal=5\r\nDuration=160\r\n"
    out = call.receive(info, 3.0)
    assert statuses(out) == [200]
    assert events(out) == [DtmfInfo("5")]


def test_a_caller_holding_then_resuming_moves_the_session_and_keeps_the_call() -> None:
    call = answered_call()
    out = call.receive(in_dialog("INVITE", 2, branch="z9hG4bK-hold", body=HOLD), 2.0)
    assert statuses(out) == [200] and call.state is State.HELD
    ours = parse_answer(sent(out)[0].body)
    assert ours.direction == "recvonly"
    out = call.receive(in_dialog("INVITE", 3, branch="z9hG4bK-resume", body=OFFER), 3.0)
    assert statuses(out) == [200] and call.state is State.ANSWERED
    (changed,) = events(out)
    assert isinstance(changed, MediaChanged) and not changed.media.on_hold
    # a hang-up while held is a BYE, and the call is over as it goes out
    call.receive(in_dialog("INVITE", 4, branch="z9hG4bK-hold-2", body=HOLD), 4.0)
    out = call.hangup(5.0)
    assert [m.method for m in sent(out) if isinstance(m, Request)] == ["BYE"]
    assert events(out) == [Ended(200, HangupBy.US, "hung up by us")]
    assert call.state is State.ENDING


def test_the_uas_dialog_swaps_local_and_remote() -> None:
    request = invite(record_route="<sip:proxy.example;lr>")
    dialog = Dialog.from_invite(request, "our-tag", Local("127.0.0.1", 5070))
    assert (dialog.local_uri, dialog.local_tag) == ("sip:4001@127.0.0.1:5070", "our-tag")
    assert (dialog.remote_uri, dialog.remote_tag) == (
        "sip:8613800000001@127.0.0.1:6060",
        "caller-tag",
    )
    assert dialog.remote_target == "sip:8613800000001@127.0.0.1:6060"
    assert dialog.route_set == ["<sip:proxy.example;lr>"]
    bye = dialog.request("BYE", "z9hG4bK-x")
    assert bye.headers.get_all("Route") == ["<sip:proxy.example;lr>"]
    # the 200 echoes the Record-Route
    call = new_call(request)
    call.start(0.0)
    (ok,) = sent(call.answer(0.1, "127.0.0.1", 40000, 77))
    assert ok.headers.get_all("Record-Route") == ["<sip:proxy.example;lr>"]
