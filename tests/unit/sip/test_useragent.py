"""The outbound call state machine against a scripted far end (no sockets): the behaviours
the issue lists, including those aiosipua got wrong (ACK of error finals, a retransmitted 401
during the authenticated retry, CANCEL then 487, a 200 crossing the CANCEL)."""

from __future__ import annotations

import itertools

from voxcast.telephony.sip.dialog import Local
from voxcast.telephony.sip.message import Headers, Request, Response, parse, serialize
from voxcast.telephony.sip.sdp import offer
from voxcast.telephony.sip.transaction import Send
from voxcast.telephony.sip.useragent import (
    Answered,
    Credentials,
    DtmfInfo,
    Ended,
    OutboundCall,
    Ringing,
)

ANSWER_SDP = (
    b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=audio 7000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n"
)


def new_call(credentials: Credentials | None = None) -> OutboundCall:
    counter = itertools.count(1)
    call = OutboundCall(
        local=Local("127.0.0.1", 5070),
        target_uri="sip:8613000000001@127.0.0.1:5060",
        from_uri="sip:voxcast@127.0.0.1",
        call_id="call-1",
        from_tag="ours",
        sdp_offer=offer("127.0.0.1", 40000, 1),
        new_branch=lambda: f"z9hG4bK-{next(counter)}",
        credentials=credentials,
    )
    return call


def sent(out: list[object]) -> list[Request | Response]:
    return [o.message for o in out if isinstance(o, Send)]  # type: ignore[misc]


def methods(out: list[object]) -> list[str]:
    return [m.method if isinstance(m, Request) else str(m.status) for m in sent(out)]


def reply(
    req: Request, status: int, body: bytes = b"", tag: str | None = "far", **extra: str
) -> Response:
    h = Headers()
    for via in req.headers.get_all("Via"):
        h.add("Via", via)
    h.add("From", req.headers.get("From") or "")
    to = req.headers.get("To") or ""
    h.add("To", f"{to};tag={tag}" if tag and "tag=" not in to else to)
    h.add("Call-ID", req.call_id)
    h.add("CSeq", req.headers.get("CSeq") or "")
    if (status < 300 and status >= 200) or status == 183:
        h.add("Contact", "<sip:far@127.0.0.1:5060>")
    for k, v in extra.items():
        h.add(k.replace("_", "-"), v)
    msg = parse(serialize(Response(status, "x", h, body)))
    assert isinstance(msg, Response)
    return msg


def far_request(
    call: OutboundCall, method: str, branch: str, cseq: int, body: bytes = b""
) -> Request:
    h = Headers()
    h.add("Via", f"SIP/2.0/UDP 127.0.0.1:5060;branch={branch}")
    h.add("From", "<sip:8613000000001@127.0.0.1:5060>;tag=far")
    h.add("To", "<sip:voxcast@127.0.0.1>;tag=ours")
    h.add("Call-ID", call.call_id)
    h.add("CSeq", f"{cseq} {method}")
    return Request(method, "sip:voxcast@127.0.0.1:5070", h, body)


def answered_call() -> tuple[OutboundCall, list[object]]:
    call = new_call()
    call.start(0.0)
    invite = call.invite
    out: list[object] = []
    out += call.receive(reply(invite, 100, tag=None), 0.1)
    out += call.receive(reply(invite, 180), 0.2)
    out += call.receive(reply(invite, 200, ANSWER_SDP), 3.0)
    return call, out


def test_answered_call_rings_is_acked_and_ends_when_the_callee_hangs_up() -> None:
    call, out = answered_call()
    assert [type(o) for o in out if not isinstance(o, Send)] == [Ringing, Answered]
    assert methods(out) == ["ACK"]
    answered = next(o for o in out if isinstance(o, Answered))
    assert (answered.media.port, answered.media.codec, answered.media.dtmf_payload) == (
        7000,
        0,
        101,
    )
    ack = sent(out)[0]
    assert isinstance(ack, Request) and ack.uri == "sip:far@127.0.0.1:5060"
    bye = far_request(call, "BYE", "z9hG4bK-far-bye", 2)
    end = call.receive(bye, 10.0)
    assert methods(end) == ["200"]
    assert [o for o in end if isinstance(o, Ended)] == [Ended(200, "callee", "callee hung up")]
    assert methods(call.receive(bye, 10.5)) == ["200"]  # a retransmitted BYE: same answer


def test_busy_is_acked_and_ends_the_call_with_486() -> None:
    call = new_call()
    call.start(0.0)
    out = call.receive(reply(call.invite, 486), 0.3)
    assert methods(out) == ["ACK"]
    assert [o for o in out if isinstance(o, Ended)] == [Ended(486, "callee", "x")]


def test_challenge_is_answered_once_even_when_the_401_is_retransmitted() -> None:
    call = new_call(Credentials("trunkuser", "s3cret"))
    call.start(0.0)
    first = call.invite
    challenge = reply(first, 401, WWW_Authenticate='Digest realm="pbx", nonce="n1", qop="auth"')
    out = call.receive(challenge, 0.1)
    assert methods(out) == ["ACK", "INVITE"]
    retry = call.invite
    assert retry.headers.get("CSeq") == "2 INVITE"
    assert 'username="trunkuser"' in (retry.headers.get("Authorization") or "")
    # the first 401 again (our ACK was lost): ACK it again, do not end or restart the call
    assert methods(call.receive(challenge, 0.6)) == ["ACK"]
    out = call.receive(reply(retry, 200, ANSWER_SDP), 1.0)
    assert any(isinstance(o, Answered) for o in out)


def test_second_challenge_ends_the_call_with_401() -> None:
    call = new_call(Credentials("u", "wrong"))
    call.start(0.0)
    header = 'Digest realm="pbx", nonce="n1"'
    call.receive(reply(call.invite, 401, WWW_Authenticate=header), 0.1)
    out = call.receive(reply(call.invite, 401, WWW_Authenticate=header), 0.2)
    assert next(o for o in out if isinstance(o, Ended)).code == 401


def test_hangup_while_ringing_cancels_and_acks_the_487() -> None:
    call = new_call()
    call.start(0.0)
    invite = call.invite
    call.receive(reply(invite, 180), 0.2)
    out = call.hangup(20.0)
    assert methods(out) == ["CANCEL"]
    cancel = sent(out)[0]
    assert isinstance(cancel, Request)
    call.receive(reply(cancel, 200), 20.1)
    out = call.receive(reply(invite, 487), 20.2)
    assert methods(out) == ["ACK"]
    assert [o for o in out if isinstance(o, Ended)] == [Ended(487, "us", "cancelled")]


def test_a_200_crossing_our_cancel_is_acked_then_byed() -> None:
    call = new_call()
    call.start(0.0)
    invite = call.invite
    call.receive(reply(invite, 180), 0.2)
    call.hangup(20.0)
    out = call.receive(reply(invite, 200, ANSWER_SDP), 20.05)
    assert methods(out) == ["ACK", "BYE"]
    bye = sent(out)[1]
    assert isinstance(bye, Request)
    out = call.receive(reply(bye, 200), 20.1)
    assert [o for o in out if isinstance(o, Ended)] == [Ended(487, "us", "cancelled")]


def test_hangup_before_any_provisional_waits_to_cancel() -> None:
    call = new_call()
    call.start(0.0)
    assert call.hangup(0.1) == []
    out = call.receive(reply(call.invite, 100, tag=None), 0.2)
    assert methods(out) == ["CANCEL"]


def test_hangup_of_an_answered_call_sends_bye() -> None:
    call, _ = answered_call()
    out = call.hangup(30.0)
    assert methods(out) == ["BYE"]
    bye = sent(out)[0]
    assert isinstance(bye, Request) and bye.headers.get("CSeq") == "2 BYE"
    end = call.receive(reply(bye, 200), 30.1)
    assert [o for o in end if isinstance(o, Ended)] == [Ended(200, "us", "hung up by us")]


def test_dtmf_info_is_reported_once_and_answered() -> None:
    call, _ = answered_call()
    info = far_request(call, "INFO", "z9hG4bK-info", 2, b"Signal=1\r\nDuration=160\r\n")
    out = call.receive(info, 5.0)
    assert methods(out) == ["200"] and DtmfInfo("1") in out
    assert methods(call.receive(info, 5.2)) == ["200"]  # retransmission: no second key


def test_re_invite_for_hold_is_answered_and_the_call_goes_on() -> None:
    call, _ = answered_call()
    reinvite = far_request(call, "INVITE", "z9hG4bK-hold", 3, ANSWER_SDP + b"a=sendonly\r\n")
    out = call.receive(reinvite, 6.0)
    ok = sent(out)[0]
    assert isinstance(ok, Response) and ok.status == 200 and b"m=audio" in ok.body
    assert not any(isinstance(o, Ended) for o in out)
    assert methods(call.receive(far_request(call, "OPTIONS", "z9hG4bK-o", 4), 7.0)) == ["200"]


def test_retransmitted_200_is_acked_again() -> None:
    call, out = answered_call()
    again = call.receive(reply(call.invite, 200, ANSWER_SDP), 3.5)
    assert methods(again) == ["ACK"] and sent(again)[0] == sent(out)[0]


def test_no_answer_at_all_ends_with_408() -> None:
    call = new_call()
    call.start(0.0)
    out: list[object] = []
    t = 0.0
    while t < 33:
        out += call.tick(t)
        t += 0.25
    assert methods(out).count("INVITE") == 6
    assert [o for o in out if isinstance(o, Ended)] == [
        Ended(408, "network", "no response to INVITE")
    ]


def test_requests_for_another_dialog_get_481() -> None:
    call, _ = answered_call()
    stranger = far_request(call, "BYE", "z9hG4bK-x", 9)
    stranger.headers.set("To", "<sip:voxcast@127.0.0.1>;tag=not-ours")
    assert methods(call.receive(stranger, 8.0)) == ["481"]
