"""The SDK on its own: signed headers, both envelope families, sync and async clients (with
httpx's mock transport, so what goes on the wire is checked exactly)."""

from __future__ import annotations

import json

import httpx

from voxcast.client import AsyncVoxcastClient, Envelope, VoxcastClient
from voxcast.domain.signing import sign


def test_envelope_parses_both_families_and_the_balance() -> None:
    status = Envelope.parse({"status": "0", "reason": "success", "data": 5})
    code = Envelope.parse({"code": 0, "msg": "success", "data": None})
    failed = Envelope.parse({"code": "-54", "msg": "The task you submitted is wrong"})
    balance = Envelope.parse({"status": "0", "reason": "success", "balance": "1.000000"})
    assert (status.ok, status.code, status.data) == (True, "0", 5)
    assert (code.ok, code.code, code.reason) == (True, "0", "success")
    assert (failed.ok, failed.code) == (False, "-54")
    assert balance.raw["balance"] == "1.000000"


def recorder() -> tuple[list[httpx.Request], httpx.MockTransport]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"code": "0", "msg": "success", "data": 42})

    return seen, httpx.MockTransport(handler)


def test_sync_client_signs_with_the_vendor_rule_and_sends_camel_case() -> None:
    seen, transport = recorder()
    with VoxcastClient(
        "http://vc", "key1", "sec1", transport=transport, timestamp=lambda: 1630468800
    ) as vc:
        env = vc.send_group_call(appId="a", taskName="t", source=3, displayNum=None)
    request = seen[0]
    assert request.url.path == "/v3/voice/group/call/send"
    assert request.headers["Api-Key"] == "key1"
    assert request.headers["Timestamp"] == "1630468800"
    assert request.headers["Sign"] == sign("key1", "sec1", 1630468800)
    assert json.loads(request.content) == {"appId": "a", "taskName": "t", "source": 3}
    assert env.data == 42


async def test_async_client_has_the_same_methods() -> None:
    seen, transport = recorder()

    async def handler(request: httpx.Request) -> httpx.Response:
        return transport.handle_request(request)

    async with AsyncVoxcastClient(
        "http://vc", "k", "s", transport=httpx.MockTransport(handler)
    ) as vc:
        await vc.pause_group_calls([1, 2])
        await vc.query_records(strTime="a", endTime="b", size=5)
        await vc.group_call_detail(7)
    assert [r.url.path for r in seen] == [
        "/v3/voice/group/call/provisional",
        "/v3/voice/recordGroupQuery",
        "/v3/voice/group/call/detail/7",
    ]
    assert json.loads(seen[0].content) == {"jobIdList": [1, 2]}
    assert json.loads(seen[1].content) == {
        "current": 1,
        "size": 5,
        "params": {"strTime": "a", "endTime": "b"},
    }
