"""Paths as real clients send them (api-catalog §0.3, aivoice-sip §A.4): every answer is HTTP 200
with an envelope, a trailing slash is served in place, never redirected."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import Tenant
from tests.helpers import signed_headers
from tests.unit.audio.audiofiles import audio_b64
from voxcast.clock import FixedClock


async def signed(
    http: httpx.AsyncClient,
    tenant: Tenant,
    clock: FixedClock,
    method: str,
    url: str,
    json_body: Any = None,
) -> httpx.Response:
    ts = int(clock.now().timestamp())
    headers = signed_headers(tenant.creds.api_key, tenant.creds.api_secret, ts)
    return await http.request(method, url, headers=headers, json=json_body)


# -- unknown paths and methods: HTTP 200 with -24 / -22 (the Java SDK drops non-200 bodies) ---


@pytest.mark.parametrize(
    "path", ["/v3/no/such/endpoint", "/getBalance/extra", "/v3/voice/sendIvr", "/v3"]
)
async def test_unknown_or_unimplemented_path_answers_http_200_with_minus_24(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock, path: str
) -> None:
    resp = await signed(http, tenant, clock, "POST", path, {})
    assert resp.status_code == 200
    assert resp.json() == {
        "status": "-24",
        "reason": f"Data unexisting: no such endpoint {path}",
        "data": None,
    }


async def test_unknown_path_without_auth_headers_answers_http_200_with_minus_24(
    http: httpx.AsyncClient,
) -> None:
    resp = await http.get("/v3/voice/sendIvr")
    assert resp.status_code == 200
    assert resp.json()["status"] == "-24"


async def test_wrong_method_answers_http_200_with_minus_22_naming_the_method(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock
) -> None:
    resp = await signed(http, tenant, clock, "DELETE", "/v3/voice/sendCode")
    assert resp.status_code == 200
    assert resp.json() == {
        "status": "-22",
        "reason": "Parameter exception: method DELETE not allowed for this endpoint",
        "data": None,
    }


@pytest.mark.parametrize(
    "path", ["/v3/aivoice/noSuchOperation", "/AiVoice/taskFrobnicate", "/v3/AIVOICE/x/y"]
)
async def test_an_unknown_aivoice_operation_answers_minus_27_from_the_aivoice_table(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock, path: str
) -> None:
    # -24 is not in A.5: an AiVoice client must get a code of its own table, and -27 is the
    # table's word for a request it cannot serve as sent (docs/api-compat.md)
    resp = await signed(http, tenant, clock, "POST", path, {})
    assert resp.status_code == 200
    got = resp.json()
    assert (got["status"], got["data"]) == ("-27", None)
    assert got["reason"].startswith("Parameter validation error: no such endpoint ")
    assert got["reason"].lower().endswith(path.lower().removeprefix("/v3"))
    unsigned = await http.post(path, json={})
    assert (unsigned.status_code, unsigned.json()["status"]) == (200, "-27")


async def test_a_wrong_method_on_an_aivoice_operation_answers_minus_27_naming_it(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock
) -> None:
    resp = await signed(http, tenant, clock, "DELETE", "/v3/aivoice/dialogFlowList")
    assert resp.json() == {
        "status": "-27",
        "reason": "Parameter validation error: method DELETE not allowed for this endpoint",
        "data": None,
    }


# -- trailing slash: served in place (HttpURLConnection does not follow a 307 for POST) ------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v3/getBalance/"),
        ("POST", "/v3/getBalance/"),
        ("POST", "/getBalance//"),
        ("GET", "/sms/getBalance/"),
    ],
)
async def test_trailing_slash_is_served_in_place_not_redirected(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock, method: str, path: str
) -> None:
    resp = await signed(http, tenant, clock, method, path)
    assert resp.status_code == 200
    assert "location" not in resp.headers
    assert resp.json()["status"] == "0"
    assert resp.json()["balance"] == "100.000000"


async def test_trailing_slash_on_a_post_with_a_body_reaches_the_endpoint(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock
) -> None:
    body = {"current": 1, "size": 10, "params": {}}
    resp = await signed(http, tenant, clock, "POST", "/v3/voice/group/call/query/", body)
    assert resp.status_code == 200
    assert resp.json()["code"] == "0"
    assert resp.json()["data"]["total"] == 0


# -- repeated slashes are merged (a public Java client builds `//voice/sendGroup`) ------------


@pytest.mark.parametrize("path", ["/v3//getBalance", "//getBalance", "/v3///sms//getBalance/"])
async def test_repeated_slashes_are_merged_and_the_sign_still_holds(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock, path: str
) -> None:
    resp = await signed(http, tenant, clock, "GET", f"http://voxcast.test{path}")
    assert resp.status_code == 200
    assert resp.json()["status"] == "0"
    assert resp.json()["balance"] == "100.000000"


async def test_send_group_on_a_double_slash_path_is_accepted_with_code_0(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock
) -> None:
    upload = await tenant.client.upload_file("notice.mp3", audio_b64("mp3", 0.5))
    assert upload.code == "0", upload.reason
    body = {"callee": "8613000000000", "fileId": upload.data, "appId": tenant.app_id}
    resp = await signed(http, tenant, clock, "POST", "http://voxcast.test//voice/sendGroup", body)
    assert resp.status_code == 200
    data = resp.json()
    assert data["status"] == "0", data["reason"]
    assert [(r["callee"], r["terminationCode"]) for r in data["data"]] == [("8613000000000", "0")]


async def test_double_slash_path_with_a_wrong_sign_is_still_minus_1(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock
) -> None:
    ts = int(clock.now().timestamp())
    headers = signed_headers(tenant.creds.api_key, "not-the-secret", ts)
    resp = await http.get("http://voxcast.test/v3//getBalance", headers=headers)
    assert resp.status_code == 200
    assert resp.json()["status"] == "-1"
