"""Building our requests and keeping dialog state (RFC 3261 §8.1, §12, §13, §15, §9): the
INVITE, CANCEL, the ACK of a 2xx, BYE and other in-dialog requests. Pure: ids are passed in."""

from __future__ import annotations

from dataclasses import dataclass, field

from voxcast.telephony.sip.message import (
    Headers,
    Request,
    Response,
    SipParseError,
    parse_cseq,
    parse_name_addr,
)

MAGIC_COOKIE = "z9hG4bK"


@dataclass(frozen=True)
class Local:
    """Where we are: what goes into Via and Contact."""

    host: str
    port: int
    transport: str = "UDP"

    def via(self, branch: str) -> str:
        return f"SIP/2.0/{self.transport} {self.host}:{self.port};branch={branch};rport"

    def contact(self, user: str) -> str:
        return f"<sip:{user}@{self.host}:{self.port};transport={self.transport.lower()}>"


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
    user_agent: str = "voxcast",
    route: tuple[str, ...] = (),
) -> Request:
    """A fresh INVITE with an SDP offer (§8.1.1)."""
    if not branch.startswith(MAGIC_COOKIE):
        raise ValueError("an RFC 3261 branch starts with z9hG4bK")
    h = Headers()
    h.add("Via", local.via(branch))
    for r in route:
        h.add("Route", r)
    h.add("Max-Forwards", "70")
    h.add("From", f"<{from_uri}>;tag={from_tag}")
    h.add("To", f"<{target_uri}>")
    h.add("Call-ID", call_id)
    h.add("CSeq", f"{cseq} INVITE")
    user = from_uri.split(":", 1)[1].split("@", 1)[0]
    h.add("Contact", local.contact(user))
    h.add("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO")
    h.add("User-Agent", user_agent)
    h.add("Content-Type", "application/sdp")
    return Request("INVITE", target_uri, h, sdp)


def cancel_for(invite: Request) -> Request:
    """CANCEL of a pending INVITE (§9.1): same branch, Request-URI, Call-ID, From, To (no tag),
    Route, and CSeq number."""
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


@dataclass
class Dialog:
    """A confirmed dialog (§12.1.2), from our INVITE and the 2xx that answered it."""

    call_id: str
    local_uri: str
    local_tag: str
    remote_uri: str
    remote_tag: str
    remote_target: str
    route_set: list[str] = field(default_factory=list)
    local_cseq: int = 1
    invite_cseq: int = 1
    local: Local | None = None

    @classmethod
    def from_2xx(cls, invite: Request, response: Response, local: Local) -> Dialog:
        frm = parse_name_addr(invite.headers.get("From") or "")
        to = parse_name_addr(response.headers.get("To") or "")
        if not frm.tag or not to.tag:
            raise SipParseError("a dialog needs both tags")
        contacts = response.headers.get_all("Contact")
        if not contacts:
            raise SipParseError("a 2xx to INVITE must carry a Contact")
        number, _ = parse_cseq(invite.headers.get("CSeq") or "")
        # the route set is the Record-Route of the 2xx, reversed (we are the caller)
        routes = list(reversed(response.headers.get_all("Record-Route")))
        return cls(
            invite.call_id,
            frm.uri,
            frm.tag,
            to.uri,
            to.tag,
            parse_name_addr(contacts[0]).uri,
            routes,
            number,
            number,
            local,
        )

    def _request(self, method: str, branch: str, cseq: int) -> Request:
        uri = self.remote_target
        routes = list(self.route_set)
        if routes and ";lr" not in routes[0]:
            # strict router (§12.2.1.1): it becomes the Request-URI, the target goes last
            uri = parse_name_addr(routes[0]).uri
            routes = [*routes[1:], f"<{self.remote_target}>"]
        h = Headers()
        local = self.local or Local("127.0.0.1", 5060)
        h.add("Via", local.via(branch))
        for r in routes:
            h.add("Route", r)
        h.add("Max-Forwards", "70")
        h.add("From", f"<{self.local_uri}>;tag={self.local_tag}")
        h.add("To", f"<{self.remote_uri}>;tag={self.remote_tag}")
        h.add("Call-ID", self.call_id)
        h.add("CSeq", f"{cseq} {method}")
        return Request(method, uri, h)

    def ack(self, branch: str) -> Request:
        """The ACK of the 2xx: a new branch, the INVITE's CSeq number (§13.2.2.4)."""
        return self._request("ACK", branch, self.invite_cseq)

    def request(self, method: str, branch: str) -> Request:
        """BYE, INFO, OPTIONS... with the next CSeq."""
        self.local_cseq += 1
        return self._request(method, branch, self.local_cseq)

    def matches(self, message: Request | Response) -> bool:
        """Does an incoming in-dialog message belong to this dialog (Call-ID and both tags)?"""
        if message.call_id != self.call_id:
            return False
        frm = parse_name_addr(message.headers.get("From") or "")
        to = parse_name_addr(message.headers.get("To") or "")
        if isinstance(message, Request):
            return frm.tag == self.remote_tag and to.tag == self.local_tag
        return frm.tag == self.local_tag and to.tag == self.remote_tag
