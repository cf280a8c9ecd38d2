"""Building our requests and keeping dialog state (RFC 3261 §8.1, §12, §13, §15, §9): the
INVITE, CANCEL, the ACK of a 2xx, BYE, re-INVITE and other in-dialog requests, and checking the
far end's in-dialog requests. Pure: branches and tags are passed in."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from voxcast.telephony.sip.core.message import (
    MAGIC_COOKIE,
    Headers,
    Request,
    Response,
    SipParseError,
    parse_cseq,
    parse_name_addr,
    parse_uri,
)

ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE"


@dataclass(frozen=True)
class Local:
    """Where we are: what goes into Via and Contact. `transport` is UDP, TCP or TLS (a
    `sip:` Contact with transport=tls: TLS to the next hop, not sips: end to end)."""

    host: str
    port: int
    transport: str = "UDP"

    @property
    def hostport(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def reliable(self) -> bool:
        return self.transport.upper() != "UDP"

    def via(self, branch: str) -> str:
        # rport (RFC 3581): answer to the port we sent from, whatever NAT did to it
        return f"SIP/2.0/{self.transport.upper()} {self.hostport};branch={branch};rport"

    def contact(self, user: str = "voxcast") -> str:
        return f"<sip:{user}@{self.hostport};transport={self.transport.lower()}>"


def _user_of(uri: str) -> str:
    try:
        return parse_uri(uri).user or "voxcast"
    except SipParseError:
        return "voxcast"


def new_invite(
    *,
    local: Local,
    target_uri: str,
    from_uri: str,
    from_tag: str,
    call_id: str,
    branch: str,
    sdp: bytes,
    cseq: int = 1,
    to_uri: str | None = None,
    from_display: str | None = None,
    user_agent: str = "voxcast",
    route: tuple[str, ...] = (),
    extra_headers: tuple[tuple[str, str], ...] = (),
) -> Request:
    """A fresh INVITE with an SDP offer (§8.1.1). `route` is a pre-loaded route set (an
    outbound proxy: `<sip:proxy;lr>`); `extra_headers` e.g. P-Asserted-Identity."""
    if not branch.startswith(MAGIC_COOKIE):
        raise ValueError("an RFC 3261 branch starts with z9hG4bK")
    h = Headers()
    h.add("Via", local.via(branch))
    for r in route:
        h.add("Route", r)
    h.add("Max-Forwards", "70")
    shown = f'"{from_display}" ' if from_display else ""
    h.add("From", f"{shown}<{from_uri}>;tag={from_tag}")
    h.add("To", f"<{to_uri or target_uri}>")
    h.add("Call-ID", call_id)
    h.add("CSeq", f"{cseq} INVITE")
    h.add("Contact", local.contact(_user_of(from_uri)))
    h.add("Allow", ALLOW)
    h.add("User-Agent", user_agent)
    for name, value in extra_headers:
        h.add(name, value)
    h.add("Content-Type", "application/sdp")
    return Request("INVITE", target_uri, h, sdp)


def cancel_for(invite: Request) -> Request:
    """CANCEL of a pending INVITE (§9.1): same branch, Request-URI, Call-ID, From, To (no tag),
    Route, and CSeq number; the method is CANCEL."""
    h = Headers()
    h.add("Via", invite.headers.get_all("Via")[0])
    for r in invite.headers.get_all("Route"):
        h.add("Route", r)
    h.add("Max-Forwards", "70")
    h.add("From", invite.headers.get("From") or "")
    h.add("To", invite.headers.get("To") or "")
    h.add("Call-ID", invite.call_id)
    number, _ = parse_cseq(invite.headers.get("CSeq") or "")
    h.add("CSeq", f"{number} CANCEL")
    return Request("CANCEL", invite.uri, h)


def _is_loose(route: str) -> bool:
    try:
        return "lr" in parse_uri(parse_name_addr(route).uri).params
    except SipParseError:
        return True  # an unreadable route: treat it as loose, leave the Request-URI alone


@dataclass
class Dialog:
    """A confirmed dialog (§12.1.2), from our INVITE and the 2xx that answered it."""

    call_id: str
    local_uri: str
    local_tag: str
    remote_uri: str
    remote_tag: str
    remote_target: str
    local: Local
    route_set: list[str] = field(default_factory=list)
    local_cseq: int = 1
    invite_cseq: int = 1
    remote_cseq: int | None = None

    @classmethod
    def from_2xx(cls, invite: Request, response: Response, local: Local) -> Dialog:
        """The dialog a 2xx creates. Lenient where peers are sloppy: a 2xx without Contact
        gets the INVITE's Request-URI as remote target, and one without a To tag an empty
        tag (both are RFC violations, but hanging up properly beats dropping the call)."""
        frm = parse_name_addr(invite.headers.get("From") or "")
        to = parse_name_addr(response.headers.get("To") or "")
        if not frm.tag:
            raise SipParseError("our INVITE has no From tag")
        contacts = response.headers.get_all("Contact")
        target = parse_name_addr(contacts[0]).uri if contacts else invite.uri
        number, _ = parse_cseq(invite.headers.get("CSeq") or "")
        # the route set is the Record-Route of the 2xx, reversed (we are the caller, §12.1.2)
        routes = list(reversed(response.headers.get_all("Record-Route")))
        return cls(
            call_id=invite.call_id,
            local_uri=frm.uri,
            local_tag=frm.tag,
            remote_uri=to.uri,
            remote_tag=to.tag or "",
            remote_target=target,
            local=local,
            route_set=routes,
            local_cseq=number,
            invite_cseq=number,
        )

    @classmethod
    def from_invite(cls, invite: Request, local_tag: str, local: Local) -> Dialog:
        """The dialog our 2xx to a received INVITE creates (§12.1.1, the UAS side): local and
        remote are the INVITE's To and From swapped, the remote target its Contact, the route
        set its Record-Route in order (not reversed: we are the callee)."""
        frm = parse_name_addr(invite.headers.get("From") or "")
        to = parse_name_addr(invite.headers.get("To") or "")
        contacts = invite.headers.get_all("Contact")
        target = parse_name_addr(contacts[0]).uri if contacts else frm.uri
        number, _ = parse_cseq(invite.headers.get("CSeq") or "")
        return cls(
            call_id=invite.call_id,
            local_uri=to.uri,
            local_tag=local_tag,
            remote_uri=frm.uri,
            remote_tag=frm.tag or "",
            remote_target=target,
            local=local,
            route_set=list(invite.headers.get_all("Record-Route")),
            # our own requests count from 0 (§12.1.1 leaves the start to us); the far end's
            # next one must be above its INVITE's
            local_cseq=0,
            invite_cseq=number,
            remote_cseq=number,
        )

    def _request(self, method: str, branch: str, cseq: int) -> Request:
        uri = self.remote_target
        routes = list(self.route_set)
        if routes and not _is_loose(routes[0]):
            # strict router (§12.2.1.1): it becomes the Request-URI, the target goes last
            uri = parse_name_addr(routes[0]).uri
            routes = [*routes[1:], f"<{self.remote_target}>"]
        h = Headers()
        h.add("Via", self.local.via(branch))
        for r in routes:
            h.add("Route", r)
        h.add("Max-Forwards", "70")
        h.add("From", f"<{self.local_uri}>;tag={self.local_tag}")
        to_tag = f";tag={self.remote_tag}" if self.remote_tag else ""
        h.add("To", f"<{self.remote_uri}>{to_tag}")
        h.add("Call-ID", self.call_id)
        h.add("CSeq", f"{cseq} {method}")
        return Request(method, uri, h, in_dialog=True)

    def ack(self, branch: str, cseq: int | None = None, sdp: bytes = b"") -> Request:
        """The ACK of a 2xx: a new branch, the INVITE's CSeq number (§13.2.2.4)."""
        ack = self._request("ACK", branch, self.invite_cseq if cseq is None else cseq)
        if sdp:
            ack.headers.add("Content-Type", "application/sdp")
            ack.body = sdp
        return ack

    def request(
        self, method: str, branch: str, body: bytes = b"", content_type: str | None = None
    ) -> Request:
        """BYE, INFO, OPTIONS, UPDATE, re-INVITE... with the next CSeq. A re-INVITE or UPDATE
        refreshes the target, so it carries our Contact (§12.2.1.1)."""
        self.local_cseq += 1
        req = self._request(method, branch, self.local_cseq)
        if method in ("INVITE", "UPDATE"):
            req.headers.add("Contact", self.local.contact(_user_of(self.local_uri)))
            req.headers.add("Allow", ALLOW)
        if body:
            req.headers.add("Content-Type", content_type or "application/sdp")
            req.body = body
        return req

    def matches(self, message: Request | Response) -> bool:
        """Does an incoming in-dialog message belong to this dialog (Call-ID and both tags)?"""
        if message.call_id != self.call_id:
            return False
        try:
            frm = parse_name_addr(message.headers.get("From") or "")
            to = parse_name_addr(message.headers.get("To") or "")
        except SipParseError:
            return False
        if isinstance(message, Request):
            return (frm.tag or "") == self.remote_tag and to.tag == self.local_tag
        return frm.tag == self.local_tag and (to.tag or "") == self.remote_tag

    def accept_remote_cseq(self, request: Request) -> bool:
        """§12.2.2: a request with a CSeq lower than the last one is out of order (answer 500).
        ACK and CANCEL reuse their INVITE's number and do not count."""
        number, method = parse_cseq(request.headers.get("CSeq") or "")
        if method in ("ACK", "CANCEL"):
            return True
        if self.remote_cseq is not None and number < self.remote_cseq:
            return False
        self.remote_cseq = number
        return True

    def refresh_target(self, request: Request) -> None:
        """A re-INVITE or UPDATE may move the far end: its Contact is the new target."""
        contacts = request.headers.get_all("Contact")
        if contacts:
            # An unparsable Contact keeps the target we have.
            with contextlib.suppress(SipParseError):
                self.remote_target = parse_name_addr(contacts[0]).uri
