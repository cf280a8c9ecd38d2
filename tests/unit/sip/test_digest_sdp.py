"""Digest answers (checked against RFC 2617's worked example) and SDP offer/answer."""

from __future__ import annotations

import pytest

from voxcast.telephony.sip.digest import authorization, parse_challenge
from voxcast.telephony.sip.message import SipParseError
from voxcast.telephony.sip.sdp import PCMA, PCMU, offer, parse_answer

RFC2617 = (
    'Digest realm="testrealm@host.com", qop="auth,auth-int", '
    'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"'
)


def test_qop_auth_answer_matches_the_rfc_2617_example() -> None:
    challenge = parse_challenge(RFC2617)
    assert challenge.qop == ("auth", "auth-int")
    header = authorization(
        challenge,
        method="GET",
        uri="/dir/index.html",
        username="Mufasa",
        password="Circle Of Life",
        cnonce="0a4f113b",
    )
    assert 'response="6629fae49393a05397450978507c4ef1"' in header
    assert "qop=auth" in header and "nc=00000001" in header
    assert 'opaque="5ccc069c403ebaf9f0171e9517f40e41"' in header


def test_answer_without_qop_uses_the_rfc_2069_form() -> None:
    challenge = parse_challenge('Digest realm="asterisk", nonce="abc123", algorithm=MD5')
    header = authorization(
        challenge,
        method="INVITE",
        uri="sip:100@127.0.0.1",
        username="voxcast",
        password="pw",
        cnonce="x",
    )
    # MD5(MD5(voxcast:asterisk:pw):abc123:MD5(INVITE:sip:100@127.0.0.1))
    import hashlib

    def md5(s: str) -> str:
        return hashlib.md5(s.encode()).hexdigest()

    expected = md5(f"{md5('voxcast:asterisk:pw')}:abc123:{md5('INVITE:sip:100@127.0.0.1')}")
    assert f'response="{expected}"' in header and "qop" not in header


@pytest.mark.parametrize(
    "bad",
    ["Basic realm=x", 'Digest nonce="1"', 'Digest realm="r", nonce="n", algorithm=SHA-512-256'],
)
def test_challenges_voxcast_cannot_answer_are_refused(bad: str) -> None:
    with pytest.raises(SipParseError):
        parse_challenge(bad)


FREESWITCH_ANSWER = (
    b"v=0\r\no=FreeSWITCH 1700000000 1700000001 IN IP4 127.0.0.1\r\ns=FreeSWITCH\r\n"
    b"c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 24680 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\n"
    b"a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\n"
)


def test_offer_lists_g711_and_telephone_event() -> None:
    sdp = offer("127.0.0.1", 40000, 42).decode()
    assert "m=audio 40000 RTP/AVP 0 8 101" in sdp
    assert "a=rtpmap:101 telephone-event/8000" in sdp and "c=IN IP4 127.0.0.1" in sdp


def test_answer_picks_our_first_codec_they_accept_and_their_dtmf_payload() -> None:
    answer = parse_answer(FREESWITCH_ANSWER)
    assert (answer.address, answer.port, answer.codec, answer.dtmf_payload) == (
        "127.0.0.1",
        24680,
        PCMA,
        101,
    )
    assert not answer.on_hold
    assert (
        parse_answer(
            FREESWITCH_ANSWER.replace(b"RTP/AVP 8 101", b"RTP/AVP 0 8"),
        ).codec
        == PCMU
    )


def test_hold_is_recognized() -> None:
    held = parse_answer(FREESWITCH_ANSWER + b"a=sendonly\r\n")
    assert held.on_hold


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"v=0\r\n",
        FREESWITCH_ANSWER.replace(b"RTP/AVP 8 101", b"RTP/AVP 18"),
        FREESWITCH_ANSWER.replace(b"c=IN IP4 127.0.0.1\r\n", b""),
        b"\xff\xfe",
    ],
)
def test_answers_voxcast_cannot_use_are_refused(body: bytes) -> None:
    with pytest.raises(SipParseError):
        parse_answer(body)
