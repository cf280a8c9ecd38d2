"""The demo account `make run` prints: created once, same credentials on every restart."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from voxcast.runtime import Runtime
from voxcast.services import accounts, console_users, rates, scripts
from voxcast.services.accounts import Credentials
from voxcast.storage.console import ConsoleUser
from voxcast.storage.models import App

DEMO_API_KEY = "voxdemo1"
DEMO_API_SECRET = "voxdemo-secret-0000"  # noqa: S105 - a documented demo credential
DEMO_APP_ID = "demoApp1"
DEMO_BALANCE = Decimal("100")
DEMO_RATE = Decimal("0.02")
#: the web console's demo login (an owner of the demo account)
DEMO_CONSOLE_USER = "demo"
DEMO_CONSOLE_PASSWORD = "voxdemo-console"  # noqa: S105 - a documented demo credential


async def ensure_demo_account(rt: Runtime) -> Credentials:
    """Create the demo account unless it exists; return its credentials. It has the example
    script (dialogFlowList lists it) unless it has scripts of its own."""
    async with rt.sessions.begin() as session:
        found = await accounts.find_by_api_key(session, DEMO_API_KEY)
        if found is not None:
            account, key = found
            app_id = await session.scalar(
                select(App.app_id).where(App.account_id == account.id).order_by(App.created_at)
            )
            if not await scripts.list_scripts(session, account.id):
                await scripts.add_script(
                    session, account.id, scripts.example_document(), rt.clock.now()
                )
            return Credentials(
                account.id, key.api_key, rt.secrets.open(key.secret_enc), app_id or ""
            )
        creds = await accounts.create_account(
            session,
            rt.secrets,
            rt.clock.now(),
            name="demo",
            balance=DEMO_BALANCE,
            api_key=DEMO_API_KEY,
            api_secret=DEMO_API_SECRET,
            app_id=DEMO_APP_ID,
        )
        # every destination priced, so the sandbox numbers of the quick start just work
        await rates.set_rate(session, creds.account_id, "", DEMO_RATE, "demo catch-all")
        await scripts.add_script(
            session, creds.account_id, scripts.example_document(), rt.clock.now()
        )
        return creds


async def ensure_demo_console_user(rt: Runtime, account_id: int) -> tuple[str, str]:
    """The demo account's console owner, created unless a user of that name exists; returns
    the login printed next to the API credentials."""
    async with rt.sessions.begin() as session:
        found = await session.scalar(
            select(ConsoleUser.id).where(ConsoleUser.username == DEMO_CONSOLE_USER)
        )
        if found is None:
            await console_users.create_user(
                session,
                username=DEMO_CONSOLE_USER,
                password=DEMO_CONSOLE_PASSWORD,
                role=console_users.Role.OWNER,
                account_id=account_id,
                now=rt.wall.now(),
            )
    return DEMO_CONSOLE_USER, DEMO_CONSOLE_PASSWORD
