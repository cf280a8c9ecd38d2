"""The path rewrite in front of the router: repeated slashes merged, trailing slashes dropped,
the raw path rewritten alike with its percent-encoding kept."""

from __future__ import annotations

from typing import Any

import pytest

from voxcast.api.routing import NormalizePath, normalize_path


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/v3/getBalance", "/v3/getBalance"),
        ("/v3/getBalance/", "/v3/getBalance"),
        ("//voice/sendGroup", "/voice/sendGroup"),
        ("/v3//voice///recordGroup/12//", "/v3/voice/recordGroup/12"),
        ("/", "/"),
        ("//", "/"),
    ],
)
def test_normalize_path(path: str, expected: str) -> None:
    assert normalize_path(path) == expected


async def test_middleware_rewrites_path_and_raw_path_and_leaves_other_scopes_alone() -> None:
    seen: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope)

    async def nothing() -> Any:
        return {}

    async def drop(_message: Any) -> None:
        return None

    wrapped = NormalizePath(app)
    http = {"type": "http", "path": "//voice/a b/", "raw_path": b"//voice/a%20b/"}
    await wrapped(http, nothing, drop)
    await wrapped({"type": "lifespan"}, nothing, drop)
    assert (seen[0]["path"], seen[0]["raw_path"]) == ("/voice/a b", b"/voice/a%20b")
    assert http["path"] == "//voice/a b/"  # the caller's scope is not changed in place
    assert seen[1] == {"type": "lifespan"}
