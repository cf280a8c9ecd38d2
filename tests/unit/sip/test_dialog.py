"""Requests we build and dialog state from a 2xx: ACK, BYE and CANCEL go where they must."""

from __future__ import annotations

import pytest

from voxcast.telephony.sip.dialog import Dialog, Local, cancel_for, new_invite
from voxcast.telephony.sip.message import Headers, Request, Response, parse, serialize
from voxcast.telephony.sip.sdp import offer
from voxcast.telephony.sip.transaction import key_of

LOCAL = Local("127.0.0.1", 5070)


def invite() -> Request:
    req = new_invite(
        local=LOCAL,
        target_uri="sip:8613000000001@127.0.0.1:5060",
        from_uri="sip:1008122211@127.0.0.1",
        from_tag="ours",
        call_id="c1",
        branch="z9hG4bK-inv",
        sdp=offer("127.0.0.1", 40000, 1),
        route=("<sip:edge.example;lr>",),
    )
    again = parse(serialize(req))  # what we send must parse back
    assert isinstance(again, Request)
    return again


def ok_200(req: Request, record_route: list[str]) -> Response:
    h = Headers()
    h.add("Via", req.headers.get_all("Via")[0])
    for rr in record_route:
        h.add("Record-Route", rr)
    h.add("From", req.headers.get("From") or "")
    h.add("To", f"{req.headers.get('To')};tag=theirs")
    h.add("Call-ID", req.call_id)
    h.add("CSeq", req.headers.get("CSeq") or "")
    h.add("Contact", "<sip:agent@192.0.2.10:5080>")
    return Response(200, "OK", h)


def test_invite_carries_the_offer_and_a_magic_cookie_branch() -> None:
    req = invite()
    assert req.headers.get("Content-Type") == "application/sdp"
    assert b"m=audio 40000" in req.body
    assert key_of(req) == ("z9hG4bK-inv", "INVITE")
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


def test_cancel_shares_the_invite_branch_and_cseq_number() -> None:
    cancel = cancel_for(invite())
    assert key_of(cancel) == ("z9hG4bK-inv", "CANCEL")
    assert cancel.headers.get("CSeq") == "1 CANCEL"
    assert cancel.uri == "sip:8613000000001@127.0.0.1:5060"
    assert "tag=" not in (cancel.headers.get("To") or "")


def test_ack_and_bye_go_to_the_contact_through_the_reversed_record_route() -> None:
    req = invite()
    dialog = Dialog.from_2xx(
        req, ok_200(req, ["<sip:p2.example;lr>", "<sip:p1.example;lr>"]), LOCAL
    )
    ack = dialog.ack("z9hG4bK-ack")
    assert ack.uri == "sip:agent@192.0.2.10:5080"
    assert ack.headers.get_all("Route") == ["<sip:p1.example;lr>", "<sip:p2.example;lr>"]
    assert ack.headers.get("CSeq") == "1 ACK"
    bye = dialog.request("BYE", "z9hG4bK-bye")
    assert bye.headers.get("CSeq") == "2 BYE" and "tag=theirs" in (bye.headers.get("To") or "")


def test_strict_router_becomes_the_request_uri() -> None:
    req = invite()
    dialog = Dialog.from_2xx(req, ok_200(req, ["<sip:strict.example>"]), LOCAL)
    bye = dialog.request("BYE", "z9hG4bK-b")
    assert bye.uri == "sip:strict.example"
    assert bye.headers.get_all("Route") == ["<sip:agent@192.0.2.10:5080>"]


def test_in_dialog_requests_from_the_far_end_are_recognized() -> None:
    req = invite()
    dialog = Dialog.from_2xx(req, ok_200(req, []), LOCAL)
    h = Headers()
    h.add("Via", "SIP/2.0/UDP 192.0.2.10:5080;branch=z9hG4bK-far")
    h.add("From", "<sip:8613000000001@127.0.0.1>;tag=theirs")
    h.add("To", "<sip:1008122211@127.0.0.1>;tag=ours")
    h.add("Call-ID", "c1")
    h.add("CSeq", "7 BYE")
    assert dialog.matches(Request("BYE", "sip:1008122211@127.0.0.1:5070", h))
    h.set("To", "<sip:1008122211@127.0.0.1>;tag=someone-else")
    assert not dialog.matches(Request("BYE", "sip:x@y", h))
