"""The quick start, end to end with real processes: `voxcast admin` creates an account, `voxcast
serve` runs the API, dialer and push sender on the sandbox, the SDK sends a task, `voxcast tasks
watch` follows it to the end, and a local receiver gets one push per call. (`serve --demo` is
tested in test_cli.py; the admin commands' answers to bad input run in process.)"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from tests.integration.receiver import Receiver
from tests.integration.server import Cli, serving
from voxcast.client import AsyncVoxcastClient

NUMBERS = ["8613000000000", "8613000000001", "8613000000004", "8613000000005"]


async def test_quick_start_task_runs_and_pushes_every_call(db_url: str, tmp_path: Path) -> None:
    cli = Cli.fresh(db_url, tmp_path / "var")
    creds = cli.create_account(balance="50")
    cli.run("admin", "rates", "import", str(_rates(tmp_path)))
    async with Receiver() as receiver:
        cli.run("admin", "set-push-url", "--app-id", str(creds["appId"]), "--url", receiver.url)
        with serving(cli, "--sandbox-speed", "40") as base:
            async with AsyncVoxcastClient(
                base, str(creds["apiKey"]), str(creds["apiSecret"])
            ) as client:
                sent = await client.send_group_call(
                    appId=creds["appId"],
                    taskName="first campaign",
                    source=3,
                    text="Hello ${text1}, this is a reminder.",
                    lan="EN",
                    loopCount=1,
                    maxCalls=60,
                    maxRingingTime=20,
                    hangUpSms=1,
                    smsAppId="sms1",
                    smsContent="Sorry we missed you, ${text1}",
                    failedPush=1,
                    numberInfoList=[{"calleeNumber": n, "text1": "friend"} for n in NUMBERS],
                )
                assert sent.code == "0", sent
                task_id = int(sent.data)
                watch = await asyncio.to_thread(
                    cli.run, "tasks", "watch", str(task_id), "--interval", "0.2", timeout=120
                )
                detail = await client.group_call_detail(task_id)
                for _ in range(100):
                    if len(receiver.received) >= len(NUMBERS):
                        break
                    await asyncio.sleep(0.1)
                balance = await client.get_balance()
        pushes = [r.json() for r in receiver.received]
    sms = _sms(cli)
    assert sorted(m["number"] for m in sms) == ["8613000000004", "8613000000005"]
    assert {m["content"] for m in sms} == {"Sorry we missed you, friend"}
    assert watch.returncode == 0, watch.stderr
    assert detail.data["status"] == 2
    assert detail.data["called"] == 4 and detail.data["answered"] == 2
    assert sorted(p["callee"] for p in pushes) == sorted(NUMBERS)
    by_callee = {p["callee"]: p for p in pushes}
    assert by_callee["8613000000001"]["feedbackValue"] == "1"
    assert by_callee["8613000000005"]["sipCode"] == "486"
    assert by_callee["8613000000004"]["ringDuration"] == 20
    assert all(isinstance(p["callTime"], int) for p in pushes)
    # the two answered calls (digits 0 and 1) last under a minute: 60+60 billing charges each
    # a minute at 0.015/min; the busy and unanswered calls are free. 50 - 2 x 0.015:
    charged = {c: (p["chargedDuration"], p["cost"]) for c, p in by_callee.items()}
    assert charged == {
        "8613000000000": (60, "0.015000"),
        "8613000000001": (60, "0.015000"),
        "8613000000004": (0, "0.000000"),
        "8613000000005": (0, "0.000000"),
    }
    assert balance.raw["balance"] == "49.970000"


def _sms(cli: Cli) -> list[dict[str, object]]:
    out = cli.run("admin", "sms", "list", "--json").stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def _rates(tmp: Path) -> Path:
    path = tmp / "rates.csv"
    path.write_text("prefix,rate,description\n86,0.0150,China\nbogus,x,skipped\n")
    return path


def test_admin_create_account_prints_one_json_object(db_url: str, tmp_path: Path) -> None:
    cli = Cli.fresh(db_url, tmp_path / "var")
    out = cli.invoke(
        "admin",
        "create-account",
        "--name",
        "n",
        "--api-key",
        "keyAAAA1",
        "--api-secret",
        "secretBBBB",
        "--json",
    )
    created = json.loads(out.stdout)
    assert set(created) == {"accountId", "apiKey", "apiSecret", "appId"}
    assert (created["apiKey"], created["apiSecret"]) == ("keyAAAA1", "secretBBBB")
    again = cli.invoke(
        "admin",
        "create-account",
        "--name",
        "n",
        "--api-key",
        "keyAAAA1",
        "--api-secret",
        "other",
        "--json",
        check=False,
    )
    assert again.returncode != 0 and "already exists" in (again.stderr + again.stdout)


def test_admin_commands_reject_bad_input_clearly(db_url: str, tmp_path: Path) -> None:
    cli = Cli.fresh(db_url, tmp_path / "var")
    created = cli.create_account(in_process=True)
    bad_url = cli.invoke(
        "admin", "set-push-url", "--app-id", str(created["appId"]), "--url", "ftp://x", check=False
    )
    assert bad_url.returncode != 0 and "http" in bad_url.stderr + bad_url.stdout
    bad_ip = cli.invoke(
        "admin",
        "set-ip-whitelist",
        "--account-id",
        str(created["accountId"]),
        "--ips",
        "10.0.0.300",
        check=False,
    )
    assert bad_ip.returncode != 0
    ok = cli.invoke(
        "admin", "set-balance", "--account-id", str(created["accountId"]), "--amount", "+2.5"
    )
    assert "102.500000" in ok.stdout
