"""Schemathesis fuzz of every operation the app's OpenAPI schema lists, in process: signed
requests built from the schema (valid and invalid bodies, paths) always get HTTP 200 with a
vendor envelope, and never make the server log a traceback (a crash answered as -18 is a crash
all the same)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.generation.modes import GenerationMode

from tests.conftest import (
    BACKENDS,
    START,
    PostgresFactory,
    Tenant,
    database,
    make_tenant,
    open_test_runtime,
    settings_for_test,
)
from tests.helpers import Tracebacks, envelope_problem, signed_headers
from voxcast.api.app import create_app
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


#: one operation's cases: each with the index of the app id and of the task id it gets when sent
#: (0: the generated value stays; 1: the caller's own; 2: the other account's)
Cases = list[tuple[Any, int, int]]
#: cases per (operation, mode), made once: they do not depend on the database or on the ids
#: the tenants get, and making them is most of this test's CPU, so the second backend is sent
#: the very same requests without generating them again
_generated: dict[tuple[str, GenerationMode], Cases] = {}


def generate(operation: Any, mode: GenerationMode) -> Cases:
    """Up to EXAMPLES cases of one operation (deterministic: derandomized, no example database)."""
    key = (operation.label, mode)
    if key in _generated:
        return _generated[key]
    cases: Cases = []

    @given(
        case=operation.as_strategy(generation_mode=mode),
        app_id=st.sampled_from([0, 1, 2]),
        task_id=st.sampled_from([0, 1, 2]),
    )
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def collect(case: Any, app_id: int, task_id: int) -> None:
        cases.append((case, app_id, task_id))

    try:
        collect()
    except Unsatisfiable:
        # no invalid value exists for some operations (a free-form string path parameter):
        # negative generation then has nothing to send, which is not a finding
        if mode is GenerationMode.POSITIVE:
            raise
    _generated[key] = cases
    return cases


def with_ids(case: Any, app_id: str | None, task_id: int | None) -> Any:
    """The case with the test's ids put in (the fields they go to are the same on every run)."""
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
    return case


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


# PostgreSQL too: this runs in process (no server start), and PostgreSQL's stricter types
# (integer ranges, text with NUL) are where a bad input most often turns into a database error.
# One test for both backends rather than one per backend: it generates the cases once.
async def test_no_generated_request_gets_a_5xx_or_a_hidden_crash_and_all_get_an_envelope(
    tmp_path: Path, pg_factory: PostgresFactory | None, sqlite_template: Path
) -> None:
    failures: list[str] = []
    for backend in BACKENDS:
        directory = tmp_path / backend
        directory.mkdir()
        async with database(backend, directory, pg_factory, sqlite_template) as url:
            clock = FixedClock(START)
            rt = await open_test_runtime(settings_for_test(url, directory), clock)
            try:
                app = create_app(rt)
                tenant = await make_tenant(rt, app, clock, "alice")
                other_tenant = await make_tenant(rt, app, clock, "mallory")
                try:
                    found = await fuzz_backend(app, tenant, other_tenant, clock)
                finally:
                    await tenant.client.aclose()
                    await other_tenant.client.aclose()
            finally:
                await rt.close()
        failures += [f"[{backend}] {failure}" for failure in found]
    assert not failures, f"{len(failures)} bad answers:\n" + "\n".join(failures[:15])


async def fuzz_backend(
    app: Any, tenant: Tenant, other_tenant: Tenant, clock: FixedClock
) -> list[str]:
    """Every generated case sent to `app` as `tenant`; the bad answers."""
    own_task = await seed_task(tenant)
    foreign_task = await seed_task(other_tenant)
    ts = int(clock.now().timestamp())
    headers = signed_headers(tenant.creds.api_key, tenant.creds.api_secret, ts)
    headers.pop("Content-Type")  # the case sets its own (or none)
    failures: list[str] = []
    tracebacks = Tracebacks()
    logging.getLogger().addHandler(tracebacks)
    try:
        sent = await fuzz(app, headers, tenant, other_tenant, own_task, foreign_task, tracebacks,
                          failures)  # fmt: skip
    finally:
        logging.getLogger().removeHandler(tracebacks)
    assert sent >= 3 * EXAMPLES // 2
    return failures


async def fuzz(
    app: Any,
    headers: dict[str, str],
    tenant: Tenant,
    other_tenant: Tenant,
    own_task: int,
    foreign_task: int,
    tracebacks: Tracebacks,
    failures: list[str],
) -> int:
    """Send every generated case; note each bad answer or logged traceback in `failures`."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client:
        document = (await client.get("/openapi.json")).json()
        schema = schemathesis.openapi.from_dict(document)
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 3, "the schema lists (almost) no operations"
        sent = 0
        app_ids = [None, tenant.app_id, other_tenant.app_id]
        task_ids = [None, own_task, foreign_task]
        for operation in operations:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                for generated, app_id, task_id in generate(operation, mode):
                    case = with_ids(generated, app_ids[app_id], task_ids[task_id])
                    response = await send(client, case, headers)
                    sent += 1
                    found = envelope_problem(response.status_code, response.content)
                    logged = tracebacks.take()
                    if logged:
                        found = (
                            (found + "; " if found else "")
                            + "a traceback in the log: "
                            + (logged[-1].splitlines()[-1])
                        )
                    if found:
                        failures.append(
                            f"{operation.label} ({mode.value}): {found}: "
                            f"{case.as_curl_command(headers=headers)}"[:800]
                            + f"\n  -> {response.status_code} {response.text[:300]}"
                        )
    assert sent >= len(operations) * EXAMPLES // 2
    return sent


@pytest.mark.parametrize("path", ["/v3/no/such/endpoint", "/getBalance/extra"])
async def test_paths_outside_the_schema_get_a_minus_24_envelope_not_an_html_page(
    http: httpx.AsyncClient, path: str
) -> None:
    response = await http.post(path, json={})
    assert response.status_code == 200
    assert response.json()["status"] == "-24"
