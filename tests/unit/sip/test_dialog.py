"""Requests we build and dialog state from a 2xx: ACK, BYE and CANCEL go where they must."""

from __future__ import annotations

import pytest

from tests.unit.sip import captures
from voxcast.telephony.sip.core.dialog import Dialog, Local, cancel_for, new_invite
from voxcast.telephony.sip.core.message import (
    Headers,
    Request,
    Response,
    parse,
    parse_name_addr,
    serialize,
)
from voxcast.telephony.sip.core.sdp import offer
from voxcast.telephony.sip.core.transaction import client_key

LOCAL = Local("127.0.0.1", 5070)


def invite(route: tuple[str, ...] = ("<sip:edge.example;lr>",), call_id: str = "c1") -> Request:
    req = new_invite(
        local=LOCAL,
        target_uri="sip:8613000000001@127.0.0.1:5060",
        from_uri="sip:1008122211@127.0.0.1",
        from_tag="ours",
        call_id=call_id,
        branch="z9hG4bK-inv",
        sdp=offer("127.0.0.1", 40000, 1),
        route=route,
        from_display="Voxcast",
        extra_headers=(("P-Asserted-Identity", "<sip:1008122211@127.0.0.1>"),),
    )
    again = parse(serialize(req))  # what we send must parse back
    assert isinstance(again, Request)
    return again


def ok_200(req: Request, record_route: list[str], contact: str | None = None) -> Response:
    h = Headers()
    h.add("Via", req.headers.get_all("Via")[0])
    for rr in record_route:
        h.add("Record-Route", rr)
    h.add("From", req.headers.get("From") or "")
    h.add("To", f"{req.headers.get('To')};tag=theirs")
    h.add("Call-ID", req.call_id)
    h.add("CSeq", req.headers.get("CSeq") or "")
    if contact is not None:
        h.add("Contact", contact)
    return Response(200, "OK", h)


def far_request(method: str, cseq: int, contact: str | None = None) -> Request:
    h = Headers()
    h.add("Via", "SIP/2.0/UDP 192.0.2.10:5080;branch=z9hG4bK-far")
    h.add("From", "<sip:8613000000001@127.0.0.1>;tag=theirs")
    h.add("To", "<sip:1008122211@127.0.0.1>;tag=ours")
    h.add("Call-ID", "c1")
    h.add("CSeq", f"{cseq} {method}")
    if contact:
        h.add("Contact", contact)
    return Request(method, "sip:1008122211@127.0.0.1:5070", h)


def test_invite_carries_the_offer_contact_and_a_magic_cookie_branch() -> None:
    req = invite()
    assert req.headers.get("Content-Type") == "application/sdp"
    assert b"m=audio 40000" in req.body
    assert client_key(req) == ("z9hG4bK-inv", "INVITE")
    assert req.headers.get("Contact") == "<sip:1008122211@127.0.0.1:5070;transport=udp>"
    assert req.headers.get("From") == '"Voxcast" <sip:1008122211@127.0.0.1>;tag=ours'
    assert req.headers.get("P-Asserted-Identity") == "<sip:1008122211@127.0.0.1>"
    assert req.headers.get("Max-Forwards") == "70"
    assert "rport" in (req.headers.get("Via") or "")
    assert "INFO" in (req.headers.get("Allow") or "")
    with pytest.raises(ValueError):
        new_invite(
            local=LOCAL,
            target_uri="sip:a@b",
            from_uri="sip:c@d",
            from_tag="t",
            call_id="x",
            branch="old-style",
            sdp=b"",
        )


def test_local_over_tcp_and_ipv6() -> None:
    tcp = Local("::1", 5061, "TCP")
    assert tcp.reliable and not LOCAL.reliable
    assert tcp.via("z9hG4bK-1") == "SIP/2.0/TCP [::1]:5061;branch=z9hG4bK-1;rport"
    assert tcp.contact("u") == "<sip:u@[::1]:5061;transport=tcp>"


def test_cancel_shares_the_invite_branch_and_cseq_number() -> None:
    cancel = cancel_for(invite())
    assert client_key(cancel) == ("z9hG4bK-inv", "CANCEL")
    assert cancel.headers.get("CSeq") == "1 CANCEL"
    assert cancel.uri == "sip:8613000000001@127.0.0.1:5060"
    assert "tag=" not in (cancel.headers.get("To") or "")
    assert cancel.headers.get_all("Route") == ["<sip:edge.example;lr>"]
    assert isinstance(parse(serialize(cancel)), Request)


def test_ack_and_bye_go_to_the_contact_through_the_reversed_record_route() -> None:
    req = invite()
    dialog = Dialog.from_2xx(
        req,
        ok_200(req, ["<sip:p2.example;lr>", "<sip:p1.example;lr>"], "<sip:agent@192.0.2.10:5080>"),
        LOCAL,
    )
    ack = dialog.ack("z9hG4bK-ack")
    assert ack.uri == "sip:agent@192.0.2.10:5080"
    assert ack.headers.get_all("Route") == ["<sip:p1.example;lr>", "<sip:p2.example;lr>"]
    assert ack.headers.get("CSeq") == "1 ACK"
    assert client_key(ack) == ("z9hG4bK-ack", "ACK")
    bye = dialog.request("BYE", "z9hG4bK-bye")
    assert bye.headers.get("CSeq") == "2 BYE" and "tag=theirs" in (bye.headers.get("To") or "")
    assert bye.headers.get("From") == "<sip:1008122211@127.0.0.1>;tag=ours"
    assert dialog.request("INFO", "z9hG4bK-i").headers.get("CSeq") == "3 INFO"
    assert dialog.ack("z9hG4bK-ack2").headers.get("CSeq") == "1 ACK"  # still the INVITE's


def test_a_captured_proxied_200_gives_the_route_set_and_target() -> None:
    req = invite(route=(), call_id="fs-call-1")
    resp = captures.fit(captures.KAMAILIO_FREESWITCH_200, req)
    dialog = Dialog.from_2xx(req, resp, LOCAL)
    assert dialog.remote_tag == "Q7Fj4gB0vcp2H"
    assert dialog.remote_target == "sip:8613000000001@127.0.0.4:5080;transport=udp"
    bye = dialog.request("BYE", "z9hG4bK-b")
    assert bye.uri == "sip:8613000000001@127.0.0.4:5080;transport=udp"
    assert bye.headers.get_all("Route") == [
        "<sip:127.0.0.3:5062;transport=udp;lr>",
        "<sip:127.0.0.2;lr;ftag=ours;did=6a3.d9c1>",
    ]


def test_strict_router_becomes_the_request_uri() -> None:
    req = invite()
    dialog = Dialog.from_2xx(
        req, ok_200(req, ["<sip:strict.example>"], "<sip:agent@192.0.2.10:5080>"), LOCAL
    )
    bye = dialog.request("BYE", "z9hG4bK-b")
    assert bye.uri == "sip:strict.example"
    assert bye.headers.get_all("Route") == ["<sip:agent@192.0.2.10:5080>"]


def test_lr_must_be_a_uri_parameter_not_a_substring() -> None:
    req = invite()
    dialog = Dialog.from_2xx(
        req, ok_200(req, ["<sip:lrouter.example;lrx=1>"], "<sip:a@192.0.2.10>"), LOCAL
    )
    assert dialog.request("BYE", "z9hG4bK-b").uri == "sip:lrouter.example;lrx=1"


def test_a_2xx_without_contact_falls_back_to_the_request_uri() -> None:
    req = invite()
    dialog = Dialog.from_2xx(req, ok_200(req, []), LOCAL)
    assert dialog.remote_target == "sip:8613000000001@127.0.0.1:5060"


def test_in_dialog_requests_from_the_far_end_are_recognized() -> None:
    req = invite()
    dialog = Dialog.from_2xx(req, ok_200(req, [], "<sip:a@192.0.2.10>"), LOCAL)
    bye = far_request("BYE", 7)
    assert dialog.matches(bye)
    bye.headers.set("To", "<sip:1008122211@127.0.0.1>;tag=someone-else")
    assert not dialog.matches(bye)
    bye.headers.set("To", "garbage <<")
    assert not dialog.matches(bye)
    other_call = far_request("BYE", 7)
    other_call.headers.set("Call-ID", "c2")
    assert not dialog.matches(other_call)


def test_out_of_order_remote_cseq_is_refused_and_target_refreshed() -> None:
    req = invite()
    dialog = Dialog.from_2xx(req, ok_200(req, [], "<sip:a@192.0.2.10>"), LOCAL)
    assert dialog.accept_remote_cseq(far_request("INFO", 10))
    assert dialog.accept_remote_cseq(far_request("INFO", 11))
    assert not dialog.accept_remote_cseq(far_request("INFO", 9))
    assert dialog.accept_remote_cseq(far_request("ACK", 1))
    dialog.refresh_target(far_request("INVITE", 12, contact="<sip:moved@192.0.2.99:5090>"))
    assert dialog.request("BYE", "z9hG4bK-b").uri == "sip:moved@192.0.2.99:5090"


def test_our_re_invite_carries_contact_and_sdp() -> None:
    req = invite()
    dialog = Dialog.from_2xx(req, ok_200(req, [], "<sip:a@192.0.2.10>"), LOCAL)
    reinvite = dialog.request("INVITE", "z9hG4bK-re", b"v=0\r\n")
    assert reinvite.headers.get("CSeq") == "2 INVITE"
    assert reinvite.headers.get("Contact") and reinvite.body == b"v=0\r\n"
    assert reinvite.headers.get("Content-Type") == "application/sdp"
    ack = dialog.ack("z9hG4bK-reack", cseq=2)
    assert ack.headers.get("CSeq") == "2 ACK"
    assert parse_name_addr(ack.headers.get("To") or "").tag == "theirs"
