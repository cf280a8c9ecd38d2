"""The sans-IO registration: challenge answered once, refresh before expiry, retry after a
failure, the registrar's granted expiry honoured, un-REGISTER on hang-up."""

from __future__ import annotations

import itertools

from voxcast.telephony.sip.core.dialog import Local
from voxcast.telephony.sip.core.digest import Credentials
from voxcast.telephony.sip.core.message import Request, response_to
from voxcast.telephony.sip.core.registration import (
    Registered,
    Registration,
    RegistrationFailed,
)
from voxcast.telephony.sip.core.transaction import Send

CHALLENGE = 'Digest realm="r", nonce="n1", qop="auth", algorithm=MD5'


def new_registration(expires: int = 600) -> Registration:
    counter = itertools.count()
    return Registration(
        local=Local("127.0.0.1", 5070),
        registrar_uri="sip:pbx.example:5060",
        aor="sip:100@pbx.example",
        credentials=Credentials("100", "pw"),
        expires=expires,
        call_id="reg-1",
        new_branch=lambda: f"z9hG4bK-r{next(counter)}",
    )


def sent(out: list[object]) -> Request:
    [send] = [o for o in out if isinstance(o, Send)]
    assert isinstance(send.message, Request)
    return send.message


def test_a_challenge_is_answered_and_the_binding_refreshed_before_it_expires() -> None:
    reg = new_registration()
    first = sent(reg.start(0.0))
    assert first.method == "REGISTER" and first.headers.get("Expires") == "600"
    challenge = response_to(first, 401)
    challenge.headers.add("WWW-Authenticate", CHALLENGE)
    retry = sent(reg.receive(challenge, 0.1))
    assert "Authorization" in retry.headers and retry.call_id == first.call_id
    assert retry.cseq[0] == first.cseq[0] + 1
    ok = response_to(retry, 200)
    ok.headers.add("Contact", "<sip:100@127.0.0.1:5070;transport=udp>;expires=120")
    assert reg.receive(ok, 0.2) == [Registered(120)]  # the registrar's expiry wins
    assert reg.deadline is not None and 60.0 <= reg.deadline <= 120.0
    assert reg.tick(reg.deadline - 1) == []
    refresh = sent(reg.tick(reg.deadline))
    assert refresh.method == "REGISTER" and refresh.cseq[0] > retry.cseq[0]


def test_wrong_credentials_fail_and_are_retried_later() -> None:
    reg = new_registration()
    first = sent(reg.start(0.0))
    challenge = response_to(first, 401)
    challenge.headers.add("WWW-Authenticate", CHALLENGE)
    second = sent(reg.receive(challenge, 0.1))
    again = response_to(second, 401)
    again.headers.add("WWW-Authenticate", CHALLENGE)
    out = reg.receive(again, 0.2)
    assert out == [RegistrationFailed(401, "registrar refused our credentials")]
    assert reg.deadline == 30.2  # retried 30 s later (docs/telephony.md)
    assert reg.tick(30.1) == []
    assert sent(reg.tick(30.2)).method == "REGISTER"


def test_a_silent_registrar_times_out_as_408() -> None:
    reg = new_registration()
    reg.start(0.0)
    out: list[object] = []
    now = 0.0
    while not any(isinstance(o, RegistrationFailed) for o in out):
        assert reg.deadline is not None
        now = reg.deadline
        out += reg.tick(now)
    assert RegistrationFailed(408, "no answer from the registrar") in out
    assert 31.0 <= now <= 33.0  # Timer F, 64*T1


def test_hangup_removes_the_binding() -> None:
    reg = new_registration()
    ok = response_to(sent(reg.start(0.0)), 200)
    reg.receive(ok, 0.1)
    bye = sent(reg.hangup(1.0))
    assert bye.headers.get("Expires") == "0"
    assert not reg.finished
    reg.receive(response_to(bye, 200), 1.1)
    assert reg.finished


def test_last_failure_names_the_failed_attempt_until_one_succeeds() -> None:
    reg = new_registration()
    first = sent(reg.start(0.0))
    assert reg.last_failure is None  # in flight is not a failure (/readyz stays ready)
    reg.receive(response_to(first, 403), 0.1)
    assert reg.last_failure == (403, "Forbidden")
    retry = sent(reg.tick(30.1))
    assert reg.last_failure == (403, "Forbidden")  # still not registered while it retries
    ok = response_to(retry, 200)
    assert reg.receive(ok, 30.2) == [Registered(600)]
    assert reg.last_failure is None
