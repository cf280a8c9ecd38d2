"""Where messages go (RFC 3261 §8.1.2, §18.2.1-2, RFC 3581): next hops of requests, the source
stamped into a received request's Via, and the destination of the response."""

from __future__ import annotations

import pytest

from voxcast.telephony.sip.core.message import Headers, Request, SipParseError, response_to
from voxcast.telephony.sip.core.routing import (
    Hop,
    hop_of_uri,
    next_hop,
    response_destination,
    stamp_source,
)


def request(uri: str = "sip:callee@10.0.0.9:5070", *routes: str, via: str = "") -> Request:
    h = Headers()
    h.add("Via", via or "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1")
    for route in routes:
        h.add("Route", route)
    for name, value in (("From", "<sip:a@b>;tag=1"), ("To", "<sip:c@d>"), ("Call-ID", "x")):
        h.add(name, value)
    h.add("CSeq", "2 BYE")
    return Request("BYE", uri, h)


def test_without_routes_the_request_uri_is_the_next_hop() -> None:
    assert next_hop(request()) == Hop("10.0.0.9", 5070, "udp")


def test_a_loose_route_is_the_next_hop() -> None:
    req = request("sip:callee@10.0.0.9:5070", "<sip:127.0.0.1:5999;lr>", "<sip:p2;lr>")
    assert next_hop(req) == Hop("127.0.0.1", 5999, "udp")


def test_behind_a_strict_router_the_request_uri_is_the_router() -> None:
    # §12.2.1.1: the dialog put the strict route into the Request-URI already
    req = request("sip:10.1.1.1:5080", "<sip:callee@10.0.0.9:5070>")
    assert next_hop(req) == Hop("10.1.1.1", 5080, "udp")


@pytest.mark.parametrize(
    ("uri", "hop"),
    [
        ("sip:x@host.example", Hop("host.example", 5060, "udp")),
        ("sip:x@host.example;transport=TCP", Hop("host.example", 5060, "tcp")),
        ("sips:x@host.example", Hop("host.example", 5061, "tls")),
        ("sip:x@[2001:db8::1]:5070", Hop("2001:db8::1", 5070, "udp")),
        ("sip:x@host.example;maddr=192.0.2.7", Hop("192.0.2.7", 5060, "udp")),
    ],
)
def test_hops_of_uris(uri: str, hop: Hop) -> None:
    assert hop_of_uri(uri) == hop


def test_a_tel_uri_has_no_hop() -> None:
    with pytest.raises(SipParseError):
        hop_of_uri("tel:+14155550123")


def test_rport_asked_for_is_filled_and_the_response_goes_to_the_source() -> None:
    req = request(via="SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK1;rport")
    stamp_source(req, ("203.0.113.9", 41000))
    via = req.headers.get_all("Via")[0]
    assert via == "SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK1;rport=41000;received=203.0.113.9"
    assert response_destination(response_to(req, 200)) == ("203.0.113.9", 41000)


def test_without_rport_the_response_goes_to_received_at_the_sent_by_port() -> None:
    req = request(via="SIP/2.0/UDP 10.0.0.5:5070;branch=z9hG4bK1")
    stamp_source(req, ("203.0.113.9", 41000))
    assert "received=203.0.113.9" in req.headers.get_all("Via")[0]
    assert response_destination(response_to(req, 200)) == ("203.0.113.9", 5070)


def test_a_second_node_is_answered_at_its_own_via() -> None:
    # a carrier's other node sent the BYE: same host as the source, so no received; its port
    req = request(via="SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bK1")
    stamp_source(req, ("127.0.0.1", 5060))
    assert req.headers.get_all("Via")[0] == "SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bK1"
    assert response_destination(response_to(req, 200)) == ("127.0.0.1", 5099)


def test_only_the_top_via_is_stamped() -> None:
    req = request(via="SIP/2.0/UDP 10.0.0.5;branch=z9hG4bK1;rport")
    req.headers.add("Via", "SIP/2.0/UDP 10.0.0.6;branch=z9hG4bK2")
    stamp_source(req, ("198.51.100.1", 5062))
    vias = req.headers.get_all("Via")
    assert vias[1] == "SIP/2.0/UDP 10.0.0.6;branch=z9hG4bK2"
    assert response_destination(response_to(req, 200)) == ("198.51.100.1", 5062)


def test_a_via_with_a_name_and_no_received_leaves_the_destination_to_the_caller() -> None:
    req = request(via="SIP/2.0/UDP proxy.example:5060;branch=z9hG4bK1")
    assert response_destination(response_to(req, 200)) is None
