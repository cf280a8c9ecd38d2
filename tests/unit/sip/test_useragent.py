"""The outbound call state machine against a scripted far end (no sockets): the behaviours
the issue lists, including those aiosipua got wrong (ACK of error finals, a retransmitted 401
during the authenticated retry, CANCEL then 487, a 200 crossing the CANCEL, retransmission),
fed messages as Asterisk, FreeSWITCH and SIPp write them."""

from __future__ import annotations

import hashlib
import itertools

import pytest

from tests.unit.sip import captures
from voxcast.ports import HangupBy
from voxcast.telephony.sip.core.dialog import Local
from voxcast.telephony.sip.core.message import (
    Headers,
    Request,
    Response,
    parse,
    parse_name_addr,
    serialize,
)
from voxcast.telephony.sip.core.sdes import SrtpKeys, SrtpOffer, offer_cryptos
from voxcast.telephony.sip.core.sdp import PCMA, PCMU, offer, parse_answer
from voxcast.telephony.sip.core.session import State
from voxcast.telephony.sip.core.transaction import Send
from voxcast.telephony.sip.core.useragent import (
    Answered,
    Credentials,
    DtmfInfo,
    EarlyMedia,
    Ended,
    MediaChanged,
    OutboundCall,
    Output,
    Ringing,
)

ANSWER_SDP = (
    b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=audio 7000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n"
)
HOLD_SDP = ANSWER_SDP + b"a=sendonly\r\n"


def new_call(
    credentials: Credentials | None = None,
    *,
    local: Local | None = None,
    ring_timeout: float | None = None,
    call_id: str = "call-1",
) -> OutboundCall:
    counter = itertools.count(1)
    return OutboundCall(
        local=local or Local("127.0.0.1", 5070),
        target_uri="sip:8613000000001@127.0.0.1:5060",
        from_uri="sip:voxcast@127.0.0.1",
        call_id=call_id,
        from_tag="ours",
        sdp_offer=offer("127.0.0.1", 40000, 1),
        new_branch=lambda: f"z9hG4bK-{next(counter)}",
        new_cnonce=lambda: "cnonce",
        credentials=credentials,
        ring_timeout=ring_timeout,
    )


def wire(message: Request | Response) -> Request | Response:
    """Through the wire format, as the transport hands messages over."""
    return parse(serialize(message))


def sent(out: list[Output]) -> list[Request | Response]:
    return [wire(o.message) for o in out if isinstance(o, Send)]


def methods(out: list[Output]) -> list[str]:
    return [m.method if isinstance(m, Request) else str(m.status) for m in sent(out)]


def events(out: list[Output]) -> list[Output]:
    return [o for o in out if not isinstance(o, Send)]


def ended(out: list[Output]) -> list[Ended]:
    return [o for o in out if isinstance(o, Ended)]


def reply(
    req: Request,
    status: int,
    body: bytes = b"",
    tag: str | None = "far",
    contact: str | None = "<sip:far@127.0.0.1:5060>",
    **extra: str,
) -> Response:
    h = Headers()
    for via in req.headers.get_all("Via"):
        h.add("Via", via)
    h.add("From", req.headers.get("From") or "")
    to = req.headers.get("To") or ""
    h.add("To", f"{to};tag={tag}" if tag and "tag=" not in to else to)
    h.add("Call-ID", req.call_id)
    h.add("CSeq", req.headers.get("CSeq") or "")
    if contact and (200 <= status < 300 or 180 <= status < 190):
        h.add("Contact", contact)
    for k, v in extra.items():
        h.add(k.replace("_", "-"), v)
    if body:
        h.add("Content-Type", "application/sdp")
    msg = wire(Response(status, "x", h, body))
    assert isinstance(msg, Response)
    return msg


def far_request(
    call: OutboundCall,
    method: str,
    branch: str,
    cseq: int,
    body: bytes = b"",
    content_type: str | None = None,
    tag: str = "far",
) -> Request:
    h = Headers()
    h.add("Via", f"SIP/2.0/UDP 127.0.0.1:5060;branch={branch}")
    h.add("From", f"<sip:8613000000001@127.0.0.1:5060>;tag={tag}")
    h.add("To", "<sip:voxcast@127.0.0.1>;tag=ours")
    h.add("Call-ID", call.call_id)
    h.add("CSeq", f"{cseq} {method}")
    h.add("Contact", "<sip:far@127.0.0.1:5060>")
    if body:
        h.add("Content-Type", content_type or "application/sdp")
    msg = wire(Request(method, "sip:voxcast@127.0.0.1:5070", h, body))
    assert isinstance(msg, Request)
    return msg


def answered_call(**kw: object) -> tuple[OutboundCall, list[Output]]:
    call = new_call(**kw)  # type: ignore[arg-type]
    out = call.start(0.0)
    invite = call.invite
    out += call.receive(reply(invite, 100, tag=None), 0.1)
    out += call.receive(reply(invite, 180), 0.2)
    out += call.receive(reply(invite, 200, ANSWER_SDP), 3.0)
    return call, out


def run(call: OutboundCall, start: float, until: float, step: float = 0.05) -> list[Output]:
    out: list[Output] = []
    t = start
    while t <= until:
        out += call.tick(t)
        t = round(t + step, 3)
    return out


# -- the happy path -------------------------------------------------------------------------------


def test_answered_call_rings_is_acked_and_ends_when_the_callee_hangs_up() -> None:
    call, out = answered_call()
    assert methods(out) == ["INVITE", "ACK"]
    assert [type(o) for o in events(out)] == [Ringing, Answered]
    answered = next(o for o in out if isinstance(o, Answered))
    assert (answered.media.port, answered.media.codec, answered.media.dtmf_payload) == (
        7000,
        PCMU,
        101,
    )
    ack = sent(out)[1]
    assert isinstance(ack, Request) and ack.uri == "sip:far@127.0.0.1:5060"
    assert ack.headers.get("CSeq") == "1 ACK"
    assert call.state is State.ANSWERED
    bye = far_request(call, "BYE", "z9hG4bK-far-bye", 2)
    end = call.receive(bye, 10.0)
    assert methods(end) == ["200"]
    assert ended(end) == [Ended(200, HangupBy.CALLEE, "callee hung up")]
    again = call.receive(bye, 10.5)  # a retransmitted BYE: the same answer, no second end
    assert methods(again) == ["200"] and ended(again) == []
    assert not call.finished  # Timer J still absorbs BYE copies
    run(call, 10.5, 43.0)
    assert call.finished


def test_a_sipp_answer_and_bye_as_captured() -> None:
    call = new_call(call_id="sipp-call-1")
    call.start(0.0)
    out = call.receive(captures.fit(captures.SIPP_200, call.invite), 0.5)
    answered = [o for o in out if isinstance(o, Answered)]
    assert answered and (answered[0].media.port, answered[0].media.codec) == (6000, PCMU)
    ack = sent(out)[0]
    assert isinstance(ack, Request) and ack.uri == "sip:127.0.0.1:5070;transport=UDP"
    assert parse_name_addr(ack.headers.get("To") or "").tag == "30481SIPpTag011"
    bye = parse(captures.SIPP_BYE)
    end = call.receive(bye, 5.0)
    assert methods(end) == ["200"] and ended(end)[0].by is HangupBy.CALLEE


def test_early_media_from_a_freeswitch_183_then_answer() -> None:
    call = new_call(call_id="fs-call-1")
    call.start(0.0)
    out = call.receive(captures.fit(captures.FREESWITCH_183, call.invite), 0.4)
    assert [type(o) for o in events(out)] == [Ringing, EarlyMedia]
    early = next(o for o in out if isinstance(o, EarlyMedia))
    assert (early.media.port, early.media.codec, early.media.dtmf_payload) == (27356, PCMA, 101)
    assert events(call.receive(captures.fit(captures.FREESWITCH_183, call.invite), 0.9)) == []
    out = call.receive(captures.fit(captures.KAMAILIO_FREESWITCH_200, call.invite), 4.0)
    assert [type(o) for o in events(out)] == [Answered]
    ack = sent(out)[0]
    assert isinstance(ack, Request)
    assert ack.uri == "sip:8613000000001@127.0.0.4:5080;transport=udp"
    assert ack.headers.get_all("Route")[0] == "<sip:127.0.0.3:5062;transport=udp;lr>"


def test_retransmitted_200_is_acked_again_with_the_same_ack() -> None:
    call, out = answered_call()
    again = call.receive(reply(call.invite, 200, ANSWER_SDP), 3.5)
    assert methods(again) == ["ACK"] and sent(again)[0] == sent(out)[1]
    assert events(again) == []


def test_a_second_2xx_from_another_fork_is_acked_and_byed_without_a_second_answer() -> None:
    call, _ = answered_call()
    out = call.receive(reply(call.invite, 200, ANSWER_SDP, tag="fork2"), 3.2)
    assert methods(out) == ["ACK", "BYE"] and events(out) == []
    bye = sent(out)[1]
    assert isinstance(bye, Request) and "tag=fork2" in (bye.headers.get("To") or "")
    assert events(call.receive(reply(bye, 200), 3.3)) == []
    assert call.state is State.ANSWERED


def test_hangup_of_an_answered_call_ends_it_as_the_bye_is_sent() -> None:
    # §15.1.1: the session is over once we send BYE; the hang-up time is that instant
    call, _ = answered_call()
    out = call.hangup(30.0)
    assert methods(out) == ["BYE"]
    assert ended(out) == [Ended(200, HangupBy.US, "hung up by us")]
    bye = sent(out)[0]
    assert isinstance(bye, Request) and bye.headers.get("CSeq") == "2 BYE"
    assert call.hangup(30.1) == []  # idempotent
    assert not call.finished  # the BYE transaction still waits for its answer
    assert call.receive(reply(bye, 200), 30.2) == []  # no second Ended
    assert call.state is State.ENDED


def test_an_unanswered_bye_is_retransmitted_but_the_call_ended_when_it_was_sent() -> None:
    call, _ = answered_call()
    assert ended(call.hangup(30.0)) == [Ended(200, HangupBy.US, "hung up by us")]
    out = run(call, 30.0, 62.5)
    assert methods(out).count("BYE") == 10
    assert ended(out) == []  # Timer F ends the transaction, not the call a second time
    assert call.finished


def test_byes_that_cross_end_the_call_once_as_ours() -> None:
    call, _ = answered_call()
    assert ended(call.hangup(30.0)) == [Ended(200, HangupBy.US, "hung up by us")]
    out = call.receive(far_request(call, "BYE", "z9hG4bK-far-bye", 2), 30.01)
    assert methods(out) == ["200"]
    assert ended(out) == []


# -- failures -------------------------------------------------------------------------------------


def test_a_freeswitch_486_is_acked_and_ends_the_call_as_busy() -> None:
    call = new_call(call_id="fs-call-1")
    call.start(0.0)
    out = call.receive(captures.fit(captures.FREESWITCH_486, call.invite), 0.3)
    assert methods(out) == ["ACK"]
    ack = sent(out)[0]
    assert isinstance(ack, Request)
    assert ack.headers.get_all("Via") == call.invite.headers.get_all("Via")  # same branch
    assert ended(out) == [Ended(486, HangupBy.CALLEE, "Busy Here")]
    assert methods(call.receive(captures.fit(captures.FREESWITCH_486, call.invite), 0.8)) == ["ACK"]


@pytest.mark.parametrize(
    ("status", "by"),
    [
        (302, HangupBy.NETWORK),
        (404, HangupBy.NETWORK),
        (480, HangupBy.CALLEE),
        (503, HangupBy.NETWORK),
        (603, HangupBy.CALLEE),
        (606, HangupBy.NETWORK),
    ],
)
def test_every_error_final_is_acked_and_recorded(status: int, by: HangupBy) -> None:
    call = new_call()
    call.start(0.0)
    call.receive(reply(call.invite, 180), 0.1)
    out = call.receive(reply(call.invite, status), 0.5)
    assert methods(out) == ["ACK"]
    assert [(e.code, e.by) for e in ended(out)] == [(status, by)]
    assert run(call, 0.5, 40.0) == []
    assert call.finished


def test_no_answer_at_all_ends_with_408_after_six_retransmissions() -> None:
    call = new_call()
    out = call.start(0.0)
    out += run(call, 0.0, 33.0, step=0.25)
    assert methods(out).count("INVITE") == 7
    assert ended(out) == [Ended(408, HangupBy.NETWORK, "no response to INVITE")]


def test_an_unusable_sdp_answer_is_acked_then_byed() -> None:
    call = new_call()
    call.start(0.0)
    bad = ANSWER_SDP.replace(b"RTP/AVP 0 101", b"RTP/AVP 18")
    out = call.receive(reply(call.invite, 200, bad), 1.0)
    assert methods(out) == ["ACK", "BYE"]
    assert ended(out) == [Ended(488, HangupBy.NETWORK, "unusable SDP answer: no codec in common")]
    bye = sent(out)[1]
    assert isinstance(bye, Request)
    assert ended(call.receive(reply(bye, 200), 1.1)) == []


def test_a_2xx_without_contact_is_acked_at_the_request_uri() -> None:
    call = new_call()
    call.start(0.0)
    out = call.receive(reply(call.invite, 200, ANSWER_SDP, contact=None), 1.0)
    ack = sent(out)[0]
    assert isinstance(ack, Request) and ack.uri == "sip:8613000000001@127.0.0.1:5060"
    assert any(isinstance(o, Answered) for o in out)


# -- authentication -------------------------------------------------------------------------------


def test_asterisk_401_is_answered_once_even_when_retransmitted() -> None:
    call = new_call(Credentials("trunkuser", "s3cret"), call_id="ast-call-1")
    call.start(0.0)
    first = call.invite
    challenge = captures.fit(captures.ASTERISK_PJSIP_401, first)
    out = call.receive(challenge, 0.1)
    assert methods(out) == ["ACK", "INVITE"]
    retry = call.invite
    assert retry.headers.get("CSeq") == "2 INVITE"
    assert retry.call_id == first.call_id and retry.headers.get("From") == first.headers.get("From")
    assert "tag=" not in (retry.headers.get("To") or "")
    assert retry.headers.get_all("Via") != first.headers.get_all("Via")  # a new transaction
    auth = retry.headers.get("Authorization") or ""
    assert 'username="trunkuser"' in auth and 'realm="asterisk"' in auth and "qop=auth" in auth
    ha1 = hashlib.md5(b"trunkuser:asterisk:s3cret").hexdigest()
    ha2 = hashlib.md5(f"INVITE:{retry.uri}".encode()).hexdigest()
    nonce = "1700001111/6b0c5f4e5b54b2a4b5d1e7e1f3e0b0a1"
    expected = hashlib.md5(f"{ha1}:{nonce}:00000001:cnonce:auth:{ha2}".encode()).hexdigest()
    assert f'response="{expected}"' in auth
    # the first 401 again (our ACK was lost): ACK it again; do not end or restart the call
    for t in (0.6, 1.1):
        assert methods(call.receive(challenge, t)) == ["ACK"]
    # the retried INVITE is retransmitted by its own transaction meanwhile
    assert methods(call.tick(0.6)) == ["INVITE"]
    out = call.receive(reply(retry, 180), 1.2)
    out += call.receive(reply(retry, 200, ANSWER_SDP), 2.0)
    assert [type(o) for o in events(out)] == [Ringing, Answered]


def test_asterisk_407_is_answered_with_proxy_authorization() -> None:
    call = new_call(Credentials("u", "p"), call_id="ast-call-1")
    call.start(0.0)
    out = call.receive(captures.fit(captures.ASTERISK_CHAN_SIP_407, call.invite), 0.1)
    assert methods(out) == ["ACK", "INVITE"]
    assert "Proxy-Authorization" in call.invite.headers
    assert "qop" not in (call.invite.headers.get("Proxy-Authorization") or "")


def test_second_challenge_ends_the_call_with_401() -> None:
    call = new_call(Credentials("u", "wrong"))
    call.start(0.0)
    header = 'Digest realm="pbx", nonce="n1"'
    call.receive(reply(call.invite, 401, WWW_Authenticate=header), 0.1)
    out = call.receive(reply(call.invite, 401, WWW_Authenticate=header), 0.2)
    assert methods(out) == ["ACK"]
    assert ended(out) == [Ended(401, HangupBy.NETWORK, "authentication failed")]


def test_a_stale_nonce_gets_one_more_retry() -> None:
    call = new_call(Credentials("u", "p"))
    call.start(0.0)
    call.receive(reply(call.invite, 401, WWW_Authenticate='Digest realm="r", nonce="a"'), 0.1)
    stale = 'Digest realm="r", nonce="b", stale=true'
    out = call.receive(reply(call.invite, 401, WWW_Authenticate=stale), 0.2)
    assert methods(out) == ["ACK", "INVITE"] and call.invite.headers.get("CSeq") == "3 INVITE"
    out = call.receive(reply(call.invite, 401, WWW_Authenticate=stale), 0.3)
    assert [e.code for e in ended(out)] == [401]


def test_a_challenge_without_credentials_ends_the_call() -> None:
    call = new_call()
    call.start(0.0)
    out = call.receive(captures.fit(captures.ASTERISK_PJSIP_401, call.invite), 0.1)
    assert methods(out) == ["ACK"] and [e.code for e in ended(out)] == [401]


def test_a_challenged_bye_is_retried_with_credentials() -> None:
    call, _ = answered_call(credentials=Credentials("u", "p"))
    out = call.hangup(5.0)
    assert ended(out) == [Ended(200, HangupBy.US, "hung up by us")]
    bye = sent(out)[0]
    assert isinstance(bye, Request)
    out = call.receive(reply(bye, 407, Proxy_Authenticate='Digest realm="r", nonce="z"'), 5.1)
    retry = sent(out)[0]
    assert isinstance(retry, Request) and retry.method == "BYE"
    assert retry.headers.get("CSeq") == "3 BYE" and "Proxy-Authorization" in retry.headers
    assert call.receive(reply(retry, 200), 5.2) == []
    assert run(call, 5.2, 12.0) == [] and call.finished


# -- cancelling -----------------------------------------------------------------------------------


def test_hangup_while_ringing_cancels_and_acks_the_487() -> None:
    call = new_call()
    call.start(0.0)
    invite = call.invite
    call.receive(reply(invite, 180), 0.2)
    out = call.hangup(20.0)
    assert methods(out) == ["CANCEL"]
    cancel = sent(out)[0]
    assert isinstance(cancel, Request)
    assert cancel.headers.get_all("Via") == invite.headers.get_all("Via")
    assert cancel.headers.get("CSeq") == "1 CANCEL" and cancel.uri == invite.uri
    assert call.receive(reply(cancel, 200), 20.1) == []
    out = call.receive(reply(invite, 487), 20.2)
    assert methods(out) == ["ACK"]
    assert ended(out) == [Ended(487, HangupBy.US, "hung up by us")]
    assert methods(call.receive(reply(invite, 487), 20.7)) == ["ACK"]  # the 487 again


def test_a_lost_cancel_is_retransmitted() -> None:
    call = new_call()
    call.start(0.0)
    call.receive(reply(call.invite, 180), 0.2)
    call.hangup(20.0)
    assert methods(run(call, 20.0, 21.6)) == ["CANCEL", "CANCEL"]


def test_a_200_crossing_our_cancel_is_acked_then_byed() -> None:
    call = new_call()
    call.start(0.0)
    invite = call.invite
    call.receive(reply(invite, 180), 0.2)
    call.hangup(20.0)
    out = call.receive(reply(invite, 200, ANSWER_SDP), 20.05)
    assert methods(out) == ["ACK", "BYE"]
    assert not any(isinstance(o, Answered) for o in out)
    assert ended(out) == [Ended(487, HangupBy.US, "hung up by us")]
    bye = sent(out)[1]
    assert isinstance(bye, Request)
    assert call.receive(reply(bye, 200), 20.1) == []


def test_hangup_before_any_provisional_waits_to_cancel() -> None:
    call = new_call()
    call.start(0.0)
    assert call.hangup(0.1) == []
    out = call.receive(reply(call.invite, 100, tag=None), 0.2)
    assert methods(out) == ["CANCEL"]


def test_hangup_before_any_response_ends_when_the_invite_times_out() -> None:
    call = new_call()
    call.start(0.0)
    call.hangup(0.1)
    out = run(call, 0.1, 32.5)
    assert "CANCEL" not in methods(out)
    assert ended(out) == [Ended(487, HangupBy.US, "hung up by us")]


def test_a_cancel_never_followed_by_487_gives_up_after_64_t1() -> None:
    call = new_call()
    call.start(0.0)
    call.receive(reply(call.invite, 180), 0.2)
    cancel = sent(call.hangup(10.0))[0]
    assert isinstance(cancel, Request)
    call.receive(reply(cancel, 200), 10.1)
    out = run(call, 10.1, 42.5)
    assert ended(out) == [Ended(487, HangupBy.US, "hung up by us")]
    late = call.receive(reply(call.invite, 200, ANSWER_SDP), 50.0)  # far too late: undo it
    assert methods(late) == ["ACK", "BYE"] and events(late) == []


def test_ring_timeout_cancels_and_reports_no_answer() -> None:
    call = new_call(ring_timeout=30.0)
    call.start(0.0)
    call.receive(reply(call.invite, 180), 1.0)
    assert methods(call.tick(29.9)) == []
    out = call.tick(30.0)
    assert methods(out) == ["CANCEL"]
    out = call.receive(reply(call.invite, 487), 30.1)
    assert ended(out) == [Ended(480, HangupBy.US, "no answer")]


def test_an_answer_disarms_the_ring_timeout() -> None:
    call, _ = answered_call(ring_timeout=5.0)
    assert methods(run(call, 3.0, 10.0)) == []
    assert call.state is State.ANSWERED


# -- requests from the far end --------------------------------------------------------------------


def test_dtmf_info_is_reported_once_and_answered() -> None:
    call, _ = answered_call()
    info = far_request(
        call, "INFO", "z9hG4bK-info", 2, b"Signal=1\r\nDuration=160\r\n", "application/dtmf-relay"
    )
    out = call.receive(info, 5.0)
    assert methods(out) == ["200"] and events(out) == [DtmfInfo("1")]
    assert methods(call.receive(info, 5.2)) == ["200"]  # retransmission: no second key
    assert events(call.receive(info, 5.3)) == []


@pytest.mark.parametrize(
    ("body", "content_type", "digit"),
    [
        (b"Signal=11\r\nDuration=100\r\n", "application/dtmf-relay", "#"),
        (b"Signal= *\r\n", "application/dtmf-relay", "*"),
        (b"5", "application/dtmf", "5"),
        (b"Signal=16\r\n", "application/dtmf-relay", None),  # flash: not a key
        (b"hello", "text/plain", None),
    ],
)
def test_dtmf_info_bodies(body: bytes, content_type: str, digit: str | None) -> None:
    call, _ = answered_call()
    out = call.receive(far_request(call, "INFO", "z9hG4bK-i", 2, body, content_type), 5.0)
    assert methods(out) == ["200"]
    assert events(out) == ([DtmfInfo(digit)] if digit else [])


def test_a_captured_asterisk_dtmf_info() -> None:
    call = new_call(call_id="ast-call-1")
    call.start(0.0)
    call.receive(reply(call.invite, 200, ANSWER_SDP, tag="as1a2b3c4d"), 1.0)
    out = call.receive(parse(captures.ASTERISK_INFO_DTMF), 2.0)
    assert methods(out) == ["200"] and events(out) == [DtmfInfo("1")]


def test_a_freeswitch_hold_re_invite_is_answered_and_the_call_goes_on() -> None:
    call = new_call(call_id="fs-call-1")
    call.start(0.0)
    call.receive(captures.fit(captures.KAMAILIO_FREESWITCH_200, call.invite), 1.0)
    reinvite = parse(captures.FREESWITCH_REINVITE_HOLD)
    out = call.receive(reinvite, 6.0)
    ok = sent(out)[0]
    assert isinstance(ok, Response) and ok.status == 200 and ok.headers.get("Contact")
    ours = parse_answer(ok.body)
    assert (ours.direction, ours.codec, ours.port) == ("recvonly", PCMA, 40000)
    assert b"o=voxcast 1 2 IN IP4" in ok.body  # the version moved on
    changed = [o for o in out if isinstance(o, MediaChanged)]
    assert len(changed) == 1 and changed[0].media.on_hold
    assert ended(out) == [] and call.state is State.HELD  # held, not ended
    # the 200 is re-sent until the ACK; the INVITE again gets the same 200
    assert methods(run(call, 6.0, 6.6)) == ["200"]
    assert methods(call.receive(reinvite, 6.7)) == ["200"]
    ack = far_request(call, "ACK", "z9hG4bK-hold-ack", 24631101, tag="Q7Fj4gB0vcp2H")
    assert call.receive(ack, 6.8) == []
    assert methods(run(call, 6.8, 20.0)) == []
    # the far end's Contact is the new target
    bye = sent(call.hangup(30.0))[0]
    assert isinstance(bye, Request) and bye.uri == "sip:8613000000001@127.0.0.4:5080;transport=udp"


def test_hold_then_resume_from_the_callee_goes_back_to_answered() -> None:
    call, _ = answered_call()
    out = call.receive(far_request(call, "INVITE", "z9hG4bK-hold", 2, HOLD_SDP), 5.0)
    assert methods(out) == ["200"] and call.state is State.HELD
    out = call.receive(far_request(call, "INVITE", "z9hG4bK-resume", 3, ANSWER_SDP), 6.0)
    assert methods(out) == ["200"] and call.state is State.ANSWERED
    (changed,) = events(out)
    assert isinstance(changed, MediaChanged) and not changed.media.on_hold


def test_a_200_crossing_our_cancel_leaves_the_session_ending_then_ended() -> None:
    call = new_call()
    call.start(0.0)
    call.receive(reply(call.invite, 180), 0.5)
    assert methods(call.hangup(1.0)) == ["CANCEL"] and call.state is State.CANCELLING
    out = call.receive(reply(call.invite, 200, ANSWER_SDP), 1.1)
    assert methods(out) == ["ACK", "BYE"]
    assert events(out) == [Ended(487, HangupBy.US, "hung up by us")]
    assert call.state is State.ENDING
    bye = sent(out)[1]
    assert isinstance(bye, Request)
    assert events(call.receive(reply(bye, 200), 1.2)) == [] and call.state is State.ENDED


def test_an_unacked_200_to_a_re_invite_ends_the_call() -> None:
    call, _ = answered_call()
    call.receive(far_request(call, "INVITE", "z9hG4bK-re", 2, HOLD_SDP), 5.0)
    out = run(call, 5.0, 37.5)
    assert methods(out).count("200") >= 5 and "BYE" in methods(out)


def test_an_offerless_re_invite_gets_our_offer_and_the_ack_brings_the_answer() -> None:
    call, _ = answered_call()
    out = call.receive(far_request(call, "INVITE", "z9hG4bK-re", 2), 5.0)
    ok = sent(out)[0]
    assert isinstance(ok, Response) and ok.status == 200 and b"m=audio 40000" in ok.body
    assert events(out) == []
    ack = far_request(call, "ACK", "z9hG4bK-re-ack", 2, HOLD_SDP)
    changed = call.receive(ack, 5.1)
    assert [type(o) for o in changed] == [MediaChanged]


def test_a_re_invite_with_no_common_codec_gets_488_and_the_call_goes_on() -> None:
    call, _ = answered_call()
    g729 = ANSWER_SDP.replace(b"RTP/AVP 0 101", b"RTP/AVP 18")
    reinvite = far_request(call, "INVITE", "z9hG4bK-re", 2, g729)
    out = call.receive(reinvite, 5.0)
    assert methods(out) == ["488"] and events(out) == []
    ack = far_request(call, "ACK", "z9hG4bK-re", 2)  # the ACK of a non-2xx: same branch
    assert call.receive(ack, 5.1) == []
    assert methods(run(call, 5.1, 8.0)) == []  # acked: no 488 retransmission
    assert call.state is State.ANSWERED


def test_update_with_sdp_is_answered() -> None:
    call, _ = answered_call()
    out = call.receive(far_request(call, "UPDATE", "z9hG4bK-u", 2, HOLD_SDP), 5.0)
    assert methods(out) == ["200"] and [type(o) for o in events(out)] == [MediaChanged]
    out = call.receive(far_request(call, "UPDATE", "z9hG4bK-u2", 3), 6.0)
    assert methods(out) == ["200"] and events(out) == []


def test_options_in_dialog_is_answered_with_allow() -> None:
    call, _ = answered_call()
    out = call.receive(far_request(call, "OPTIONS", "z9hG4bK-o", 4), 7.0)
    ok = sent(out)[0]
    assert isinstance(ok, Response) and ok.status == 200
    assert "INFO" in (ok.headers.get("Allow") or "")


@pytest.mark.parametrize(("method", "status"), [("REFER", 405), ("FROBNICATE", 501)])
def test_unsupported_in_dialog_methods(method: str, status: int) -> None:
    call, _ = answered_call()
    out = call.receive(far_request(call, method, "z9hG4bK-x", 4), 7.0)
    assert methods(out) == [str(status)] and events(out) == []
    if status == 405:
        assert "BYE" in (sent(out)[0].headers.get("Allow") or "")


def test_an_out_of_order_cseq_gets_500() -> None:
    call, _ = answered_call()
    call.receive(far_request(call, "INFO", "z9hG4bK-a", 10), 5.0)
    assert methods(call.receive(far_request(call, "INFO", "z9hG4bK-b", 9), 5.1)) == ["500"]


def test_requests_for_another_dialog_get_481() -> None:
    call, _ = answered_call()
    stranger = far_request(call, "BYE", "z9hG4bK-x", 9, tag="not-the-far-end")
    out = call.receive(stranger, 8.0)
    assert methods(out) == ["481"] and events(out) == []
    assert call.state is State.ANSWERED


def test_requests_before_the_answer_get_481_and_cancel_of_nothing_too() -> None:
    call = new_call()
    call.start(0.0)
    assert methods(call.receive(far_request(call, "BYE", "z9hG4bK-x", 9), 1.0)) == ["481"]
    assert methods(call.receive(far_request(call, "CANCEL", "z9hG4bK-y", 9), 1.0)) == ["481"]
    assert call.state is State.CALLING


def test_a_malformed_message_inside_the_call_is_dropped() -> None:
    call, _ = answered_call()
    bad = far_request(call, "INFO", "z9hG4bK-z", 3)
    bad.headers.set("CSeq", "x INFO")
    assert call.receive(bad, 5.0) == []
    bad_resp = reply(call.invite, 200, ANSWER_SDP)
    bad_resp.headers.set("To", '"unclosed')
    assert call.receive(bad_resp, 5.0) == []


# -- our re-INVITE --------------------------------------------------------------------------------


def test_our_hold_re_invite_refused_with_488_does_not_end_the_call() -> None:
    call, _ = answered_call()
    out = call.reinvite(5.0, offer("127.0.0.1", 40000, 1, version=2, direction="sendonly"))
    reinvite = sent(out)[0]
    assert isinstance(reinvite, Request) and reinvite.headers.get("CSeq") == "2 INVITE"
    assert call.reinvite(5.1, b"v=0\r\n") == []  # one at a time
    out = call.receive(reply(reinvite, 488), 5.2)
    assert methods(out) == ["ACK"] and events(out) == []
    assert call.state is State.ANSWERED and call.last_reinvite_status == 488


def test_our_re_invite_answered_changes_the_media_and_glare_gets_491() -> None:
    call, _ = answered_call()
    reinvite = sent(call.reinvite(5.0, offer("127.0.0.1", 40000, 1, version=2)))[0]
    assert isinstance(reinvite, Request)
    theirs = call.receive(far_request(call, "INVITE", "z9hG4bK-glare", 2, HOLD_SDP), 5.05)
    assert methods(theirs) == ["491"] and events(theirs) == []
    assert call.state is State.ANSWERED  # the glared offer changed nothing
    out = call.receive(reply(reinvite, 200, HOLD_SDP), 5.1)
    assert methods(out) == ["ACK"] and [type(o) for o in events(out)] == [MediaChanged]
    assert call.state is State.HELD  # the answer's sendonly: no RTP from us
    ack = sent(out)[0]
    assert ack.headers.get("CSeq") == "2 ACK"
    assert methods(call.receive(reply(reinvite, 200, HOLD_SDP), 5.6)) == ["ACK"]


def test_our_re_invite_answered_481_ends_the_call() -> None:
    call, _ = answered_call()
    reinvite = sent(call.reinvite(5.0, offer("127.0.0.1", 40000, 1, version=2)))[0]
    assert isinstance(reinvite, Request)
    out = call.receive(reply(reinvite, 481), 5.1)
    assert [e.code for e in ended(out)] == [481]


# -- transports -----------------------------------------------------------------------------------


def test_over_tcp_nothing_is_retransmitted() -> None:
    call = new_call(local=Local("127.0.0.1", 5070, "TCP"))
    out = call.start(0.0)
    invite = sent(out)[0]
    assert "SIP/2.0/TCP" in (invite.headers.get("Via") or "")
    assert "transport=tcp" in (invite.headers.get("Contact") or "")
    assert methods(run(call, 0.0, 31.9)) == []
    assert [e.code for e in ended(call.tick(32.0))] == [408]


# -- SRTP (SDES keys in the offer and the answer) -------------------------------------------------

OUR_SRTP_KEY = bytes(range(30))
FAR_SRTP_KEY_B64 = "ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1+f4CB"  # bytes 100..129
SAVP_ANSWER = ANSWER_SDP.replace(b"RTP/AVP 0 101", b"RTP/SAVP 0 101")


def srtp_call() -> OutboundCall:
    counter = itertools.count(1)
    srtp = SrtpOffer(offer_cryptos(OUR_SRTP_KEY), mandatory=True)
    return OutboundCall(
        local=Local("127.0.0.1", 5070),
        target_uri="sip:8613000000001@127.0.0.1:5060",
        from_uri="sip:voxcast@127.0.0.1",
        call_id="call-srtp",
        from_tag="ours",
        sdp_offer=offer("127.0.0.1", 40000, 1, srtp=srtp),
        new_branch=lambda: f"z9hG4bK-{next(counter)}",
    )


def test_an_srtp_answer_gives_the_call_both_keys() -> None:
    call = srtp_call()
    call.start(0.0)
    crypto = f"a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:{FAR_SRTP_KEY_B64}\r\n"
    body = SAVP_ANSWER + crypto.encode()
    out = call.receive(reply(call.invite, 200, body), 1.0)
    [answered] = [o for o in out if isinstance(o, Answered)]
    assert answered.media.srtp == SrtpKeys(
        2, "AES_CM_128_HMAC_SHA1_32", OUR_SRTP_KEY, bytes(range(100, 130))
    )


def test_an_srtp_answer_with_an_mki_fails_the_call_with_488_and_the_reason() -> None:
    call = srtp_call()
    call.start(0.0)
    crypto = f"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{FAR_SRTP_KEY_B64}|2^20|1:4\r\n"
    out = call.receive(reply(call.invite, 200, SAVP_ANSWER + crypto.encode()), 1.0)
    assert methods(out) == ["ACK", "BYE"]
    assert ended(out) == [
        Ended(488, HangupBy.NETWORK, "unusable SDP answer: a=crypto with an MKI is not supported")
    ]


def test_a_plain_answer_to_a_mandatory_srtp_offer_fails_the_call() -> None:
    call = srtp_call()
    call.start(0.0)
    out = call.receive(reply(call.invite, 200, ANSWER_SDP), 1.0)
    assert methods(out) == ["ACK", "BYE"]
    assert ended(out) == [
        Ended(
            488,
            HangupBy.NETWORK,
            "unusable SDP answer: the answer has no a=crypto for our RTP/SAVP offer",
        )
    ]


def test_a_mandatory_srtp_call_refuses_a_plain_re_offer_and_answers_a_keyed_one() -> None:
    call = srtp_call()
    call.start(0.0)
    crypto = f"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{FAR_SRTP_KEY_B64}\r\n".encode()
    call.receive(reply(call.invite, 200, SAVP_ANSWER + crypto), 1.0)
    out = call.receive(far_request(call, "INVITE", "z9hG4bK-re", 2, HOLD_SDP), 5.0)
    assert methods(out) == ["488"] and events(out) == []
    keyed = SAVP_ANSWER + crypto + b"a=sendonly\r\n"
    out = call.receive(far_request(call, "INVITE", "z9hG4bK-re2", 3, keyed), 6.0)
    [ok] = sent(out)
    assert isinstance(ok, Response) and ok.status == 200
    assert b"m=audio 40000 RTP/SAVP 0 101\r\n" in ok.body
    our_line = b"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd"
    assert our_line + b"\r\n" in ok.body
    [changed] = events(out)
    assert isinstance(changed, MediaChanged) and changed.media.on_hold
    assert changed.media.srtp is not None and changed.media.srtp.receive == bytes(range(100, 130))
