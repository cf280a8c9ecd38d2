"""A signed request's hot path (bench/api.py): no worker-thread hand-off for dependencies, no
OpenTelemetry provider look-ups, and an account from the key cache that reads like a loaded row."""

from __future__ import annotations

from typing import Any

import fastapi.dependencies.utils
import httpx
import opentelemetry.trace
import pytest
from sqlalchemy import inspect

from tests.conftest import Tenant
from tests.helpers import signed_headers
from voxcast.clock import FixedClock
from voxcast.domain.signing import sign
from voxcast.runtime import Runtime
from voxcast.services import accounts
from voxcast.storage.models import Account

ENDPOINTS = [
    ("GET", "/v3/getBalance", None),
    # a route with the runtime dependency and a body as well
    (
        "POST",
        "/v3/voice/recordGroupQuery",
        {"params": {"strTime": "2026-03-01 00:00:00", "endTime": "2026-03-02 00:00:00"}},
    ),
]


async def _call(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock, method: str, path: str, body: Any
) -> dict[str, Any]:
    headers = signed_headers(
        tenant.creds.api_key, tenant.creds.api_secret, int(clock.now().timestamp())
    )
    resp = await http.request(method, path, headers=headers, json=body)
    answer: dict[str, Any] = resp.json()
    return answer


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
async def test_dependencies_run_on_the_event_loop_not_in_worker_threads(
    http: httpx.AsyncClient,
    tenant: Tenant,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
    method: str,
    path: str,
    body: Any,
) -> None:
    handed_off: list[object] = []

    async def refuse(func: object, *args: object, **kwargs: object) -> object:
        handed_off.append(func)
        raise AssertionError("a dependency went to a worker thread")

    monkeypatch.setattr(fastapi.dependencies.utils, "run_in_threadpool", refuse)
    answer = await _call(http, tenant, clock, method, path, body)
    assert handed_off == []
    assert answer.get("status", answer.get("code")) == "0", answer


async def test_requests_do_not_look_up_opentelemetry_providers(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    looked_up: list[int] = []
    original = opentelemetry.trace.get_tracer_provider

    def counted() -> Any:
        looked_up.append(1)
        return original()

    monkeypatch.setattr(opentelemetry.trace, "get_tracer_provider", counted)
    answer = await _call(http, tenant, clock, "GET", "/v3/getBalance", None)
    assert answer["status"] == "0"
    assert looked_up == []


async def test_a_cached_account_is_detached_unchanged_and_its_own_object(
    rt: Runtime, tenant: Tenant, clock: FixedClock
) -> None:
    async def once() -> Account:
        ts = str(int(clock.now().timestamp()))
        return await accounts.authenticate_cached(
            rt.readonly,
            rt.secrets,
            rt.auth_cache,
            api_key=tenant.creds.api_key,
            timestamp=ts,
            sign=sign(tenant.creds.api_key, tenant.creds.api_secret, ts),
            client_ip="127.0.0.1",
            now=clock.now(),
            skew_seconds=300,
        )

    loaded = await once()  # from the database, then cached
    first, second = await once(), await once()
    assert rt.auth_cache.get(tenant.creds.api_key) is not None
    assert first is not second
    for row in (first, second):
        state = inspect(row)
        assert state.detached and state.key == inspect(loaded).key
        assert not state.modified and state.unloaded == set()
        assert (row.id, row.balance, row.name) == (loaded.id, loaded.balance, loaded.name)
