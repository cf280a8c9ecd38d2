"""The sans-IO SIP message layer, fed real-world and hostile messages."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voxcast.telephony.sip.message import (
    MAX_MESSAGE_BYTES,
    Headers,
    Request,
    Response,
    SipParseError,
    parse,
    parse_cseq,
    parse_name_addr,
    parse_uri,
    parse_via,
    serialize,
    split_values,
)

ASTERISK_180 = (
    b"SIP/2.0 180 Ringing\r\n"
    b"Via: SIP/2.0/UDP 127.0.0.1:5070;rport=5070;received=127.0.0.1;branch=z9hG4bK-524287-1\r\n"
    b"Call-ID: 3c26700a5b@127.0.0.1\r\n"
    b"From: <sip:1008122211@127.0.0.1>;tag=as58f4201b\r\n"
    b"To: <sip:8613000000001@127.0.0.1>;tag=as2d3e4f\r\n"
    b"CSeq: 102 INVITE\r\n"
    b"Server: Asterisk PBX 18.10.0\r\n"
    b"Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, SUBSCRIBE, NOTIFY, INFO\r\n"
    b"Supported: replaces, timer\r\n"
    b'Contact: "Asterisk" <sip:8613000000001@127.0.0.1:5060>\r\n'
    b"Content-Length: 0\r\n\r\n"
)

SDP = (
    b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=audio 6000 RTP/AVP 0\r\n"
)

COMPACT_INVITE = (
    b"INVITE sip:8613000000000@127.0.0.1:5060 SIP/2.0\r\n"
    b"v: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKabc, SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKdef\r\n"
    b'f: "Display, Name" <sip:caller@127.0.0.1>;tag=1928301774\r\n'
    b"t: <sip:8613000000000@127.0.0.1>\r\n"
    b"i: a84b4c76e66710@pc33\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"m: <sip:caller@127.0.0.1:5070;transport=udp>\r\n"
    b"c: application/sdp\r\n"
    b"l: " + str(len(SDP)).encode() + b"\r\n\r\n" + SDP
)


def test_a_real_provisional_response_parses() -> None:
    msg = parse(ASTERISK_180)
    assert isinstance(msg, Response)
    assert (msg.status, msg.reason) == (180, "Ringing")
    assert msg.call_id == "3c26700a5b@127.0.0.1"
    assert parse_cseq(msg.headers.get("cseq") or "") == (102, "INVITE")
    assert msg.headers.get_all("Allow")[-1] == "INFO"
    via = parse_via(msg.headers.get_all("Via")[0])
    assert (via.transport, via.host, via.port, via.branch) == (
        "UDP",
        "127.0.0.1",
        5070,
        "z9hG4bK-524287-1",
    )
    assert parse_name_addr(msg.headers.get("To") or "").tag == "as2d3e4f"


def test_compact_forms_and_multi_value_headers_are_expanded() -> None:
    msg = parse(COMPACT_INVITE)
    assert isinstance(msg, Request)
    assert msg.method == "INVITE"
    assert [parse_via(v).branch for v in msg.headers.get_all("Via")] == ["z9hG4bKabc", "z9hG4bKdef"]
    frm = parse_name_addr(msg.headers.get("From") or "")
    assert (frm.display, frm.tag) == ("Display, Name", "1928301774")
    assert msg.headers.get("Content-Type") == "application/sdp"
    assert msg.body == SDP
    contact = parse_uri(parse_name_addr(msg.headers.get("Contact") or "").uri)
    assert (contact.user, contact.host, contact.port, contact.params) == (
        "caller",
        "127.0.0.1",
        5070,
        {"transport": "udp"},
    )


def test_serialize_then_parse_round_trips() -> None:
    msg = parse(COMPACT_INVITE)
    again = parse(serialize(msg))
    assert isinstance(again, Request)
    assert again.headers.items == msg.headers.items and again.body == msg.body


def test_bytes_past_content_length_are_discarded() -> None:
    msg = parse(ASTERISK_180 + b"garbage")
    assert msg.body == b""


@pytest.mark.parametrize(
    "data",
    [
        ASTERISK_180[:40],  # truncated before the blank line
        ASTERISK_180.replace(b"Content-Length: 0", b"Content-Length: 50"),  # body too short
        ASTERISK_180.replace(b"Content-Length: 0", b"Content-Length: x"),
        ASTERISK_180.replace(b"SIP/2.0 180 Ringing", b"SIP/2.0 999 Weird"),
        ASTERISK_180.replace(b"SIP/2.0 180 Ringing", b"HTTP/1.1 200 OK"),
        ASTERISK_180.replace(b"CSeq: 102 INVITE", b"CSeq: abc INVITE"),
        ASTERISK_180.replace(b"Call-ID: 3c26700a5b@127.0.0.1\r\n", b""),
        COMPACT_INVITE.replace(b"INVITE sip:", b"INVITE nouri "),
        COMPACT_INVITE.replace(b" SIP/2.0\r\n", b" SIP/3.0\r\n", 1),
        b"INVITE sip:a@b SIP/2.0\r\nBad Header Line\r\n\r\n",
        b"\xff\xfe\r\n\r\n",
        b"",
    ],
)
def test_malformed_messages_raise_only_the_parse_error(data: bytes) -> None:
    with pytest.raises(SipParseError):
        parse(data)


def test_oversized_message_is_refused() -> None:
    with pytest.raises(SipParseError):
        parse(ASTERISK_180 + b"x" * MAX_MESSAGE_BYTES)


def test_too_many_headers_are_refused() -> None:
    many = ASTERISK_180.replace(b"\r\n\r\n", b"\r\n" + b"X-A: 1\r\n" * 101 + b"\r\n")
    with pytest.raises(SipParseError):
        parse(many)


def test_header_injection_is_refused_on_the_way_out() -> None:
    req = Request("OPTIONS", "sip:a@127.0.0.1", Headers())
    req.headers.add("Subject", "hi\r\nVia: SIP/2.0/UDP evil")
    with pytest.raises(SipParseError):
        serialize(req)


def test_unknown_methods_parse_so_they_can_be_answered_405() -> None:
    data = COMPACT_INVITE.replace(b"INVITE sip:", b"FROBNICATE sip:", 1)
    msg = parse(data)
    assert isinstance(msg, Request) and msg.method == "FROBNICATE"


def test_split_values_keeps_commas_inside_quotes_and_brackets() -> None:
    assert split_values('"a, b" <sip:x@y;p=1,2>, <sip:z@w>') == [
        '"a, b" <sip:x@y;p=1,2>',
        "<sip:z@w>",
    ]


def test_ipv6_hosts_and_ports() -> None:
    via = parse_via("SIP/2.0/TCP [2001:db8::1]:5061;branch=z9hG4bK1")
    assert (via.host, via.port, via.transport) == ("2001:db8::1", 5061, "TCP")
    with pytest.raises(SipParseError):
        parse_uri("sip:a@host:99999")


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_never_raise_anything_but_the_parse_error(data: bytes) -> None:
    with contextlib.suppress(SipParseError):
        parse(data)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.binary(max_size=600), st.integers(min_value=0, max_value=len(COMPACT_INVITE)))
def test_corrupted_real_messages_never_crash(noise: bytes, at: int) -> None:
    data = COMPACT_INVITE[:at] + noise + COMPACT_INVITE[at:]
    try:
        msg = parse(data)
    except SipParseError:
        return
    parse(serialize(msg))  # whatever parses, serializes back to something that parses


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=80))
def test_header_helpers_only_raise_the_parse_error(text: str) -> None:
    for fn in (parse_via, parse_name_addr, parse_uri, parse_cseq):
        with contextlib.suppress(SipParseError):
            fn(text)
