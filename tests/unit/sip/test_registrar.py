"""The registrar's logic: challenge, digest check against the agent's password, stale and
forged nonces, expiry limits, unregistering, unknown agents."""

from __future__ import annotations

from voxcast.telephony.sip.core.digest import authorization, parse_challenge
from voxcast.telephony.sip.core.message import Headers, Request, Response
from voxcast.telephony.sip.core.registrar import Registrar

REGISTRAR = Registrar("voxcast", b"k" * 32)
SOURCE = ("198.51.100.7", 40123)


def register(*, contact: str = "<sip:app_001@10.0.0.5:5060>", expires: str | None = "300",
             auth: str | None = None, cseq: int = 1) -> Request:  # fmt: skip
    h = Headers()
    h.add("Via", "SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK-a1")
    h.add("From", "<sip:app_001@voxcast>;tag=phone")
    h.add("To", "<sip:app_001@voxcast>")
    h.add("Call-ID", "reg-call-1")
    h.add("CSeq", f"{cseq} REGISTER")
    h.add("Contact", contact)
    if expires is not None:
        h.add("Expires", expires)
    if auth:
        h.add("Authorization", auth)
    return Request("REGISTER", "sip:voxcast", h)


def answer(challenge: Response, password: str, **kw: object) -> Request:
    parsed = parse_challenge(challenge.headers.get("WWW-Authenticate") or "")
    value = authorization(
        parsed, method="REGISTER", uri="sip:voxcast", username="app_001",
        password=password, cnonce="c0ffee",
    )  # fmt: skip
    return register(auth=value, cseq=2, **kw)  # type: ignore[arg-type]


def test_challenge_then_binding_through_the_agents_nat() -> None:
    challenge, binding = REGISTRAR.handle(register(), SOURCE, "pw123456", 1000.0)
    assert challenge.status == 401 and binding is None
    assert 'qop="auth"' in (challenge.headers.get("WWW-Authenticate") or "")
    ok, binding = REGISTRAR.handle(answer(challenge, "pw123456"), SOURCE, "pw123456", 1001.0)
    assert ok.status == 200 and binding is not None
    assert binding.expires == 300 and binding.contact == "sip:app_001@10.0.0.5:5060"
    assert binding.target == "sip:app_001@198.51.100.7:40123"  # where the REGISTER came from
    assert "expires=300" in (ok.headers.get("Contact") or "")


def test_wrong_password_is_403_and_unknown_agent_404() -> None:
    challenge, _ = REGISTRAR.handle(register(), SOURCE, "right-one", 1000.0)
    refused, binding = REGISTRAR.handle(answer(challenge, "wrong"), SOURCE, "right-one", 1000.0)
    assert refused.status == 403 and binding is None
    unknown, _ = REGISTRAR.handle(register(), SOURCE, None, 1000.0)
    assert unknown.status == 404


def test_old_nonces_are_stale_and_forged_ones_rechallenged() -> None:
    challenge, _ = REGISTRAR.handle(register(), SOURCE, "pw", 1000.0)
    # a nonce lives 300 s: still good at 300 s, stale one second later
    on_time, binding = REGISTRAR.handle(answer(challenge, "pw"), SOURCE, "pw", 1300.0)
    assert on_time.status == 200 and binding is not None
    late = 1301.0
    again, binding = REGISTRAR.handle(answer(challenge, "pw"), SOURCE, "pw", late)
    assert again.status == 401 and binding is None
    assert "stale=true" in (again.headers.get("WWW-Authenticate") or "")
    forged = Response(401, "Unauthorized", Headers())
    forged.headers.add("WWW-Authenticate", 'Digest realm="voxcast", nonce="1000.deadbeef"')
    again, _ = REGISTRAR.handle(answer(forged, "pw"), SOURCE, "pw", 1000.0)
    assert again.status == 401 and "stale" not in (again.headers.get("WWW-Authenticate") or "")


def test_expiry_limits_and_unregistering() -> None:
    challenge, _ = REGISTRAR.handle(register(), SOURCE, "pw", 1000.0)
    brief, _ = REGISTRAR.handle(answer(challenge, "pw", expires="10"), SOURCE, "pw", 1000.0)
    assert brief.status == 423 and brief.headers.get("Min-Expires") == "60"
    long, binding = REGISTRAR.handle(answer(challenge, "pw", expires="999999"), SOURCE, "pw", 1e3)
    assert long.status == 200 and binding is not None and binding.expires == 3600
    gone, binding = REGISTRAR.handle(
        answer(challenge, "pw", contact="*", expires="0"), SOURCE, "pw", 1000.0
    )
    assert gone.status == 200 and binding is not None and binding.expires == 0
    bad, _ = REGISTRAR.handle(
        answer(challenge, "pw", contact="*", expires="60"), SOURCE, "pw", 1000.0
    )
    assert bad.status == 400


def test_a_register_through_a_proxy_keeps_its_path() -> None:
    """RFC 3327: the Path is kept with the binding (the route to the agent), the request URI
    is the agent's Contact, and the Path is echoed, with `Supported: path`, to a UA that
    supports it; one that does not gets neither, but is still bound along the Path."""
    path = "<sip:203.0.113.1;lr;received=sip:198.51.100.7:40123>"
    challenge, _ = REGISTRAR.handle(register(), SOURCE, "pw", 1000.0)
    request = answer(challenge, "pw")
    request.headers.add("Path", path)
    request.headers.add("Supported", "path, outbound")
    ok, binding = REGISTRAR.handle(request, ("203.0.113.1", 5060), "pw", 1000.0)
    assert ok.status == 200 and binding is not None
    assert binding.path == (path,)
    assert binding.target == "sip:app_001@10.0.0.5:5060"  # the Contact, reached via the Path
    assert ok.headers.get_all("Path") == [path] and ok.headers.get_all("Supported") == ["path"]
    plain = answer(challenge, "pw")
    plain.headers.add("Path", f"{path}, <sip:192.0.2.9;lr>")
    ok, binding = REGISTRAR.handle(plain, ("203.0.113.1", 5060), "pw", 1000.0)
    assert binding is not None and binding.path == (path, "<sip:192.0.2.9;lr>")
    assert ok.headers.get("Path") is None and ok.headers.get("Supported") is None
