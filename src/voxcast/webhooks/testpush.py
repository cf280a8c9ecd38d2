"""One test push, sent at once (not through the outbox) to an app's push URL of a kind, signed as
real pushes are, so a developer sees what the receiver answers before a real call is made."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx

from voxcast.domain.codes import ApiError, Code
from voxcast.runtime import Runtime
from voxcast.services import accounts
from voxcast.webhooks import outbox, signing
from voxcast.webhooks.sender import USER_AGENT, _url_for

#: the kinds a console offers, by the name docs/webhooks.md uses
KINDS = {
    "voice": outbox.VOICE_REPORT,
    "cc": outbox.CC_RECORD,
    "ring": outbox.AGENT_RINGING,
    "sms": outbox.SMS_REPORT,
}
#: characters of the receiver's answer kept for display
ANSWER_CHARS = 2000


@dataclass(frozen=True)
class TestPushResult:
    url: str
    status: int | None
    answer: str
    error: str | None = None

    @property
    def accepted(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def sample_payload(kind: str, app_id: str) -> Any:
    """A payload of the kind's shape, marked as a test (`"test": true`, voiceId `test-...`)."""
    if kind == outbox.AGENT_RINGING:
        return [{"test": True, "appId": app_id, "agentName": f"{app_id}_001", "called": "0"}]
    if kind == outbox.SMS_REPORT:
        return {"test": True, "appId": app_id, "msgid": "test-push", "mobile": "0", "status": 0}
    body: dict[str, Any] = {
        "test": True,
        "voiceId": "test-push",
        "appId": app_id,
        "callee": "0",
        "callDuration": 0,
        "terminationCode": "200",
        "terminationReason": "test push from the voxcast console",
    }
    if kind == outbox.CC_RECORD:
        body["callSessionId"] = "test-push"
    return body


async def send_test_push(
    rt: Runtime, account_id: int, app_id: str, kind_name: str
) -> TestPushResult:
    """POST a sample push to the account's app's URL of `kind_name` (voice, cc, ring, sms)."""
    kind = KINDS.get(kind_name)
    if kind is None:
        raise ApiError(Code.PARAMETER, "kind: voice, cc, ring or sms")
    async with rt.readonly() as session:
        app = await accounts.require_app(session, account_id, app_id)
    url = _url_for(app, kind)
    if not url:
        raise ApiError(Code.PARAMETER, f"appId {app_id}: no {kind_name} push URL is set")
    body = json.dumps(sample_payload(kind, app_id), separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
    if app.push_secret_enc:
        try:
            secret = rt.secrets.open(app.push_secret_enc)
        except RuntimeError:
            return TestPushResult(
                url, None, "", "the push secret cannot be decrypted with this key"
            )
        headers.update(signing.headers(secret, int(rt.wall.now().timestamp()), body))
    timeout = httpx.Timeout(rt.settings.push_timeout_seconds)
    try:
        async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as http:
            answer = await http.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return TestPushResult(url, None, "", f"{type(exc).__name__}: {exc}"[:300])
    return TestPushResult(url, answer.status_code, answer.text[:ANSWER_CHARS])
