"""The console's browser tests: one `voxcast serve` per module and backend, each test with two
fresh accounts and console users of its own on it, and one Debian chromium per test process
(a new context per test) driven by Playwright through `executable_path`."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import os
import shutil
import struct
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import (
    Browser,
    BrowserContext,
    Page,
    ViewportSize,
    async_playwright,
    expect,
)

from tests.conftest import BACKENDS, PostgresFactory
from tests.integration.server import Cli, serving
from voxcast.client import AsyncVoxcastClient
from voxcast.clock import SystemClock
from voxcast.config import Settings
from voxcast.runtime import Runtime, open_runtime
from voxcast.services import accounts, console_users, rates
from voxcast.services.accounts import Credentials
from voxcast.services.console_users import Role

#: Debian's chromium (scripts/setup-system.sh installs it)
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PASSWORD = "correct horse battery"
#: failed sign-ins (one name, one address) before the throttle refuses; low, so a test
#: reaches it quickly
LOGIN_FAILURES = 3
#: how long a Playwright step may wait for the page (ms): generous on a loaded machine
STEP_MS = 20_000
# Playwright's assertions wait 5 s by default, less than a loaded machine needs to lay out
# Swagger UI or ReDoc: they wait as long as every other step
expect.set_options(timeout=STEP_MS)
#: the browser's window: the size of the screenshots in docs/console.md
VIEWPORT: ViewportSize = {"width": 1200, "height": 800}
#: where `shot` writes the docs' screenshots when VOXCAST_SCREENSHOTS=1
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "img" / "console"
#: what makes each test's user names its own on a server its module shares
_UNIQUE = itertools.count(1)
#: the mark of every module using `console` or `context`: the tests run on the test process's
#: one event loop, the loop of the shared browser
SHARED_LOOP = pytest.mark.asyncio(loop_scope="session")


def unique(name: str) -> str:
    """`name` with a suffix no other test of this process uses (console user names are
    unique on a server shared by a module's tests)."""
    return f"{name}-{next(_UNIQUE)}"


@dataclass
class Tenant:
    account_id: int
    app_id: str
    username: str
    api: AsyncVoxcastClient
    #: the credentials behind `api`, for a signed request the client has no method for
    api_key: str
    api_secret: str


@dataclass
class Console:
    base: str
    cli: Cli
    a: Tenant
    b: Tenant
    readonly_user: str

    def url(self, path: str) -> str:
        return f"{self.base}/console{path}"


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    """One chromium for the test process (a launch costs about a second of CPU); each test
    gets a context of its own (`context`), so no cookie or storage crosses tests."""
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield chromium
        await chromium.close()


async def _tenant(rt: Runtime, name: str, username: str = "") -> tuple[Credentials, str]:
    """An account priced for every number, and its console owner, `<name>-owner` unless
    `username` (made in-process: a `voxcast admin` command per step costs seconds of start-up
    on a loaded machine; the command itself is tested in test_users_cli.py)."""
    async with rt.sessions.begin() as session:
        creds = await accounts.create_account(
            session, rt.secrets, rt.clock.now(), name=name, balance=Decimal(100)
        )
        await rates.set_rate(session, creds.account_id, "", Decimal("0.02"))
        username = username or f"{name}-owner"
        await console_users.create_user(
            session,
            username=username,
            password=PASSWORD,
            role=Role.OWNER,
            account_id=creds.account_id,
            now=rt.clock.now(),
        )
    return creds, username


@pytest.fixture(scope="module")
def sandbox_speed() -> float:
    """`voxcast serve --sandbox-speed`; a module whose robot conversations must be heard
    overrides it (the recognizer's real time is long on a fast call clock)."""
    return 50


@pytest.fixture(scope="module", params=BACKENDS)
def console_db(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    pg_factory: PostgresFactory | None,
    sqlite_template: Path,
) -> Iterator[str]:
    """The database of a module's server, on each backend (tests/conftest.py's `database`,
    for a module: a copy of the SQLite template, or a PostgreSQL database leased from this
    test process's factory, so each xdist worker keeps its own)."""
    if request.param == "sqlite":
        target = tmp_path_factory.mktemp("console-db") / "voxcast.db"
        shutil.copy2(sqlite_template, target)
        yield f"sqlite:///{target}"
        return
    assert pg_factory is not None  # "postgres" is a backend only when PG_URL is set
    url = asyncio.run(pg_factory.lease())
    try:
        yield url
    finally:
        asyncio.run(pg_factory.give_back(url))


@dataclass
class Served:
    """A module's `voxcast serve`: its base URL and the command bound to its database."""

    base: str
    cli: Cli


@pytest.fixture(scope="module")
def served(
    console_db: str, tmp_path_factory: pytest.TempPathFactory, sandbox_speed: float
) -> Iterator[Served]:
    """One server for the module's tests (a start costs seconds of CPU); each test signs in
    as users of its own (`console`), so what one test changes no other test sees."""
    cli = Cli.fresh(console_db, tmp_path_factory.mktemp("console") / "var")
    cli.data_dir.mkdir(parents=True)
    cli.extra_env["VOXCAST_CONSOLE_LOGIN_FAILURES"] = str(LOGIN_FAILURES)
    with serving(cli, "--sandbox-speed", str(sandbox_speed)) as base:
        yield Served(base, cli)


@pytest_asyncio.fixture(loop_scope="session")
async def console(served: Served) -> AsyncIterator[Console]:
    """Two accounts of the test's own (alice and bob, priced for every number) with their
    owners and alice's read-only user, on the module's server."""
    # the test's own copy: a test may add to its command's environment
    cli = dataclasses.replace(served.cli, extra_env=dict(served.cli.extra_env))
    settings = Settings()
    settings.database_url, settings.data_dir, settings.secret_key = (
        cli.database_url,
        cli.data_dir,
        cli.secret_key,
    )
    # the server migrated the database when it started
    rt = await open_runtime(settings, SystemClock(), run_migrations=False)
    viewer = unique("alice-viewer")
    try:
        made = [await _tenant(rt, name, unique(f"{name}-owner")) for name in ("alice", "bob")]
        async with rt.sessions.begin() as session:
            await console_users.create_user(
                session,
                username=viewer,
                password=PASSWORD,
                role=Role.READONLY,
                account_id=made[0][0].account_id,
                now=rt.clock.now(),
            )
    finally:
        await rt.close()
    tenants = [
        Tenant(
            c.account_id,
            c.app_id,
            user,
            AsyncVoxcastClient(served.base, c.api_key, c.api_secret, timeout=30),
            c.api_key,
            c.api_secret,
        )
        for c, user in made
    ]
    try:
        yield Console(served.base, cli, tenants[0], tenants[1], viewer)
    finally:
        for t in tenants:
            await t.api.aclose()


@pytest_asyncio.fixture(loop_scope="session")
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    ctx = await browser.new_context(accept_downloads=True, viewport=VIEWPORT)
    ctx.set_default_timeout(STEP_MS)
    yield ctx
    await ctx.close()


Shot = Callable[[Page, str], Awaitable[Path]]


@pytest.fixture
def shot(tmp_path: Path) -> Shot:
    """`await shot(page, name)`: a screenshot of the page's window, always taken (the path runs
    in every test run) into tmp_path, and into docs/img/console/<name>.png when
    VOXCAST_SCREENSHOTS=1 (how the docs' screenshots are made)."""

    async def take(page: Page, name: str) -> Path:
        path = tmp_path / f"{name}.png"
        await page.screenshot(path=str(path))
        head = path.read_bytes()[:24]
        # a PNG of the window: its signature, then the IHDR chunk's width and height
        assert head[:8] == b"\x89PNG\r\n\x1a\n"
        assert struct.unpack(">II", head[16:24]) == (VIEWPORT["width"], VIEWPORT["height"])
        if os.environ.get("VOXCAST_SCREENSHOTS") == "1":
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, SCREENSHOTS / f"{name}.png")
        return path

    return take


async def sign_in(page: Page, console: Console, username: str, password: str = PASSWORD) -> None:
    await page.goto(console.url("/login"))
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", password)
    await page.click("button[type=submit]")
