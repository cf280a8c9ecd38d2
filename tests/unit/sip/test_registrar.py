"""The registrar's logic: challenge, digest check against the agent's password, stale and
forged nonces, expiry limits, unregistering, unknown agents."""

from __future__ import annotations

from voxcast.telephony.sip.digest import authorization, parse_challenge
from voxcast.telephony.sip.message import Headers, Request, Response
from voxcast.telephony.sip.registrar import MIN_EXPIRES, NONCE_LIFETIME_S, Registrar

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
    late = 1000.0 + NONCE_LIFETIME_S + 1
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
    assert brief.status == 423 and brief.headers.get("Min-Expires") == str(MIN_EXPIRES)
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
