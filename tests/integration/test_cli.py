"""The `voxcast` command-line contract (docs/cli.md): `admin` commands, their errors (exit
status 2, the reason on stderr), the secret key file, and `serve --demo`. What is about the
process (its output read by another program, the key file two processes share, a server) runs
real processes; what a command accepts and answers runs it in process (`Cli.invoke`)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
from cryptography.fernet import Fernet

from tests.helpers import SQLITE_ONLY
from tests.integration.server import VOXCAST, Cli, serving
from tests.unit.audio.audiofiles import audio_b64
from voxcast.api.app import create_app
from voxcast.client import AsyncVoxcastClient, VoxcastClient
from voxcast.clock import SystemClock
from voxcast.config import Settings
from voxcast.runtime import open_runtime
from voxcast.services import agents, trunks
from voxcast.storage.models import App

#: the documented exit status of a refused admin command
USAGE_ERROR = 2
#: for commands whose database work is one plain column write, checked the same way on both
#: backends elsewhere: each process start costs about a second, so these run on SQLite only


def balance_seen_by_the_api(base: str, created: dict[str, object]) -> str:
    """The balance a request signed with the created credentials reads."""
    with VoxcastClient(base, str(created["apiKey"]), str(created["apiSecret"])) as vc:
        env = vc.get_balance()
    assert env.ok, env
    return str(env.raw["balance"])


def account(cli: Cli, balance: str = "100") -> dict[str, object]:
    """`admin create-account --json`, in process."""
    out = cli.invoke("admin", "create-account", "--name", "acme", "--balance", balance, "--json")
    created: dict[str, object] = json.loads(out.stdout)
    return created


def balance_seen_in_process(cli: Cli, created: dict[str, object]) -> str:
    """The same, through the app in this process on the command's database and secret key."""

    async def read() -> str:
        settings = Settings(
            database_url=cli.database_url, data_dir=cli.data_dir, secret_key=cli.secret_key
        )
        rt = await open_runtime(settings, SystemClock())
        try:
            async with AsyncVoxcastClient(
                "http://voxcast.test",
                str(created["apiKey"]),
                str(created["apiSecret"]),
                transport=httpx.ASGITransport(app=create_app(rt)),
            ) as vc:
                env = await vc.get_balance()
        finally:
            await rt.close()
        assert env.ok, env
        return str(env.raw["balance"])

    return asyncio.run(read())


def test_create_account_json_prints_one_object_whose_credentials_sign_requests(
    db_url: str, tmp_path: Path
) -> None:
    cli = Cli.fresh(db_url, tmp_path / "var")
    out = cli.run("admin", "create-account", "--name", "acme", "--balance", "12.5", "--json")
    lines = out.stdout.splitlines()
    assert len(lines) == 1, out.stdout
    created = json.loads(lines[0])
    assert set(created) == {"accountId", "apiKey", "apiSecret", "appId"}
    assert isinstance(created["accountId"], int)
    assert all(isinstance(created[k], str) and created[k] for k in ("apiKey", "apiSecret", "appId"))
    with serving(cli) as base:
        assert balance_seen_by_the_api(base, created) == "12.500000"


def test_create_account_uses_the_given_key_and_a_duplicate_key_exits_2(
    db_url: str, tmp_path: Path
) -> None:
    cli = Cli.fresh(db_url, tmp_path / "var")
    given = ("--api-key", "partnerKey01", "--api-secret", "partner-secret-01")
    first = cli.invoke("admin", "create-account", "--name", "partner", *given, "--json")
    again = cli.invoke("admin", "create-account", "--name", "copy", *given, "--json", check=False)
    half = cli.invoke(
        "admin", "create-account", "--name", "x", "--api-key", "lonelyKey1", check=False
    )
    created = json.loads(first.stdout)
    assert (created["apiKey"], created["apiSecret"]) == ("partnerKey01", "partner-secret-01")
    assert again.returncode == USAGE_ERROR
    assert again.stdout == ""  # no half-made JSON for a script to misread
    assert "apiKey partnerKey01 already exists" in again.stderr
    assert half.returncode == USAGE_ERROR and "--api-secret" in half.stderr + half.stdout


@SQLITE_ONLY
def test_set_push_url_refuses_a_non_http_url_and_an_unknown_app_with_exit_2(
    db_url: str, tmp_path: Path
) -> None:
    cli = Cli.fresh(db_url, tmp_path / "var")
    app_id = str(account(cli)["appId"])
    push = ("admin", "set-push-url", "--app-id")
    bad_url = cli.invoke(*push, app_id, "--url", "ftp://x", check=False)
    no_app = cli.invoke(*push, "nope", "--url", "http://127.0.0.1:9/p", check=False)
    good = cli.invoke(*push, app_id, "--url", "https://hooks.example/v", "--batch")
    stopped = cli.invoke(*push, app_id, "--url", "")
    assert bad_url.returncode == USAGE_ERROR
    assert "url: must start with http:// or https://" in bad_url.stderr
    assert no_app.returncode == USAGE_ERROR and "appId nope does not exist" in no_app.stderr
    assert good.returncode == 0 and stopped.returncode == 0


@SQLITE_ONLY
def test_set_ip_whitelist_refuses_a_bad_cidr_and_a_whitelist_outside_loopback_answers_minus_2(
    db_url: str, tmp_path: Path
) -> None:
    cli = Cli.fresh(db_url, tmp_path / "var")
    created = account(cli)
    account_id = str(created["accountId"])
    whitelist = ("admin", "set-ip-whitelist", "--account-id")
    bad = cli.invoke(*whitelist, account_id, "--ips", "10.0.0.0/33", check=False)
    no_account = cli.invoke(*whitelist, "999999", "--ips", "", check=False)
    assert bad.returncode == USAGE_ERROR and "'10.0.0.0/33' is not an IP or CIDR" in bad.stderr
    assert no_account.returncode == USAGE_ERROR and "does not exist" in no_account.stderr
    with serving(cli) as base:
        key, secret = str(created["apiKey"]), str(created["apiSecret"])

        def code_once_settled(expected: str) -> str:
            """The answer after a change made by another process: the server's verified-key
            cache sees it within its TTL (2 s, docs/security.md), never later."""
            deadline = time.monotonic() + 2.0 + 1.5
            with VoxcastClient(base, key, secret) as vc:
                code = vc.get_balance().code
                while code != expected and time.monotonic() < deadline:
                    time.sleep(0.1)
                    code = vc.get_balance().code
            return code

        # changed by another process than the server's: this one
        cli.invoke(*whitelist, account_id, "--ips", "203.0.113.0/24")
        outside = code_once_settled("-2")
        cli.invoke(*whitelist, account_id, "--ips", "203.0.113.7,127.0.0.1")
        listed = code_once_settled("0")
        cli.invoke(*whitelist, account_id, "--ips", "")
        anyone = code_once_settled("0")
    assert (outside, listed, anyone) == ("-2", "0", "0")


def test_set_balance_sets_then_adjusts_and_a_signed_request_sees_the_result(
    db_url: str, tmp_path: Path
) -> None:
    cli = Cli.fresh(db_url, tmp_path / "var")
    created = account(cli, balance="100")
    account_id = str(created["accountId"])

    def set_balance(amount: str) -> subprocess.CompletedProcess[str]:
        return cli.invoke(
            "admin", "set-balance", "--account-id", account_id, "--amount", amount, check=False
        )

    absolute = set_balance("5")
    plus = set_balance("+2.5")
    minus = set_balance("-1")
    not_money = set_balance("lots")
    no_account = cli.invoke(
        "admin", "set-balance", "--account-id", "999999", "--amount", "1", check=False
    )
    assert "balance 5.000000" in absolute.stdout
    assert "balance 7.500000" in plus.stdout
    assert "balance 6.500000" in minus.stdout
    assert not_money.returncode == USAGE_ERROR and "'lots' is not an amount" in not_money.stderr
    assert no_account.returncode == USAGE_ERROR and "does not exist" in no_account.stderr
    assert balance_seen_in_process(cli, created) == "6.500000"


def test_serve_demo_prints_the_demo_credentials_and_keeps_the_same_account_after_a_restart(
    db_url: str, tmp_path: Path
) -> None:
    # the `make run` contract: the quick start's credentials work on every start, and a
    # restart finds the demo account (and what was done with it) instead of making another
    cli = Cli.fresh(db_url, tmp_path / "var")
    content = audio_b64("wav", 0.5)
    printed: list[dict[str, str]] = []
    answers = []
    for _ in range(2):
        with serving(cli, "--demo") as base:
            port = base.rsplit(":", 1)[1]
            log = (tmp_path / "var" / f"serve-{port}.log").read_text()
            printed.append(demo_panel(log))
            with VoxcastClient(base, "voxdemo1", "voxdemo-secret-0000") as vc:
                answers.append((vc.get_balance(), vc.upload_file("demo.wav", content)))
    assert (
        printed[0]
        == printed[1]
        == {
            "Api-Key": "voxdemo1",
            "Api-Secret": "voxdemo-secret-0000",
            "appId": "demoApp1",
        }
    )
    (balance1, upload1), (balance2, upload2) = answers
    assert balance1.raw["balance"] == balance2.raw["balance"] == "100.000000"
    assert upload1.ok, upload1
    assert upload2.code == "-20"  # the first run's file: the same account


def demo_panel(log: str) -> dict[str, str]:
    """The three credentials from the panel `serve --demo` prints."""
    found = {}
    for label in ("Api-Key", "Api-Secret", "appId"):
        match = re.search(rf"{label}\s+(\S+)", log)
        assert match, log
        found[label] = match.group(1)
    return found


@SQLITE_ONLY
def test_admin_and_serve_share_the_secret_key_file_of_the_data_directory(
    db_url: str, tmp_path: Path
) -> None:
    # no VOXCAST_SECRET_KEY: the key is made once in <data dir>/secret.key (0600) and every
    # process with that data directory decrypts the stored secrets with it
    cli = Cli(db_url, tmp_path / "var", secret_key="")
    created = cli.create_account(balance="3")
    key_file = tmp_path / "var" / "secret.key"
    mode = stat.S_IMODE(key_file.stat().st_mode)
    key = key_file.read_text().strip()
    Fernet(key)  # a valid Fernet key
    assert mode == 0o600
    with serving(cli) as base:
        assert balance_seen_by_the_api(base, created) == "3.000000"
    assert key_file.read_text().strip() == key


def test_production_refuses_to_run_without_an_explicit_secret_key(tmp_path: Path) -> None:
    env = dict(os.environ, VOXCAST_ENV="production", VOXCAST_SECRET_KEY="")
    env["VOXCAST_DATA_DIR"] = str(tmp_path / "var")
    database = f"sqlite:///{tmp_path / 'prod.db'}"
    proc = subprocess.run(
        [VOXCAST, "admin", "create-account", "--name", "x", "--database-url", database],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0
    assert "VOXCAST_ENV=production requires VOXCAST_SECRET_KEY" in proc.stderr
    assert not (tmp_path / "var" / "secret.key").exists()  # nothing generated silently


def test_gen_secret_key_prints_a_new_fernet_key_each_time(tmp_path: Path) -> None:
    cli = Cli.fresh(f"sqlite:///{tmp_path / 'unused.db'}", tmp_path / "var")
    keys = [cli.invoke("admin", "gen-secret-key").stdout for _ in range(2)]
    assert all(k.endswith("\n") and len(k.splitlines()) == 1 for k in keys)
    assert keys[0] != keys[1]
    for k in keys:
        Fernet(k.strip())


def test_python_dash_m_voxcast_is_the_same_command() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "voxcast", "--help"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    for command in ("serve", "worker", "admin", "tasks"):
        assert command in proc.stdout


@SQLITE_ONLY
def test_a_server_with_another_secret_key_answers_minus_18_and_logs_why(
    db_url: str, tmp_path: Path
) -> None:
    # the documented failure when admin commands and the server do not share the key
    created = account(Cli.fresh(db_url, tmp_path / "var"))
    other_key = Cli.fresh(db_url, tmp_path / "var")
    with serving(other_key) as base:
        with VoxcastClient(base, str(created["apiKey"]), str(created["apiSecret"])) as vc:
            env = vc.get_balance()
        port = base.rsplit(":", 1)[1]
    log = (tmp_path / "var" / f"serve-{port}.log").read_text()
    assert env.code == "-18" and "incident" in env.reason
    assert "a stored secret cannot be decrypted: the server key changed" in log


async def stored_secrets(cli: Cli, trunk_names: list[str], app_id: str) -> dict[str, str | None]:
    """The trunks' passwords and the app's push secret, decrypted as a server would."""
    settings = Settings(
        database_url=cli.database_url, data_dir=cli.data_dir, secret_key=cli.secret_key
    )
    rt = await open_runtime(settings, SystemClock())
    try:
        async with rt.sessions() as session:
            out = {
                n: (await trunks.get_config(session, rt.secrets, n)).password for n in trunk_names
            }
            app = await session.get(App, app_id)
            assert app is not None and app.push_secret_enc is not None
            out["push"] = rt.secrets.open(app.push_secret_enc)
    finally:
        await rt.close()
    return out


async def invoke(
    cli: Cli, *args: str, stdin: str = "", check: bool = True
) -> subprocess.CompletedProcess[str]:
    """`cli.invoke` from an async test: in a thread, as it runs an event loop of its own."""
    return await asyncio.to_thread(lambda: cli.invoke(*args, stdin=stdin, check=check))


@SQLITE_ONLY
async def test_secrets_can_come_from_standard_input_or_a_file_instead_of_the_arguments(
    db_url: str, tmp_path: Path
) -> None:
    cli = Cli.fresh(db_url, tmp_path / "var")
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text("from a file\n")
    create = ("admin", "create-account", "--json", "--name")
    piped = await invoke(
        cli, *create, "acme", "--api-key", "stdinKey01", "--api-secret", "-",
        stdin="piped-secret-01\n",
    )  # fmt: skip
    filed = await invoke(
        cli, *create, "beta", "--api-key", "fileKey001", "--api-secret-file", str(secret_file)
    )
    created, from_file = json.loads(piped.stdout), json.loads(filed.stdout)
    trunk = ("admin", "trunk", "add", "--host", "127.0.0.1", "--username", "u")
    await invoke(cli, *trunk, "--name", "piped", "--password", "-", stdin="pa ss\r\n")
    await invoke(cli, *trunk, "--name", "filed", "--password-file", str(secret_file))
    app_id = str(created["appId"])
    await invoke(
        cli,
        "admin",
        "set-push-url",
        "--app-id",
        app_id,
        "--url",
        "https://hooks.example/v",
        "--secret",
        "-",
        stdin="hmac-key",
    )
    assert (created["apiSecret"], from_file["apiSecret"]) == ("piped-secret-01", "from a file")
    assert await stored_secrets(cli, ["piped", "filed"], app_id) == {
        "piped": "pa ss",
        "filed": "from a file",
        "push": "hmac-key",
    }
    assert await asyncio.to_thread(balance_seen_in_process, cli, created) == "0.000000"


@SQLITE_ONLY
def test_a_secret_given_twice_empty_or_unreadable_exits_2(db_url: str, tmp_path: Path) -> None:
    cli = Cli.fresh(db_url, tmp_path / "var")
    cli.extra_env["COLUMNS"] = "400"  # one reason, one line of the error box
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text("x\n")
    trunk = ("admin", "trunk", "add", "--name", "t", "--host", "127.0.0.1", "--username", "u")
    both = cli.invoke(*trunk, "--password", "pw", "--password-file", str(secret_file), check=False)
    empty = cli.invoke(*trunk, "--password", "-", stdin="\n", check=False)
    missing = cli.invoke(*trunk, "--password-file", str(tmp_path / "nope"), check=False)
    two_lines = cli.invoke(*trunk, "--password", "-", stdin="a\nb\n", check=False)
    assert [p.returncode for p in (both, empty, missing, two_lines)] == [USAGE_ERROR] * 4
    assert "give --password or --password-file, not both" in both.stderr
    assert "--password - (standard input) is empty" in empty.stderr
    assert f"--password-file {tmp_path / 'nope'}: No such file or directory" in missing.stderr
    assert "holds more than one line" in two_lines.stderr


def test_help_of_secret_options_names_standard_input_and_the_file_option(tmp_path: Path) -> None:
    cli = Cli.fresh(f"sqlite:///{tmp_path / 'unused.db'}", tmp_path / "var")
    cli.extra_env["COLUMNS"] = "400"  # each option's help on one line
    for command, option in (
        (("admin", "trunk", "add"), "--password"),
        (("admin", "create-account"), "--api-secret"),
        (("admin", "set-push-url"), "--secret"),
    ):
        out = cli.invoke(*command, "--help").stdout
        assert f"'{option} -' reads it from standard input" in out, out
        assert f"{option}-file" in out, out


async def new_group(cli: Cli, account_id: int, app_id: str) -> int:
    settings = Settings(
        database_url=cli.database_url, data_dir=cli.data_dir, secret_key=cli.secret_key
    )
    rt = await open_runtime(settings, SystemClock())
    try:
        async with rt.sessions.begin() as session:
            group = await agents.add_group(session, account_id, app_id, "inbound", rt.clock.now())
            return group.id
    finally:
        await rt.close()


@SQLITE_ONLY
async def test_number_add_list_remove_and_their_errors(db_url: str, tmp_path: Path) -> None:
    cli = Cli.fresh(db_url, tmp_path / "var")
    created = await asyncio.to_thread(account, cli)
    app_id = str(created["appId"])
    group_id = await new_group(cli, int(str(created["accountId"])), app_id)
    added = await invoke(
        cli, "admin", "number", "add", "--number", "4001", "--group", str(group_id)
    )
    assert added.stdout.strip() == f"number 4001 rings agent group {group_id} (app {app_id})"
    taken = await invoke(
        cli, "admin", "number", "add", "--number", "4001", "--group", str(group_id), check=False
    )
    no_group = await invoke(
        cli, "admin", "number", "add", "--number", "4002", "--group", "999", check=False
    )
    not_a_number = await invoke(
        cli, "admin", "number", "add", "--number", "40x1", "--group", str(group_id), check=False
    )
    listed = await invoke(cli, "admin", "number", "list")
    removed = await invoke(cli, "admin", "number", "remove", "--number", "4001")
    gone = await invoke(cli, "admin", "number", "remove", "--number", "4001", check=False)
    assert taken.returncode == USAGE_ERROR and "4001 already rings" in taken.stderr
    assert no_group.returncode == USAGE_ERROR and "--group: agent group 999" in no_group.stderr
    assert not_a_number.returncode == USAGE_ERROR and "is not a number" in not_a_number.stderr
    assert "4001" in listed.stdout and "inbound" in listed.stdout and app_id in listed.stdout
    assert removed.stdout.strip() == "number 4001 removed"
    assert gone.returncode == USAGE_ERROR and "4001 is not an inbound number" in gone.stderr
