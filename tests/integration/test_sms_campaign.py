"""Post-call SMS (hangUpSms) of a sandbox campaign go through the worker's SMS sender and the
sandbox transport: delivered (UNDELIV for a number ending in 7) and their reports pushed; and
`voxcast admin smsc` manages SMSC connections."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from tests.integration.dialing import insert_task, wait_for
from tests.integration.receiver import Receiver
from tests.integration.server import Cli
from voxcast.clock import ScaledClock
from voxcast.config import Settings
from voxcast.runtime import open_runtime
from voxcast.services import accounts, rates
from voxcast.storage.models import SmsMessage
from voxcast.worker import Background


async def test_hang_up_sms_of_a_sandbox_campaign_are_delivered_and_their_reports_pushed(
    settings: Settings,
) -> None:
    settings.sandbox_speed = 100.0
    rt = await open_runtime(settings, ScaledClock(100.0))
    worker = Background(rt, render_workers=0)
    try:
        async with rt.sessions.begin() as session:
            creds = await accounts.create_account(
                session, rt.secrets, rt.clock.now(), name="acme", balance=Decimal("100")
            )
            await rates.set_rate(session, creds.account_id, "", Decimal("0.02"))
        async with Receiver() as receiver:
            async with rt.sessions.begin() as session:
                await accounts.set_sms_push(session, creds.app_id, url=receiver.url)
            params = {
                "hangUpSms": 1,
                "smsAppId": "sms1",
                "senderId": "ACME",
                "smsContent": "Sorry we missed you, ${text1}",
                "failedPush": 1,
            }
            numbers = ["8613000000000", "8613000000005", "8613000000007"]
            task_id = await insert_task(
                rt,
                creds.account_id,
                creds.app_id,
                numbers,
                params=params,
                infos=[{"text1": "Ann"}, {"text1": "Bob"}, {"text1": "Cy"}],
            )
            await worker.start()

            async def two_pushes() -> bool:
                return len(receiver.received) >= 2

            await wait_for(two_pushes, timeout=60)
            pushes = sorted((r.json() for r in receiver.received), key=lambda p: p["mobile"])
        async with rt.sessions() as session:
            stored = list(
                (
                    await session.scalars(
                        select(SmsMessage)
                        .where(SmsMessage.task_id == task_id)
                        .order_by(SmsMessage.number)
                    )
                ).all()
            )
    finally:
        await worker.close()
        await rt.close()
    assert [(m.number, m.origin, m.status, m.stat, m.segments) for m in stored] == [
        ("8613000000005", "hangup", "delivered", "DELIVRD", 1),
        ("8613000000007", "hangup", "failed", "UNDELIV", 1),
    ]
    assert [(p["mobile"], p["status"], p["msgid"], p["appId"]) for p in pushes] == [
        (m.number, 0 if m.status == "delivered" else 1, m.msg_id, creds.app_id) for m in stored
    ]
    assert all(m.content.startswith("Sorry we missed you, ") for m in stored)


def test_admin_smsc_add_list_remove(db_url: str, tmp_path: Path) -> None:
    cli = Cli.fresh(db_url, tmp_path / "var")
    added = cli.invoke(
        "admin", "smsc", "add", "--host", "127.0.0.1", "--port", "2775",
        "--system-id", "acme", "--password", "s3cret", "--window", "5", "--rate", "20",
    )  # fmt: skip
    assert "SMSC 1 added: acme@127.0.0.1:2775" in " ".join(added.stdout.split())
    rows = [
        json.loads(line)
        for line in cli.invoke("admin", "smsc", "list", "--json").stdout.splitlines()
    ]
    assert rows == [
        {
            "id": 1, "host": "127.0.0.1", "port": 2775, "systemId": "acme", "systemType": "",
            "window": 5, "rate": 20, "enabled": True,
        }
    ]  # fmt: skip
    assert "s3cret" not in cli.invoke("admin", "smsc", "list").stdout
    bad = cli.invoke(
        "admin", "smsc", "add", "--host", "h", "--system-id", "x" * 16, "--password", "p",
        check=False,
    )  # fmt: skip
    assert bad.returncode == 2 and "system_id" in bad.stderr
    cli.invoke("admin", "smsc", "remove", "1")
    assert cli.invoke("admin", "smsc", "list", "--json").stdout.strip() == ""
    gone = cli.invoke("admin", "smsc", "remove", "1", check=False)
    assert gone.returncode == 2 and "does not exist" in gone.stderr


def test_admin_set_push_url_sets_the_sms_push_url(db_url: str, tmp_path: Path) -> None:
    cli = Cli.fresh(db_url, tmp_path / "var")
    creds = cli.create_account(in_process=True)
    out = cli.invoke(
        "admin", "set-push-url", "--app-id", str(creds["appId"]), "--url",
        "http://127.0.0.1:9/sms", "--kind", "sms",
    )  # fmt: skip
    assert "sms push URL set" in out.stdout
