"""The API reference served by voxcast itself: /openapi.json with the status codes each
operation answers, rendered by Swagger UI (/docs) and ReDoc (/redoc) from vendored assets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from voxcast.api.reference_codes import AIVOICE_COMMON, BODY, COMMON, PUBLIC, codes_of
from voxcast.api.routing import ENVELOPE_KEY, PUBLIC_KEY

#: Swagger UI and ReDoc as the fastapi-offline wheel ships them (MIT; pinned in pyproject.toml),
#: so the pages load nothing from a CDN
ASSETS_DIR = Path(fastapi_offline.__file__).parent / "static"
ASSETS = "/docs-assets"
DOCS = "/docs"
REDOC = "/redoc"
OPENAPI = "/openapi.json"

#: the pages may fetch from this server only: ReDoc's sidebar shows a logo from cdn.redoc.ly
#: that no option turns off, so the browser is told not to ask (Swagger UI's start-up script is
#: inline, ReDoc's search runs in a blob: worker)
CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; "
    "connect-src 'self'; frame-ancestors 'none'"
)

#: Swagger UI without its online validator badge (it would fetch validator.swagger.io)
_SWAGGER_PARAMETERS: dict[str, Any] = {"validatorUrl": None, "defaultModelsExpandDepth": 0}


_ENVELOPES = {
    "status": 'the envelope `{"status","reason","data"}`',
    "code": 'the envelope `{"code","msg","data"}`',
    "balance": 'the envelope `{"status","reason",…}`, the other fields at its top level',
}


def _annotate(path: str, operation: dict[str, Any]) -> None:
    """Append the envelope and the status codes an operation answers to its description (an
    operation missing from reference_codes.OPERATIONS gets none: the reference test names it)."""
    own = codes_of(path.removeprefix("/v3"))
    if own is None:
        return
    if path.lower().startswith("/v3/aivoice/"):
        common = AIVOICE_COMMON
    else:
        common = PUBLIC if operation.get(PUBLIC_KEY) else COMMON
        if "requestBody" in operation:
            common += BODY
    rows = dict([*common, *own])
    table = "\n".join(
        ["| code | meaning |", "|---|---|"]
        + [f"| `{code}` | {rows[code]} |" for code in sorted(rows, key=lambda c: abs(int(c)))]
    )
    envelope = _ENVELOPES[operation.get(ENVELOPE_KEY, "status")]
    text = (operation.get("description") or "").strip()
    operation["description"] = (
        f"{text}\n\nAlso served as `{path.removeprefix('/v3')}`. The answer is always HTTP 200, "
        f"with {envelope}; its status code is one of:\n\n{table}"
    )


def build_openapi(app: FastAPI) -> dict[str, Any]:
    """The schema of `app`, generated once, each operation's description ending in its codes."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = FastAPI.openapi(app)
    for path, item in schema.get("paths", {}).items():
        for operation in item.values():
            _annotate(path, operation)
    app.openapi_schema = schema
    return schema


def mount(app: FastAPI) -> None:
    """Serve /openapi.json, /docs and /redoc from `app` (created with docs_url=None and
    redoc_url=None), their scripts and styles from ASSETS."""
    app.openapi = lambda: build_openapi(app)  # type: ignore[method-assign]
    app.mount(ASSETS, StaticFiles(directory=ASSETS_DIR), name="docs-assets")

    @app.get(DOCS, include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url=OPENAPI,
            title=f"{app.title} API reference",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon.png",
            swagger_ui_parameters=_SWAGGER_PARAMETERS,
        )
        page.headers["Content-Security-Policy"] = CSP
        return page

    @app.get(REDOC, include_in_schema=False)
    async def redoc() -> HTMLResponse:
        page = get_redoc_html(
            openapi_url=OPENAPI,
            title=f"{app.title} API reference",
            redoc_js_url=f"{ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{ASSETS}/favicon.png",
            with_google_fonts=False,
        )
        page.headers["Content-Security-Policy"] = CSP
        return page
