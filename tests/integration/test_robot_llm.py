"""The LLM step of intent recognition against a real chat-completions server on loopback: the
request it sends, the answers it accepts, and the ones (slow, garbage, errors) that are no match."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.loop_stalls import LoopStalls
from voxcast.config import Settings
from voxcast.domain.scripts import Intent
from voxcast.robot.intent import How
from voxcast.robot.llm import LlmIntentClassifier, classifier_from_settings

CANDIDATES = {
    "yes": Intent(keywords=("yes",), examples=("yes this is me",)),
    "no": Intent(keywords=("no",), examples=("wrong number",)),
}

Writer = Callable[[asyncio.StreamWriter], Awaitable[None]]


def completion(content: str) -> bytes:
    return json.dumps(
        {"id": "x", "object": "chat.completion", "choices": [{"message": {"content": content}}]}
    ).encode()


def answer(body: bytes, status: str = "200 OK") -> Writer:
    async def write(writer: asyncio.StreamWriter) -> None:
        head = f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
        writer.write(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
        await writer.drain()

    return write


@dataclass
class ChatServer:
    """A minimal HTTP/1.1 server on 127.0.0.1 that records each request and answers it with
    whatever `reply` writes."""

    reply: Writer = field(default_factory=lambda: answer(completion('{"intent": "yes"}')))
    requests: list[tuple[str, dict[str, str], Any]] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            headers = {}
            for line in head[1:]:
                if ":" in line:
                    k, v = line.split(":", 1)
                    headers[k.strip().lower()] = v.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.requests.append((head[0].split(" ")[1], headers, json.loads(body)))
            await self.reply(writer)
        except (asyncio.IncompleteReadError, ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def server() -> AsyncIterator[ChatServer]:
    chat = ChatServer()
    srv = await asyncio.start_server(chat.serve, "127.0.0.1", 0)
    chat.port = srv.sockets[0].getsockname()[1]
    yield chat
    srv.close()
    await srv.wait_closed()


async def classify(
    server: ChatServer, text: str = "aye that's right", timeout: float = 2.0
) -> tuple[str | None, float]:
    llm = LlmIntentClassifier(server.url, "tiny", timeout_seconds=timeout, api_key="k-1")
    started = time.monotonic()
    try:
        found = await llm.classify(text, CANDIDATES)
    finally:
        await llm.aclose()
    return (None if found is None else found.intent), time.monotonic() - started


async def test_the_request_asks_for_json_schema_output_over_the_candidates(
    server: ChatServer,
) -> None:
    llm = LlmIntentClassifier(server.url, "tiny", timeout_seconds=2.0, api_key="k-1")
    found = await llm.classify("aye that's right", CANDIDATES)
    await llm.aclose()
    assert found is not None
    assert (found.intent, found.how) == ("yes", How.LLM)
    (path, headers, body) = server.requests[0]
    assert path == "/v1/chat/completions"
    assert headers["authorization"] == "Bearer k-1"
    assert body["model"] == "tiny"
    assert body["messages"][1] == {"role": "user", "content": "aye that's right"}
    assert '- yes: for example "yes this is me"' in body["messages"][0]["content"]
    fmt = body["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["strict"] is True
    schema = fmt["json_schema"]["schema"]
    assert schema["properties"]["intent"]["enum"] == ["yes", "no", "none"]
    assert schema["required"] == ["intent"]


async def test_a_full_endpoint_url_is_used_as_given(server: ChatServer) -> None:
    llm = LlmIntentClassifier(f"{server.url}/chat/completions/", "m", timeout_seconds=2.0)
    assert await llm.classify("nope", CANDIDATES) is not None
    await llm.aclose()
    assert server.requests[0][0] == "/v1/chat/completions"
    assert "authorization" not in server.requests[0][1]


async def test_none_means_no_match(server: ChatServer) -> None:
    server.reply = answer(completion('{"intent": "none"}'))
    assert (await classify(server))[0] is None


async def test_a_slow_server_is_no_match_within_the_timeout(server: ChatServer) -> None:
    async def slow(writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(10)
        await answer(completion('{"intent": "yes"}'))(writer)

    server.reply = slow
    intent, took = await classify(server, timeout=0.3)
    assert intent is None
    assert 0.25 <= took < 1.5
    assert len(server.requests) == 1


async def test_a_server_trickling_its_answer_is_cut_at_the_deadline(
    server: ChatServer, loop_stalls: LoopStalls
) -> None:
    # each byte comes well within httpx's per-read timeout; only a whole-request deadline ends it
    async def trickle(writer: asyncio.StreamWriter) -> None:
        body = completion('{"intent": "yes"}')
        writer.write(f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n".encode())
        for byte in body:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.05)

    server.reply = trickle
    intent, took = await classify(server, timeout=0.5)
    assert intent is None
    assert took < 1.5 + loop_stalls.total_s


@pytest.mark.parametrize(
    "reply",
    [
        answer(completion("I think the caller means yes")),  # not JSON
        answer(completion('{"intent": "maybe"}')),  # outside the enum
        answer(completion('{"label": "yes"}')),  # outside the schema
        answer(completion('["yes"]')),
        answer(completion('{"intent": 1}')),
        answer(b"<html>bad gateway</html>"),  # not a completion at all
        answer(b'{"choices": []}'),
        answer(b'{"error": {"message": "model not found"}}', "404 Not Found"),
        answer(completion('{"intent": "yes"}'), "500 Internal Server Error"),
    ],
    ids=[
        "prose",
        "unknown-intent",
        "wrong-key",
        "array",
        "number",
        "html",
        "no-choices",
        "404",
        "500",
    ],
)
async def test_garbage_and_errors_are_no_match(server: ChatServer, reply: Writer) -> None:
    server.reply = reply
    assert (await classify(server))[0] is None
    assert len(server.requests) == 1


async def test_a_closed_port_is_no_match(server: ChatServer) -> None:
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    llm = LlmIntentClassifier(f"http://127.0.0.1:{port}/v1", "m", timeout_seconds=1.0)
    assert await llm.classify("yes", CANDIDATES) is None
    await llm.aclose()


async def test_nothing_to_choose_from_asks_nobody(server: ChatServer) -> None:
    llm = LlmIntentClassifier(server.url, "m", timeout_seconds=1.0)
    assert await llm.classify("yes", {}) is None
    assert await llm.classify("  ", CANDIDATES) is None
    await llm.aclose()
    assert server.requests == []


async def test_the_llm_is_off_unless_configured(
    server: ChatServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("URL", "MODEL", "TIMEOUT_SECONDS", "API_KEY"):
        monkeypatch.delenv(f"VOXCAST_LLM_{name}", raising=False)
    assert classifier_from_settings(Settings()) is None
    monkeypatch.setenv("VOXCAST_LLM_URL", server.url)
    monkeypatch.setenv("VOXCAST_LLM_MODEL", "qwen")
    monkeypatch.setenv("VOXCAST_LLM_TIMEOUT_SECONDS", "0.75")
    llm = classifier_from_settings(Settings())
    assert llm is not None
    assert (llm.endpoint, llm.model, llm.timeout_seconds) == (
        f"{server.url}/chat/completions",
        "qwen",
        0.75,
    )
    found = await llm.classify("yes", CANDIDATES)
    await llm.aclose()
    assert found is not None and found.intent == "yes"
    assert server.requests[0][2]["model"] == "qwen"
