"""The API reference voxcast serves (docs/api-compat.md): /openapi.json describes every request
field and every operation with its status codes, each operation once; /docs and /redoc load
their scripts and styles from voxcast itself, never from another host."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from voxcast.api.reference import ASSETS

#: an absolute URL in an HTML attribute or script (what a CDN-hosted page would hold)
_ABSOLUTE = re.compile(r"""(?:https?:)?//[^\s"'<>)]+""")
_ASSET = re.compile(r"""(?:src|href)="([^"]+)\"""")


async def _schema(http: httpx.AsyncClient) -> dict[str, Any]:
    resp = await http.get("/openapi.json")
    assert resp.status_code == 200
    schema: dict[str, Any] = resp.json()
    return schema


def _undescribed(schema: dict[str, Any]) -> list[str]:
    """Every request field without a description: each property of every model a request body
    reaches (nested models, lists and unions included), and every query and path parameter."""
    models: dict[str, Any] = schema["components"]["schemas"]
    seen: set[str] = set()
    missing: list[str] = []

    def walk(node: Any, where: str) -> None:
        if not isinstance(node, dict):
            return
        ref = node.get("$ref")
        if isinstance(ref, str):
            name = ref.rsplit("/", 1)[1]
            if name not in seen:
                seen.add(name)
                walk(models[name], name)
            return
        for field, sub in (node.get("properties") or {}).items():
            if not str(sub.get("description") or "").strip():
                missing.append(f"{where}.{field}")
            walk(sub, f"{where}.{field}")
        for key in ("items", "additionalProperties"):
            walk(node.get(key), f"{where}[]")
        for key in ("anyOf", "allOf", "oneOf"):
            for sub in node.get(key, []):
                walk(sub, where)

    for path, item in schema["paths"].items():
        for method, operation in item.items():
            for param in operation.get("parameters", []):
                if not str(param.get("description") or "").strip():
                    missing.append(f"{method.upper()} {path} {param['in']} {param['name']}")
            for content in (operation.get("requestBody") or {}).get("content", {}).values():
                walk(content["schema"], f"{method.upper()} {path} body")
    return sorted(set(missing))


def _undocumented(schema: dict[str, Any]) -> list[str]:
    """Every operation without a summary, without its own prose, or without a table of the
    status codes it answers."""
    missing = []
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            name = f"{method.upper()} {path}"
            description = str(operation.get("description") or "")
            prose = description.split("Also served as", 1)[0].strip()
            if not str(operation.get("summary") or "").strip():
                missing.append(f"{name}: no summary")
            if not prose:
                missing.append(f"{name}: no description")
            if "| code | meaning |" not in description or "| `0` | success |" not in description:
                missing.append(f"{name}: no status-code table")
    return missing


async def test_every_request_field_has_a_description(http: httpx.AsyncClient) -> None:
    missing = _undescribed(await _schema(http))
    assert not missing, f"{len(missing)} request fields without a description:\n" + "\n".join(
        missing
    )


async def test_every_operation_has_a_summary_a_description_and_its_codes(
    http: httpx.AsyncClient,
) -> None:
    missing = _undocumented(await _schema(http))
    assert not missing, f"{len(missing)} operations undocumented:\n" + "\n".join(missing)


async def test_each_operation_is_listed_once_under_v3(http: httpx.AsyncClient) -> None:
    paths = (await _schema(http))["paths"]
    assert paths, "the schema lists no operation"
    assert [p for p in paths if not p.startswith("/v3/")] == []
    # a served alias (/voice/sendGroup, /sms/sendSms) is not listed a second time
    bare = {p.removeprefix("/v3").lower() for p in paths}
    assert len(bare) == len(paths)
    assert "/v3/voice/sendGroup" in paths and "/v3/voice/group/call/send" in paths


async def test_operation_codes_follow_the_family(http: httpx.AsyncClient) -> None:
    paths = (await _schema(http))["paths"]
    group = paths["/v3/voice/group/call/send"]["post"]["description"]
    assert "| `-41` | Task name already exists |" in group
    assert '`{"code","msg","data"}`' in group
    aivoice = paths["/v3/aivoice/taskAdd"]["post"]["description"]
    # the AiVoice family's own table: -4 for a stale timestamp, never the voice API's -16
    assert "| `-4` | Timestamp expired |" in aivoice and "`-16`" not in aivoice


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_reference_pages_load_nothing_from_another_host(
    http: httpx.AsyncClient, page: str
) -> None:
    resp = await http.get(page)
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/html")
    # what the bundled scripts might fetch on their own (ReDoc's logo) is refused by the browser
    assert "default-src 'self'" in resp.headers["content-security-policy"]
    assert "img-src 'self' data:;" in resp.headers["content-security-policy"]
    html = resp.text
    assert _ABSOLUTE.findall(html) == []
    assert "/openapi.json" in html
    assets = [url for url in _ASSET.findall(html) if url.startswith(ASSETS)]
    scripts = [url for url in assets if url.endswith(".js")]
    assert scripts, f"{page} loads no script from {ASSETS}"
    expected = {".js": "javascript", ".css": "text/css", ".png": "image/png"}
    for url in assets:
        asset = await http.get(url)
        assert asset.status_code == 200, url
        kind = expected[url[url.rindex(".") :]]
        assert kind in asset.headers["content-type"], (url, asset.headers["content-type"])
        assert len(asset.content) > 1000, url


async def test_swagger_ui_loads_its_stylesheet_and_redoc_needs_no_web_font(
    http: httpx.AsyncClient,
) -> None:
    docs = (await http.get("/docs")).text
    assert f'href="{ASSETS}/swagger-ui.css"' in docs
    assert '"validatorUrl": null' in docs
    redoc = (await http.get("/redoc")).text
    assert "fonts.googleapis" not in redoc
