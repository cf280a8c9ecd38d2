"""The API reference in a real browser (headless Debian chromium) against a real `voxcast serve`
with every request to another host refused: Swagger UI and ReDoc render the operations from
voxcast's own assets, and the console's navigation links to them."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.async_api import BrowserContext, Route, expect

from tests.console.conftest import SHARED_LOOP, Console, sign_in

pytestmark = [pytest.mark.timeout(180), SHARED_LOOP]


async def _offline(context: BrowserContext) -> list[str]:
    """Refuse every request that leaves 127.0.0.1; the list names those refused."""
    refused: list[str] = []

    async def only_loopback(route: Route) -> None:
        url = route.request.url
        if urlsplit(url).hostname == "127.0.0.1":
            await route.continue_()
        else:
            refused.append(url)
            await route.abort()

    await context.route("**/*", only_loopback)
    return refused


async def test_swagger_ui_renders_every_operation_offline(
    console: Console, context: BrowserContext
) -> None:
    refused = await _offline(context)
    page = await context.new_page()
    await page.goto(f"{console.base}/docs")
    operations = page.locator(".opblock")
    await expect(operations.first).to_be_visible()
    assert await page.locator(".opblock-summary-path", has_text="/v3/voice/sendGroup").count() == 1
    assert await operations.count() > 60
    # an operation opens on its description and its status-code table
    await page.locator(".opblock-summary", has_text="/v3/voice/sendGroup").click()
    await expect(page.get_by_text("Abnormal phone number").first).to_be_visible()
    await page.wait_for_load_state("networkidle")
    assert refused == []


async def test_redoc_renders_offline(console: Console, context: BrowserContext) -> None:
    refused = await _offline(context)
    page = await context.new_page()
    await page.goto(f"{console.base}/redoc")
    await expect(page.get_by_text("/v3/voice/group/call/send").first).to_be_attached()
    # ReDoc's sidebar logo (cdn.redoc.ly) is requested after the first render, if at all
    await expect(page.get_by_text("API docs by Redocly")).to_be_attached()
    await page.wait_for_load_state("networkidle")
    assert refused == []


async def test_console_links_to_the_reference(console: Console, context: BrowserContext) -> None:
    page = await context.new_page()
    await sign_in(page, console, console.a.username)
    link = page.locator("nav a", has_text="API reference")
    await expect(link).to_have_attribute("href", "/docs")
    await link.click()
    await expect(page.locator(".opblock").first).to_be_visible()
