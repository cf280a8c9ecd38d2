"""Schemathesis fuzz of every operation the app's OpenAPI schema lists, in process: signed
requests built from the schema (valid and invalid bodies, paths) never get a 5xx, never a crash
hidden behind -18, and always a vendor envelope (`status` or `code`)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.generation.modes import GenerationMode

from tests.conftest import Tenant
from tests.helpers import signed_headers
from voxcast.clock import FixedClock

#: generated requests per operation and generation mode
EXAMPLES = 25
BASE = "http://voxcast.test"
#: generated bodies and paths get these ids some of the time, so the fuzz also reaches the
#: code behind a found object (the caller's own task, another account's task)
ID_FIELDS = ("keyId", "id", "task_id", "taskId")
ID_LIST_FIELDS = ("jobIdList", "taskIdList")


async def seed_task(tenant: Tenant) -> int:
    sent = await tenant.client.send_group_call(
        appId=tenant.app_id,
        taskName="fuzz seed",
        source=3,
        text="Hello",
        lan="EN",
        loopCount=1,
        maxCalls=60,
        numberInfoList=[{"calleeNumber": "8613000000000"}],
    )
    assert sent.ok, sent
    return int(sent.data)


def generate(
    operation: Any, mode: GenerationMode, app_ids: list[str], task_ids: list[int]
) -> list[Any]:
    """Up to EXAMPLES cases of one operation (deterministic: derandomized, no example database)."""
    cases: list[Any] = []

    @given(
        case=operation.as_strategy(generation_mode=mode),
        app_id=st.sampled_from([None, *app_ids]),
        task_id=st.sampled_from([None, *task_ids]),
    )
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def collect(case: Any, app_id: str | None, task_id: int | None) -> None:
        if isinstance(case.body, dict):
            if app_id is not None and "appId" in case.body:
                case.body["appId"] = app_id
            if task_id is not None:
                for name in ID_FIELDS:
                    if name in case.body:
                        case.body[name] = task_id
                for name in ID_LIST_FIELDS:
                    if name in case.body:
                        case.body[name] = [task_id]
        if task_id is not None and case.path_parameters:
            for name in ID_FIELDS:
                if name in case.path_parameters:
                    case.path_parameters[name] = str(task_id)
        cases.append(case)

    try:
        collect()
    except Unsatisfiable:
        # no invalid value exists for some operations (a free-form string path parameter):
        # negative generation then has nothing to send, which is not a finding
        if mode is GenerationMode.POSITIVE:
            raise
    return cases


async def send(client: httpx.AsyncClient, case: Any, headers: dict[str, str]) -> httpx.Response:
    """The case as the wire request schemathesis would make, sent through the test's loop."""
    kwargs = case.as_transport_kwargs(base_url=BASE, headers=headers)
    sent_headers = {k: v for k, v in kwargs["headers"].items() if k.lower() != "connection"}
    content: bytes | None = None
    if "json" in kwargs:
        content = json.dumps(kwargs["json"]).encode()
    elif kwargs.get("data") is not None:
        data = kwargs["data"]
        content = data if isinstance(data, bytes) else str(data).encode()
    return await client.request(
        kwargs["method"],
        kwargs["url"],
        headers=sent_headers,
        params=kwargs.get("params") or None,
        content=content,
    )


def problem(case: Any, response: httpx.Response) -> str | None:
    """What is wrong with one answer, or None."""
    if response.status_code >= 500:
        return f"HTTP {response.status_code}"
    try:
        body = response.json()
    except ValueError:
        return "the answer is not JSON"
    if not isinstance(body, dict) or not ({"status", "code"} & set(body)):
        return "the answer is not a vendor envelope"
    if "incident" in str(body.get("reason", body.get("msg", ""))):
        return "an unexpected exception, hidden behind -18"
    return None


# PostgreSQL too: this runs in process (no server start), so both backends stay well under a
# minute, and PostgreSQL's stricter types (integer ranges, text with NUL) are where a bad
# input most often turns into a database error.
async def test_no_generated_request_gets_a_5xx_or_a_hidden_crash_and_all_get_an_envelope(
    app: Any, tenant: Tenant, other_tenant: Tenant, clock: FixedClock
) -> None:
    own_task = await seed_task(tenant)
    foreign_task = await seed_task(other_tenant)
    ts = int(clock.now().timestamp())
    headers = signed_headers(tenant.creds.api_key, tenant.creds.api_secret, ts)
    headers.pop("Content-Type")  # the case sets its own (or none)
    failures: list[str] = []
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client:
        document = (await client.get("/openapi.json")).json()
        schema = schemathesis.openapi.from_dict(document)
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 3, "the schema lists (almost) no operations"
        sent = 0
        for operation in operations:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                cases = generate(
                    operation,
                    mode,
                    app_ids=[tenant.app_id, other_tenant.app_id],
                    task_ids=[own_task, foreign_task],
                )
                for case in cases:
                    response = await send(client, case, headers)
                    sent += 1
                    found = problem(case, response)
                    if found:
                        failures.append(
                            f"{operation.label} ({mode.value}): {found}: "
                            f"{case.as_curl_command(headers=headers)}"[:800]
                            + f"\n  -> {response.status_code} {response.text[:300]}"
                        )
    assert sent >= len(operations) * EXAMPLES // 2
    assert not failures, f"{len(failures)} bad answers:\n" + "\n".join(failures[:15])


@pytest.mark.parametrize("path", ["/v3/no/such/endpoint", "/getBalance/extra"])
async def test_paths_outside_the_schema_get_a_minus_24_envelope_not_an_html_page(
    http: httpx.AsyncClient, path: str
) -> None:
    response = await http.post(path, json={})
    assert response.status_code == 200
    assert response.json()["status"] == "-24"
