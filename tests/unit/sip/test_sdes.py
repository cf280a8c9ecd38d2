"""SDES (RFC 4568): the a=crypto attribute read and written (the RFC's own examples), our SRTP
offers, and the keys chosen from answers and re-offers, with the forms voxcast refuses."""

from __future__ import annotations

import pytest

from voxcast.telephony.sip.core.message import SipParseError
from voxcast.telephony.sip.core.sdes import (
    Crypto,
    SdesError,
    SrtpKeys,
    SrtpOffer,
    choose_answer,
    choose_offer,
    offer_cryptos,
    parse_crypto,
)
from voxcast.telephony.sip.core.sdp import (
    PCMA,
    PCMU,
    answer_to,
    offer,
    parse_answer,
    parse_offer,
    read_own_offer,
    srtp_offer_of,
)

#: RFC 4568 §4's key (and §7's answer): 40 base64 characters, 30 bytes of key and salt
RFC_KEY_B64 = "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR"
RFC_KEY = bytes.fromhex("3d2d6e40255e7821426a75667239293f2c2335685c603d265d7b71695051")
OUR_KEY = bytes(range(30))
OUR_KEY_B64 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd"
THEIR_KEY = bytes(range(100, 130))
THEIR_KEY_B64 = "ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1+f4CB"


def test_the_rfc_example_without_its_mki_parses() -> None:
    crypto = parse_crypto(f"1 AES_CM_128_HMAC_SHA1_80 inline:{RFC_KEY_B64}")
    assert crypto == Crypto(1, "AES_CM_128_HMAC_SHA1_80", RFC_KEY)


def test_a_long_lifetime_and_the_window_size_hint_are_accepted() -> None:
    crypto = parse_crypto(f"7 AES_CM_128_HMAC_SHA1_32 inline:{RFC_KEY_B64}|2^31 WSH=64")
    assert crypto == Crypto(7, "AES_CM_128_HMAC_SHA1_32", RFC_KEY)
    assert parse_crypto(f"1 AES_CM_128_HMAC_SHA1_80 inline:{RFC_KEY_B64}|1048576").key == RFC_KEY


def test_a_crypto_line_is_written_as_the_rfc_writes_it() -> None:
    assert Crypto(1, "AES_CM_128_HMAC_SHA1_80", RFC_KEY).line() == (
        f"1 AES_CM_128_HMAC_SHA1_80 inline:{RFC_KEY_B64}"
    )


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        # RFC 4568 §4's example as it stands: lifetime, MKI 1:4 and a FEC session parameter
        (f"1 AES_CM_128_HMAC_SHA1_80 inline:{RFC_KEY_B64}|2^20|1:4 FEC_ORDER=FEC_SRTP", "MKI"),
        (f"1 AES_CM_128_HMAC_SHA1_80 inline:{RFC_KEY_B64}|1:4", "MKI"),
        # §7's second offered line: F8 and two keys
        (f"2 F8_128_HMAC_SHA1_80 inline:{RFC_KEY_B64}|2^20|1:4", "suite F8_128_HMAC_SHA1_80"),
        (
            f"1 AES_CM_128_HMAC_SHA1_80 inline:{RFC_KEY_B64}|2^20|1:4;"
            f"inline:{RFC_KEY_B64}|2^20|2:4",
            "several keys",
        ),
        (f"1 AES_CM_128_HMAC_SHA1_80 inline:{RFC_KEY_B64}|2^10", "lifetime 2\\^10 is shorter"),
        (f"1 AES_CM_128_HMAC_SHA1_80 inline:{RFC_KEY_B64}|2^49", "exceeds 2\\^48"),
        (f"1 AES_CM_128_HMAC_SHA1_80 inline:{RFC_KEY_B64}|2^999999999999", "exceeds 2\\^48"),
        (f"1 AES_CM_128_HMAC_SHA1_80 inline:{RFC_KEY_B64} KDR=1", "session parameter KDR"),
        (
            f"1 AES_CM_128_HMAC_SHA1_80 inline:{RFC_KEY_B64} UNENCRYPTED_SRTP",
            "session parameter UNENCRYPTED_SRTP",
        ),
        ("1 AES_CM_128_HMAC_SHA1_80 inline:not*base64", "not base64"),
        ("1 AES_CM_128_HMAC_SHA1_80 inline:AAAA", "3 bytes, not 30"),
        (f"x1 AES_CM_128_HMAC_SHA1_80 inline:{RFC_KEY_B64}", "tag"),
        (f"1 AES_CM_128_HMAC_SHA1_80 uri:{RFC_KEY_B64}", "method 'uri'"),
        ("1 AES_CM_128_HMAC_SHA1_80", "needs a tag"),
    ],
)
def test_forms_voxcast_does_not_do_are_refused_with_the_reason(value: str, reason: str) -> None:
    with pytest.raises(SdesError, match=reason) as caught:
        parse_crypto(value)
    assert RFC_KEY_B64 not in str(caught.value)  # the key is never in a message


def test_keys_are_never_in_a_repr() -> None:
    keys = SrtpKeys(1, "AES_CM_128_HMAC_SHA1_80", OUR_KEY, RFC_KEY)
    crypto = Crypto(1, "AES_CM_128_HMAC_SHA1_80", RFC_KEY)
    for text in (repr(keys), repr(crypto)):
        assert RFC_KEY_B64 not in text and repr(RFC_KEY) not in text
    assert repr(OUR_KEY) not in repr(keys)


# -- offers ----------------------------------------------------------------------------------


def test_a_mandatory_offer_is_rtp_savp_with_both_suites() -> None:
    sdp = offer("127.0.0.1", 40000, 42, srtp=SrtpOffer(offer_cryptos(OUR_KEY), True)).decode()
    lines = sdp.splitlines()
    assert "m=audio 40000 RTP/SAVP 0 8 101" in lines
    assert [line for line in lines if line.startswith("a=crypto")] == [
        f"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{OUR_KEY_B64}",
        f"a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:{OUR_KEY_B64}",
    ]


def test_an_optional_offer_is_rtp_avp_with_keys() -> None:
    sdp = offer("127.0.0.1", 40000, 42, srtp=SrtpOffer(offer_cryptos(OUR_KEY), False)).decode()
    assert "m=audio 40000 RTP/AVP 0 8 101" in sdp.splitlines()
    assert f"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{OUR_KEY_B64}\r\n" in sdp


def answer(proto: str = "RTP/SAVP", *cryptos: str) -> bytes:
    lines = [
        "v=0",
        "o=- 1 1 IN IP4 127.0.0.1",
        "s=-",
        "c=IN IP4 127.0.0.1",
        "t=0 0",
        f"m=audio 7000 {proto} 8 101",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:101 telephone-event/8000",
        *(f"a=crypto:{c}" for c in cryptos),
    ]
    return ("\r\n".join(lines) + "\r\n").encode()


MANDATORY = SrtpOffer(offer_cryptos(OUR_KEY), mandatory=True)
OPTIONAL = SrtpOffer(offer_cryptos(OUR_KEY), mandatory=False)


def test_the_answer_chooses_tag_2_and_the_keys_pair_up() -> None:
    body = answer("RTP/SAVP", f"2 AES_CM_128_HMAC_SHA1_32 inline:{THEIR_KEY_B64}")
    media = parse_answer(body, (PCMU, PCMA), MANDATORY)
    assert media.codec == PCMA and media.proto == "RTP/SAVP"
    assert media.srtp == SrtpKeys(2, "AES_CM_128_HMAC_SHA1_32", OUR_KEY, THEIR_KEY)


def test_an_optional_offer_answered_without_keys_is_plain_rtp() -> None:
    media = parse_answer(answer("RTP/AVP"), (PCMU, PCMA), OPTIONAL)
    assert media.srtp is None and media.codec == PCMA


def test_an_optional_offer_answered_with_keys_is_srtp() -> None:
    body = answer("RTP/AVP", f"1 AES_CM_128_HMAC_SHA1_80 inline:{THEIR_KEY_B64}")
    media = parse_answer(body, (PCMU, PCMA), OPTIONAL)
    assert media.srtp == SrtpKeys(1, "AES_CM_128_HMAC_SHA1_80", OUR_KEY, THEIR_KEY)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (answer("RTP/AVP"), "no a=crypto"),
        (answer("RTP/SAVP"), "no a=crypto"),
        (
            answer("RTP/AVP", f"1 AES_CM_128_HMAC_SHA1_80 inline:{THEIR_KEY_B64}"),
            "not RTP/SAVP",
        ),
        (answer("RTP/SAVP", f"3 AES_CM_128_HMAC_SHA1_80 inline:{THEIR_KEY_B64}"), "tag 3"),
        (
            answer("RTP/SAVP", f"1 AES_CM_128_HMAC_SHA1_32 inline:{THEIR_KEY_B64}"),
            "changed the suite",
        ),
        (
            answer(
                "RTP/SAVP",
                f"1 AES_CM_128_HMAC_SHA1_80 inline:{THEIR_KEY_B64}",
                f"2 AES_CM_128_HMAC_SHA1_32 inline:{THEIR_KEY_B64}",
            ),
            "several a=crypto",
        ),
        (answer("RTP/SAVP", f"1 AES_CM_128_HMAC_SHA1_80 inline:{THEIR_KEY_B64}|1:4"), "MKI"),
    ],
)
def test_answers_a_mandatory_offer_cannot_use(body: bytes, reason: str) -> None:
    with pytest.raises(SdesError, match=reason):
        parse_answer(body, (PCMU, PCMA), MANDATORY)


def test_without_srtp_an_savp_answer_is_still_refused() -> None:
    body = answer("RTP/SAVP", f"1 AES_CM_128_HMAC_SHA1_80 inline:{THEIR_KEY_B64}")
    with pytest.raises(SipParseError, match="unsupported media transport RTP/SAVP"):
        parse_answer(body)


def test_choose_answer_and_choose_offer_directly() -> None:
    keys = choose_answer(MANDATORY, "RTP/SAVP", [f"1 AES_CM_128_HMAC_SHA1_80 inline:{RFC_KEY_B64}"])
    assert keys == SrtpKeys(1, "AES_CM_128_HMAC_SHA1_80", OUR_KEY, RFC_KEY)
    # an offer's first usable line wins; one with an MKI is passed over
    offered = [
        f"1 AES_CM_128_HMAC_SHA1_80 inline:{RFC_KEY_B64}|2^20|1:4",
        f"2 AES_CM_128_HMAC_SHA1_32 inline:{THEIR_KEY_B64}",
    ]
    assert choose_offer(OUR_KEY, offered) == SrtpKeys(
        2, "AES_CM_128_HMAC_SHA1_32", OUR_KEY, THEIR_KEY
    )
    with pytest.raises(SdesError, match="MKI"):
        choose_offer(OUR_KEY, offered[:1])
    assert choose_offer(OUR_KEY, []) is None


# -- re-offers: the answer mirrors their transport, one line with our key ----------------------


def test_a_savp_re_offer_is_answered_with_savp_and_our_key_under_its_tag() -> None:
    body = answer("RTP/SAVP", f"5 AES_CM_128_HMAC_SHA1_80 inline:{THEIR_KEY_B64}")
    theirs = parse_offer(body, (PCMU, PCMA), OUR_KEY)
    assert theirs.srtp == SrtpKeys(5, "AES_CM_128_HMAC_SHA1_80", OUR_KEY, THEIR_KEY)
    ours = answer_to(theirs, "127.0.0.1", 40000, 9, 2).decode().splitlines()
    assert "m=audio 40000 RTP/SAVP 8 101" in ours
    assert [line for line in ours if line.startswith("a=crypto")] == [
        f"a=crypto:5 AES_CM_128_HMAC_SHA1_80 inline:{OUR_KEY_B64}"
    ]


def test_a_savp_offer_without_keys_or_to_a_plain_call_is_refused() -> None:
    with pytest.raises(SdesError, match="has no a=crypto"):
        parse_offer(answer("RTP/SAVP"), (PCMU, PCMA), OUR_KEY)
    body = answer("RTP/SAVP", f"1 AES_CM_128_HMAC_SHA1_80 inline:{THEIR_KEY_B64}")
    with pytest.raises(SipParseError, match="unsupported media transport"):
        parse_offer(body)


@pytest.mark.parametrize("srtp", [None, MANDATORY, OPTIONAL])
def test_our_own_offer_read_in_one_pass_is_what_the_two_readers_give(
    srtp: SrtpOffer | None,
) -> None:
    sdp = offer("127.0.0.1", 40000, 42, (PCMA, PCMU), srtp=srtp)
    key = srtp.cryptos[0].key if srtp is not None else None
    media, ours = read_own_offer(sdp, (PCMA, PCMU))
    assert ours == srtp_offer_of(sdp) == srtp
    assert media == parse_offer(sdp, (PCMA, PCMU), key)
    assert (media.port, media.codec, media.srtp is None) == (40000, PCMA, srtp is None)
