"""SDP offer/answer: our offer, real answers (SIPp, FreeSWITCH), hold, and hostile bodies."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.sip import captures
from voxcast.telephony.sip.core.message import SipParseError, parse
from voxcast.telephony.sip.core.sdp import (
    PCMA,
    PCMU,
    TELEPHONE_EVENT,
    answer_to,
    offer,
    parse_answer,
    parse_offer,
)

FREESWITCH_ANSWER = (
    b"v=0\r\no=FreeSWITCH 1700000000 1700000001 IN IP4 127.0.0.1\r\ns=FreeSWITCH\r\n"
    b"c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 24680 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\n"
    b"a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\n"
)


def test_offer_lists_g711_and_telephone_event() -> None:
    sdp = offer("127.0.0.1", 40000, 42).decode()
    assert sdp.endswith("\r\n")
    lines = sdp.splitlines()
    assert lines[:5] == [
        "v=0",
        "o=voxcast 42 42 IN IP4 127.0.0.1",
        "s=voxcast",
        "c=IN IP4 127.0.0.1",
        "t=0 0",
    ]
    assert "m=audio 40000 RTP/AVP 0 8 101" in lines
    assert "a=rtpmap:0 PCMU/8000" in lines and "a=rtpmap:8 PCMA/8000" in lines
    assert "a=rtpmap:101 telephone-event/8000" in lines and "a=fmtp:101 0-16" in lines
    assert "a=ptime:20" in lines and lines[-1] == "a=sendrecv"


def test_offer_options() -> None:
    sdp = offer("::1", 40002, 7, (PCMA,), version=9, direction="sendonly").decode()
    assert "o=voxcast 7 9 IN IP6 ::1" in sdp and "c=IN IP6 ::1" in sdp
    assert "m=audio 40002 RTP/AVP 8 101" in sdp and "a=sendonly" in sdp
    with pytest.raises(ValueError):
        offer("127.0.0.1", 1, 1, (18,))


def test_our_offer_parses_as_an_offer() -> None:
    media = parse_offer(offer("127.0.0.1", 40000, 42))
    assert (media.address, media.port, media.codec, media.dtmf_payload) == (
        "127.0.0.1",
        40000,
        PCMU,
        TELEPHONE_EVENT,
    )


def test_answer_picks_the_answers_first_codec_and_its_dtmf_payload() -> None:
    answer = parse_answer(FREESWITCH_ANSWER)
    assert (answer.address, answer.port, answer.codec, answer.dtmf_payload) == (
        "127.0.0.1",
        24680,
        PCMA,
        101,
    )
    assert not answer.on_hold and answer.we_send and answer.we_receive
    assert parse_answer(FREESWITCH_ANSWER.replace(b"RTP/AVP 8 101", b"RTP/AVP 0 8")).codec == PCMU
    # the answerer's order wins (RFC 3264 §6.1), not ours
    assert parse_answer(FREESWITCH_ANSWER.replace(b"RTP/AVP 8 101", b"RTP/AVP 8 0")).codec == PCMA
    with pytest.raises(SipParseError):
        parse_answer(FREESWITCH_ANSWER, offered=(PCMU,))


def test_captured_answers() -> None:
    sipp = parse_answer(parse(captures.SIPP_200).body)
    assert (sipp.port, sipp.codec, sipp.dtmf_payload, sipp.direction) == (
        6000,
        PCMU,
        None,
        "sendrecv",
    )
    early = parse_answer(parse(captures.FREESWITCH_183).body)
    assert (early.port, early.codec, early.dtmf_payload, early.ptime) == (27356, PCMA, 101, 20)


def test_hold_is_recognized_in_all_its_forms() -> None:
    assert parse_answer(FREESWITCH_ANSWER + b"a=sendonly\r\n").on_hold
    assert parse_answer(FREESWITCH_ANSWER + b"a=inactive\r\n").on_hold
    zero = FREESWITCH_ANSWER.replace(b"c=IN IP4 127.0.0.1", b"c=IN IP4 0.0.0.0")
    assert parse_answer(zero).on_hold and not parse_answer(zero).we_send
    recvonly = parse_answer(FREESWITCH_ANSWER + b"a=recvonly\r\n")
    assert not recvonly.on_hold and recvonly.we_send and not recvonly.we_receive
    held = parse_offer(parse(captures.FREESWITCH_REINVITE_HOLD).body)
    assert held.on_hold and held.direction == "sendonly"


def test_session_level_attributes_and_media_level_overrides() -> None:
    body = (
        b"v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\na=sendonly\r\n"
        b"m=video 5000 RTP/AVP 96\r\nc=IN IP4 10.0.0.9\r\na=recvonly\r\n"
        b"a=rtpmap:96 telephone-event/8000\r\n"
        b"m=audio 6000/2 RTP/AVP 0\r\nc=IN IP4 10.0.0.2/127\r\na=ptime:30\r\n"
        b"m=audio 7000 RTP/AVP 8\r\nc=IN IP4 10.0.0.3\r\na=inactive\r\n"
    )
    media = parse_answer(body)
    assert (media.address, media.port, media.codec, media.direction, media.ptime) == (
        "10.0.0.2",
        6000,
        PCMU,
        "sendonly",
        30,
    )
    assert media.dtmf_payload is None  # the video section's rtpmap is not ours


def test_answer_to_a_hold_re_offer_mirrors_the_direction() -> None:
    held = parse_offer(parse(captures.FREESWITCH_REINVITE_HOLD).body)
    ours = parse_answer(answer_to(held, "127.0.0.1", 40000, 42, 43))
    assert (ours.port, ours.codec, ours.dtmf_payload, ours.direction) == (
        40000,
        PCMA,
        101,
        "recvonly",
    )
    body = answer_to(held, "127.0.0.1", 40000, 42, 43).decode()
    assert "o=voxcast 42 43 IN IP4 127.0.0.1" in body and "m=audio 40000 RTP/AVP 8 101" in body
    resumed = parse_offer(FREESWITCH_ANSWER)
    assert parse_answer(answer_to(resumed, "127.0.0.1", 1, 1, 2)).direction == "sendrecv"
    inactive = parse_offer(FREESWITCH_ANSWER + b"a=inactive\r\n")
    assert parse_answer(answer_to(inactive, "127.0.0.1", 1, 1, 2)).direction == "inactive"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"v=0\r\n",
        FREESWITCH_ANSWER.replace(b"RTP/AVP 8 101", b"RTP/AVP 18"),  # no codec in common
        FREESWITCH_ANSWER.replace(b"c=IN IP4 127.0.0.1\r\n", b""),  # no address
        FREESWITCH_ANSWER.replace(b"m=audio 24680", b"m=audio 0"),  # rejected stream
        FREESWITCH_ANSWER.replace(b"m=audio 24680", b"m=audio 99999"),
        FREESWITCH_ANSWER.replace(b"m=audio 24680", "m=audio ²".encode()),
        FREESWITCH_ANSWER.replace(b"RTP/AVP", b"RTP/SAVP"),  # SRTP: not ours
        FREESWITCH_ANSWER.replace(b"m=audio", b"m=video"),
        b"\xff\xfe",
    ],
)
def test_answers_voxcast_cannot_use_are_refused(body: bytes) -> None:
    with pytest.raises(SipParseError):
        parse_answer(body)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.binary(max_size=400), st.integers(0, len(FREESWITCH_ANSWER)))
def test_corrupted_sdp_only_raises_the_parse_error(noise: bytes, at: int) -> None:
    for body in (noise, FREESWITCH_ANSWER[:at] + noise + FREESWITCH_ANSWER[at:]):
        for fn in (parse_answer, parse_offer):
            with contextlib.suppress(SipParseError):
                fn(body)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.text(max_size=300))
def test_arbitrary_text_sdp_only_raises_the_parse_error(text: str) -> None:
    with contextlib.suppress(SipParseError):
        parse_answer(("v=0\r\nm=audio 1 RTP/AVP 0\r\n" + text).encode("utf-8", "surrogatepass"))
