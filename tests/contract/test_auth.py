"""Authentication and body rules of every endpoint: -1 (key/sign), -16 (timestamp), -2 (IP),
-18 (JSON), -23 (body size)."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.conftest import Tenant
from tests.helpers import signed_headers
from tests.unit.audio.audiofiles import audio_b64
from voxcast.clock import FixedClock
from voxcast.domain.signing import sign
from voxcast.runtime import Runtime
from voxcast.services import accounts


def test_sign_matches_the_docs_worked_example() -> None:
    assert sign("bDqJFiq9", "7bz1lzh9", 1630468800) == "05d7a50893e22a5c4bb3216ae3396c7c"


async def test_valid_sign_in_upper_case_is_accepted(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock
) -> None:
    ts = int(clock.now().timestamp())
    headers = signed_headers(tenant.creds.api_key, tenant.creds.api_secret, ts)
    headers["Sign"] = headers["Sign"].upper()
    resp = await http.get("/v3/getBalance", headers=headers)
    assert resp.status_code == 200
    assert resp.json()["status"] == "0"


async def test_wrong_sign_is_rejected_with_minus_1(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock
) -> None:
    ts = int(clock.now().timestamp())
    headers = signed_headers(tenant.creds.api_key, "not-the-secret", ts)
    resp = await http.get("/v3/getBalance", headers=headers)
    assert resp.status_code == 200
    assert resp.json()["status"] == "-1"


async def test_unknown_key_is_rejected_with_minus_1(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock
) -> None:
    ts = int(clock.now().timestamp())
    resp = await http.get("/v3/getBalance", headers=signed_headers("nobody", "x", ts))
    assert resp.json()["status"] == "-1"


async def test_missing_headers_are_rejected_with_minus_1_naming_them(
    http: httpx.AsyncClient, tenant: Tenant
) -> None:
    resp = await http.post("/v3/voice/fileUpload", json={"fileName": "a.mp3", "file": "AA=="})
    body = resp.json()
    assert body["status"] == "-1"
    assert "Api-Key" in body["reason"] and "Sign" in body["reason"]


async def test_stale_timestamp_is_rejected_with_minus_16(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock
) -> None:
    ts = int(clock.now().timestamp()) - 301
    headers = signed_headers(tenant.creds.api_key, tenant.creds.api_secret, ts)
    resp = await http.get("/v3/getBalance", headers=headers)
    assert resp.json()["status"] == "-16"


async def test_future_timestamp_within_skew_is_accepted(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock
) -> None:
    ts = int(clock.now().timestamp()) + 299
    headers = signed_headers(tenant.creds.api_key, tenant.creds.api_secret, ts)
    resp = await http.get("/v3/getBalance", headers=headers)
    assert resp.json()["status"] == "0"


async def test_non_numeric_timestamp_is_rejected_with_minus_16(
    http: httpx.AsyncClient, tenant: Tenant
) -> None:
    headers = {
        "Api-Key": tenant.creds.api_key,
        "Timestamp": "yesterday",
        "Sign": sign(tenant.creds.api_key, tenant.creds.api_secret, "yesterday"),
    }
    resp = await http.get("/v3/getBalance", headers=headers)
    assert resp.json()["status"] == "-16"


@pytest.mark.parametrize("shape", ["+{}", "{}_{}"], ids=["plus-sign", "underscore"])
async def test_timestamp_that_is_not_plain_digits_is_rejected_with_minus_16(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock, shape: str
) -> None:
    now = str(int(clock.now().timestamp()))
    # Python's int() reads both as the current time; the Sign covers the text as sent
    ts = shape.format(now) if shape.count("{}") == 1 else shape.format(now[:4], now[4:])
    headers = {
        "Api-Key": tenant.creds.api_key,
        "Timestamp": ts,
        "Sign": sign(tenant.creds.api_key, tenant.creds.api_secret, ts),
    }
    resp = await http.get("/v3/getBalance", headers=headers)
    assert resp.json() == {
        "status": "-16",
        "reason": "Timestamp expires: Timestamp must be Unix time in seconds (ASCII digits only)",
    }


async def test_caller_outside_ip_whitelist_is_rejected_with_minus_2(
    http: httpx.AsyncClient, tenant: Tenant, rt: Runtime
) -> None:
    async with rt.sessions.begin() as session:
        await accounts.set_ip_whitelist(session, tenant.creds.account_id, "10.9.8.0/24")
    resp = await tenant.client.get_balance()
    assert resp.code == "-2"
    async with rt.sessions.begin() as session:
        await accounts.set_ip_whitelist(session, tenant.creds.account_id, "127.0.0.1, 10.9.8.0/24")
    assert (await tenant.client.get_balance()).code == "0"


async def test_body_with_comments_is_rejected_with_minus_18(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock
) -> None:
    ts = int(clock.now().timestamp())
    headers = signed_headers(tenant.creds.api_key, tenant.creds.api_secret, ts)
    body = '{\n "fileName":"11-24.mp3", // the name\n "file":"AAAA"\n}'
    resp = await http.post("/voice/fileUpload", content=body, headers=headers)
    assert resp.json()["status"] == "-18"


async def test_json_sent_as_form_content_type_is_parsed_as_json(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock
) -> None:
    ts = int(clock.now().timestamp())
    headers = signed_headers(
        tenant.creds.api_key,
        tenant.creds.api_secret,
        ts,
        **{"Content-Type": "application/x-www-form-urlencoded"},
    )
    body = json.dumps({"fileName": "hello.mp3", "file": audio_b64("mp3")})
    resp = await http.post("/voice/fileUpload", content=body, headers=headers)
    assert resp.json()["status"] == "0", resp.json()


async def test_every_path_is_served_with_and_without_v3(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock
) -> None:
    ts = int(clock.now().timestamp())
    headers = signed_headers(tenant.creds.api_key, tenant.creds.api_secret, ts)
    for path in ("/v3/getBalance", "/getBalance"):
        assert (await http.get(path, headers=headers)).json()["status"] == "0"


async def test_x_forwarded_for_counts_only_from_trusted_proxies_walking_from_the_right(
    app: object, tenant: Tenant, rt: Runtime, clock: FixedClock
) -> None:
    async with rt.sessions.begin() as session:
        await accounts.set_ip_whitelist(
            session, tenant.creds.account_id, "203.0.113.7, 2001:db8::7"
        )
    ts = int(clock.now().timestamp())
    signed = signed_headers(tenant.creds.api_key, tenant.creds.api_secret, ts)

    async def status(peer: str, *forwarded: str) -> str:
        transport = httpx.ASGITransport(app=app, client=(peer, 40000))  # type: ignore[arg-type]
        headers = list(signed.items()) + [("X-Forwarded-For", f) for f in forwarded]
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            code: str = (await client.get("/v3/getBalance", headers=headers)).json()["status"]
        return code

    rt.settings.trusted_proxies = ()
    assert await status("127.0.0.1", "203.0.113.7") == "-2"
    assert await status("203.0.113.7", "198.51.100.1") == "0"
    rt.settings.trusted_proxies = (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("fd00::/8"),
    )
    assert await status("127.0.0.1", "203.0.113.7") == "-2"  # the peer is not a proxy
    assert await status("10.1.1.1", "203.0.113.7") == "0"
    assert await status("fd00::1", "2001:db8::7") == "0"
    assert await status("10.1.1.1", "203.0.113.7, 198.51.100.1") == "-2"  # client-written
    assert await status("10.1.1.1", "203.0.113.7", "10.2.2.2") == "0"  # two proxies, two headers
    assert await status("10.1.1.1", "not-an-address") == "-2"
    assert await status("10.1.1.1") == "-2"  # no header: the proxy itself is the client


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ("[" * 1000 + "]" * 1000, "/v3/voice/group/call/send"),
        ('{"a":' * 1000 + "1" + "}" * 1000, "/v3/voice/fileUpload"),
        ("[" * 100_000, "/v3/voice/group/call/send"),
        (
            '{"current":1,"params":' + '{"a":' * 5000 + "1" + "}" * 5001,
            "/v3/voice/group/call/query",
        ),
    ],
    ids=["list-1000", "object-1000", "unclosed-100000", "params-5000"],
)
async def test_deeply_nested_json_is_rejected_with_minus_18_without_a_traceback(
    http: httpx.AsyncClient,
    tenant: Tenant,
    clock: FixedClock,
    caplog: pytest.LogCaptureFixture,
    body: str,
    path: str,
) -> None:
    ts = int(clock.now().timestamp())
    headers = signed_headers(tenant.creds.api_key, tenant.creds.api_secret, ts)
    resp = await http.post(path, content=body, headers=headers)
    envelope = resp.json()
    code, reason = (
        (envelope["code"], envelope["msg"])
        if "code" in envelope
        else (
            envelope["status"],
            envelope["reason"],
        )
    )
    assert (code, reason) == ("-18", "Port program unusual: request body is nested too deeply")
    assert [r for r in caplog.records if r.exc_info] == []


CHUNK = 64 * 1024


async def test_chunked_body_over_the_cap_is_rejected_with_minus_23_before_it_is_all_read(
    http: httpx.AsyncClient, tenant: Tenant, rt: Runtime, clock: FixedClock
) -> None:
    rt.settings.max_request_bytes = 1_000_000
    yielded = 0

    async def gigabyte() -> AsyncIterator[bytes]:
        nonlocal yielded
        yield b'{"fileName":"a.mp3","file":"'
        yielded += 28
        for _ in range(1024**3 // CHUNK):
            yielded += CHUNK
            yield b"A" * CHUNK

    ts = int(clock.now().timestamp())
    headers = signed_headers(tenant.creds.api_key, tenant.creds.api_secret, ts)
    resp = await http.post("/v3/voice/fileUpload", content=gigabyte(), headers=headers)
    assert "content-length" not in {k.lower() for k in resp.request.headers}
    assert resp.json() == {
        "status": "-23",
        "reason": "Data caps: request body is over 1000000 bytes",
        "data": None,
    }
    # reading stops at the first chunk past the cap: 28 + 16 x 64 KiB > 1,000,000
    assert yielded == 28 + 16 * CHUNK


async def test_chunked_body_under_the_cap_is_read_whole(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock
) -> None:
    body = json.dumps({"fileName": "a.mp3", "file": audio_b64("mp3", 1.0)}).encode()

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(body), 1000):
            yield body[i : i + 1000]

    ts = int(clock.now().timestamp())
    headers = signed_headers(tenant.creds.api_key, tenant.creds.api_secret, ts)
    resp = await http.post("/v3/voice/fileUpload", content=chunks(), headers=headers)
    assert resp.json()["status"] == "0", resp.json()
    assert isinstance(resp.json()["data"], str) and resp.json()["data"]
