"""Replays, byte for byte, the requests the vendor's Java SDK sends (fixtures in sdk_replay/,
captured from the SDK itself) against the app: each must be answered HTTP 200, status "0", with
the response its `.json` describes. A new fixture pair dropped in the folder is picked up."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Tenant
from voxcast.clock import FixedClock
from voxcast.domain.signing import sign

FIXTURES = Path(__file__).parent / "sdk_replay"
PLACEHOLDER = re.compile(r"\{\{([A-Za-z][A-Za-z0-9_-]*)\}\}")
#: the expectation that matches any value, null included
ANY = "<any>"


@dataclass(frozen=True)
class Fixture:
    """One recorded SDK request (`<name>.http`) and what the app must answer (`<name>.json`)."""

    name: str
    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes
    expect: dict[str, Any]

    @property
    def needs(self) -> list[str]:
        return list(self.expect.get("needs", []))


def fixture_names() -> list[str]:
    return sorted(p.stem for p in FIXTURES.glob("*.http"))


def load(name: str) -> Fixture:
    """`<name>.http`: the request line, one header a line, a blank line, then the body: every
    remaining byte as the SDK sent it (so the file has no newline at its end)."""
    raw = (FIXTURES / f"{name}.http").read_bytes()
    head, sep, body = raw.partition(b"\n\n")
    assert sep, f"{name}.http: no blank line after the headers"
    request_line, *lines = head.decode("utf-8").split("\n")
    method, target, _version = request_line.split(" ")
    headers = []
    for line in lines:
        key, _, value = line.partition(":")
        headers.append((key.strip(), value.strip()))
    expect = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    return Fixture(name, method, target, headers, body, expect)


def fill(text: str, values: dict[str, str], *, escape: bool = False) -> str:
    def value(match: re.Match[str]) -> str:
        key = match.group(1)
        assert key in values, f"placeholder {{{{{key}}}}} has no value (known: {sorted(values)})"
        return re.escape(values[key]) if escape else values[key]

    return PLACEHOLDER.sub(value, text)


def check(expected: Any, actual: Any, values: dict[str, str], where: str = "response") -> None:
    """`actual` is `expected`: objects with exactly its members, lists of its length, equal
    scalars; a string "re:<pattern>" is a regex the value (a string) must match in full, and
    "<any>" any value. Placeholders in strings are filled first."""
    if expected == ANY:
        return
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: {actual!r} is not an object"
        assert set(actual) == set(expected), f"{where}: members {sorted(actual)}"
        for key, sub in expected.items():
            check(sub, actual[key], values, f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list), f"{where}: {actual!r} is not a list"
        assert len(actual) == len(expected), f"{where}: {len(actual)} items: {actual!r}"
        for i, (sub, item) in enumerate(zip(expected, actual, strict=True)):
            check(sub, item, values, f"{where}[{i}]")
    elif isinstance(expected, str) and expected.startswith("re:"):
        pattern = fill(expected[3:], values, escape=True)
        assert isinstance(actual, str) and re.fullmatch(pattern, actual), (
            f"{where}: {actual!r} does not match {pattern}"
        )
    elif isinstance(expected, str):
        assert actual == fill(expected, values), f"{where}: {actual!r} != {expected!r}"
    else:
        assert actual == expected and type(actual) is type(expected), (
            f"{where}: {actual!r} != {expected!r}"
        )


def pick(data: Any, path: str) -> str:
    """`data.records.0.account` out of a response."""
    for part in path.split("."):
        data = data[int(part)] if isinstance(data, list) else data[part]
    return str(data)


class Replayer:
    """Sends fixtures as recorded, signed for `tenant` at the fixed clock's time, and keeps the
    values their `save` names for the fixtures that need them."""

    def __init__(self, http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock) -> None:
        self.http = http
        self.tenant = tenant
        self.clock = clock
        self.values: dict[str, str] = {"appId": tenant.app_id}
        self.done: set[str] = set()

    async def run(self, name: str) -> httpx.Response:
        fixture = load(name)
        for need in fixture.needs:
            if need not in self.done:
                await self.run(need)
        ts = str(int(self.clock.now().timestamp()))
        key, secret = self.tenant.creds.api_key, self.tenant.creds.api_secret
        signed = {"Api-Key": key, "Timestamp": ts, "Sign": sign(key, secret, ts)}
        values = {**self.values, **signed}
        headers = [(k, fill(v, values)) for k, v in fixture.headers]
        # placeholders stand for values without characters the SDK would escape
        body = fill(fixture.body.decode("utf-8"), values).encode("utf-8")
        resp = await self.http.request(
            fixture.method, fill(fixture.target, values), headers=headers, content=body
        )
        assert resp.status_code == 200, (name, resp.status_code, resp.text)
        answer = resp.json()
        assert answer.get("status") == "0", (name, answer)
        check(fixture.expect["response"], answer, self.values, f"{name}: response")
        for key, path in fixture.expect.get("save", {}).items():
            self.values[key] = pick(answer, path)
        self.done.add(name)
        return resp


@pytest.fixture
async def raw_http(app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    """A client that adds nothing of its own (httpx's default accept, accept-encoding,
    connection and user-agent headers removed): the fixture's headers are all that is sent,
    with the Host and Content-Length every transport adds."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://voxcast.test"
    ) as client:
        client.headers = httpx.Headers()
        yield client


@pytest.mark.parametrize("name", fixture_names())
async def test_an_sdk_request_replayed_byte_for_byte_succeeds(
    raw_http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock, name: str
) -> None:
    await Replayer(raw_http, tenant, clock).run(name)


def test_every_fixture_has_its_expectation_and_an_sdk_shaped_body() -> None:
    """Guards the folder against a half-added fixture or an editor's newline at the end of a
    body (the SDK writes none)."""
    requests = {p.stem for p in FIXTURES.glob("*.http")}
    expectations = {p.stem for p in FIXTURES.glob("*.json")}
    assert requests == expectations
    assert {
        "sip_add",
        "sip_query",
        "sip_reset",
        "file_query",
        "send_sip",
        "record_sip",
        "record_sip_query",
    } <= requests
    for name in sorted(requests):
        fixture = load(name)
        assert set(fixture.needs) <= requests, name
        assert not fixture.body.endswith((b"\n", b" ")), name
        assert dict(fixture.headers).get("Content-Type") == "application/json;charset=utf-8"
        if fixture.body:
            json.loads(PLACEHOLDER.sub("x", fixture.body.decode("utf-8")))


def test_the_replay_fails_on_a_wrong_answer() -> None:
    """The matcher itself: exact members, regexes in full, placeholders filled."""
    values = {"appId": "a.b"}
    check({"x": "re:{{appId}}_\\d{3}"}, {"x": "a.b_001"}, values)
    for expected, actual in [
        ({"x": "re:{{appId}}_\\d{3}"}, {"x": "aXb_001"}),
        ({"x": 1}, {"x": 1, "y": 2}),
        ({"x": 1}, {"x": "1"}),
        ([1, 2], [1]),
        ("{{appId}}", "a.c"),
    ]:
        with pytest.raises(AssertionError):
            check(expected, actual, values)
