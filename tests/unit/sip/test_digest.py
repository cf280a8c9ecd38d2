"""Digest answers (checked against RFC 2617's worked example) and the one-retry policy."""

from __future__ import annotations

import hashlib
import itertools

import pytest

from tests.unit.sip import captures
from voxcast.telephony.sip.core.digest import (
    Authenticator,
    Credentials,
    authorization,
    parse_challenge,
)
from voxcast.telephony.sip.core.message import (
    Headers,
    Request,
    Response,
    SipParseError,
    parse,
)

RFC2617 = (
    'Digest realm="testrealm@host.com", qop="auth,auth-int", '
    'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"'
)


def md5(s: str) -> str:
    return hashlib.md5(s.encode()).hexdigest()


def fields(header: str) -> dict[str, str]:
    assert header.startswith("Digest ")
    out = {}
    for part in header[7:].split(", "):
        name, _, value = part.partition("=")
        out[name] = value.strip('"')
    return out


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
    got = fields(header)
    assert got["response"] == "6629fae49393a05397450978507c4ef1"
    assert (got["qop"], got["nc"], got["cnonce"]) == ("auth", "00000001", "0a4f113b")
    assert got["opaque"] == "5ccc069c403ebaf9f0171e9517f40e41"


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
    expected = md5(f"{md5('voxcast:asterisk:pw')}:abc123:{md5('INVITE:sip:100@127.0.0.1')}")
    assert fields(header)["response"] == expected and "qop" not in header


def test_md5_sess_and_auth_int() -> None:
    sess = parse_challenge('Digest realm="r", nonce="n", algorithm=MD5-sess, qop="auth"')
    got = fields(
        authorization(sess, method="INVITE", uri="sip:a@b", username="u", password="p", cnonce="c")
    )
    ha1 = md5(f"{md5('u:r:p')}:n:c")
    assert got["response"] == md5(f"{ha1}:n:00000001:c:auth:{md5('INVITE:sip:a@b')}")
    assert got["algorithm"] == "MD5-SESS"
    integrity = parse_challenge('Digest realm="r", nonce="n", qop="auth-int"')
    body = b"v=0\r\n"
    got = fields(
        authorization(
            integrity,
            method="INVITE",
            uri="sip:a@b",
            username="u",
            password="p",
            cnonce="c",
            body=body,
        )
    )
    ha2 = md5(f"INVITE:sip:a@b:{hashlib.md5(body).hexdigest()}")
    assert got["qop"] == "auth-int"
    assert got["response"] == md5(f"{md5('u:r:p')}:n:00000001:c:auth-int:{ha2}")


def test_captured_asterisk_challenges_parse() -> None:
    pjsip = parse(captures.ASTERISK_PJSIP_401)
    challenge = parse_challenge(pjsip.headers.get("WWW-Authenticate") or "")
    assert challenge.realm == "asterisk" and challenge.qop == ("auth",)
    assert challenge.opaque == "4f1e2d3c4b5a6978" and challenge.algorithm == "MD5"
    chan_sip = parse(captures.ASTERISK_CHAN_SIP_407)
    challenge = parse_challenge(chan_sip.headers.get("Proxy-Authenticate") or "")
    assert (challenge.realm, challenge.nonce, challenge.qop) == ("asterisk", "3c5e1b7a", ())


def test_quotes_and_backslashes_in_values_are_escaped_back() -> None:
    challenge = parse_challenge(r'Digest realm="a \"b\" c", nonce="n\\1"')
    assert challenge.realm == 'a "b" c' and challenge.nonce == "n\\1"
    header = authorization(
        challenge, method="BYE", uri="sip:x@y", username='u"v', password="p", cnonce="c"
    )
    assert r'realm="a \"b\" c"' in header and r'username="u\"v"' in header


@pytest.mark.parametrize(
    "bad",
    [
        "Basic realm=x",
        'Digest nonce="1"',
        'Digest realm="r", nonce=""',
        'Digest realm="r", nonce="n", algorithm=SHA-512-256',
        'Digest realm="r", nonce="n", qop="auth-conf"',
        "",
        "Digest",
    ],
)
def test_challenges_voxcast_cannot_answer_are_refused(bad: str) -> None:
    with pytest.raises(SipParseError):
        parse_challenge(bad)


# -- the retry policy -----------------------------------------------------------------------------


def invite() -> Request:
    h = Headers()
    h.add("Via", "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-1")
    h.add("From", "<sip:voxcast@127.0.0.1>;tag=ours")
    h.add("To", "<sip:100@127.0.0.1>")
    h.add("Call-ID", "c")
    h.add("CSeq", "1 INVITE")
    return Request("INVITE", "sip:100@127.0.0.1", h, b"v=0\r\n")


def challenge_response(status: int, *values: str) -> Response:
    h = Headers()
    header = "WWW-Authenticate" if status == 401 else "Proxy-Authenticate"
    for v in values:
        h.add(header, v)
    return Response(status, "x", h)


def authenticator(realm: str | None = None) -> Authenticator:
    counter = itertools.count(1)
    return Authenticator(Credentials("u", "p", realm), lambda: f"cn{next(counter)}")


def test_one_retry_then_give_up() -> None:
    auth = authenticator()
    first = auth.answer(invite(), challenge_response(401, 'Digest realm="r", nonce="n1"'))
    assert first is not None and first[0][0] == "Authorization"
    assert auth.answer(invite(), challenge_response(401, 'Digest realm="r", nonce="n2"')) is None


def test_a_stale_nonce_earns_exactly_one_more_retry() -> None:
    auth = authenticator()
    assert auth.answer(invite(), challenge_response(407, 'Digest realm="r", nonce="n1"'))
    stale = challenge_response(407, 'Digest realm="r", nonce="n2", stale=true')
    again = auth.answer(invite(), stale)
    assert again is not None and again[0][0] == "Proxy-Authorization"
    assert 'nonce="n2"' in again[0][1] and "cnonce" not in again[0][1]
    assert auth.answer(invite(), stale) is None


def test_the_md5_challenge_is_chosen_among_several_and_realms_are_respected() -> None:
    both = challenge_response(
        401,
        'Digest realm="r", nonce="n1", algorithm=SHA-256, qop="auth"',
        'Digest realm="r", nonce="n1", algorithm=MD5, qop="auth"',
    )
    answer = authenticator().answer(invite(), both)
    assert answer is not None and "algorithm=MD5," in answer[0][1]
    assert authenticator(realm="other").answer(invite(), both) is None
    assert authenticator(realm="r").answer(invite(), both) is not None
    assert authenticator().answer(invite(), challenge_response(401, "Basic realm=x")) is None
