"""The newcomer's path outside the browser (docs/cli.md): `--version`, `tasks list/show`,
`records`, `pushes list/retry`, `apps show`, the refusal to start a new data directory by
accident, and `serve` on an address it cannot listen on. What a command answers runs in
process (`Cli.invoke`); what is about the process (its working directory, a busy port) runs
the real command."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import socket
import subprocess
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from importlib.metadata import version
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from tests.integration.dialing import insert_task
from tests.integration.server import VOXCAST, Cli
from voxcast.clock import SystemClock
from voxcast.config import Settings
from voxcast.domain.enums import CalleeState, RecordType, TaskKind
from voxcast.runtime import Runtime, open_runtime
from voxcast.services.records import record_to_query_json
from voxcast.storage.models import Callee, CallRecord, Push

REFUSED = 2
AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


async def runtime_of(cli: Cli) -> Runtime:
    settings = Settings(
        database_url=cli.database_url, data_dir=cli.data_dir, secret_key=cli.secret_key
    )
    return await open_runtime(settings, SystemClock())


async def new_account(cli: Cli) -> dict[str, Any]:
    out = await asyncio.to_thread(
        cli.invoke, "admin", "create-account", "--name", "acme", "--balance", "10", "--json"
    )
    created: dict[str, Any] = json.loads(out.stdout)
    return created


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    """The refusal: exit 2, one line on stderr and no traceback, nothing on stdout."""
    assert proc.returncode == REFUSED, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert proc.stdout == ""
    return lines[0]


def record(account_id: int, app_id: str, task_id: int, n: int) -> CallRecord:
    return CallRecord(
        voice_id=f"v{task_id:04d}{n:08d}",
        account_id=account_id,
        app_id=app_id,
        task_id=task_id,
        type=RecordType.GROUP_CALL,
        callee=f"86130{n:08d}",
        display_num="1008122211",
        code="China",
        submit_time=AT + timedelta(seconds=n),
        call_time=AT + timedelta(seconds=n + 1),
        answer_time=AT + timedelta(seconds=n + 3) if n % 2 == 0 else None,
        hangup_time=AT + timedelta(seconds=n + 9),
        call_duration=6 if n % 2 == 0 else 0,
        ring_duration=2,
        charged_duration=60 if n % 2 == 0 else 0,
        bill_period="60+60",
        rate=Decimal("0.02"),
        base_cost=Decimal("0.02"),
        cost=Decimal("0.02") if n % 2 == 0 else Decimal(0),
        termination_code="200" if n % 2 == 0 else "486",
        termination_reason="success" if n % 2 == 0 else "busy",
        sip_code="200" if n % 2 == 0 else "486",
        feedback_value="1" if n % 2 == 0 else "-1",
        called_info=None,
        voice_file_id=None,
        out_recall_count=0,
    )


def test_version_prints_the_installed_package_version(tmp_path: Path) -> None:
    cli = Cli.fresh("", tmp_path / "var")
    out = cli.invoke("--version")
    assert out.stdout.strip() == f"voxcast {version('voxcast')}"
    assert not (tmp_path / "var").exists()


async def test_tasks_list_newest_first_and_show_with_settings_and_counts(
    db_url: str, tmp_path: Path
) -> None:
    cli = Cli.fresh(db_url, tmp_path / "var")
    acct = await new_account(cli)
    rt = await runtime_of(cli)
    try:
        first = await insert_task(
            rt, acct["accountId"], acct["appId"], ["8613000000001"], task_name="first"
        )
        second = await insert_task(
            rt,
            acct["accountId"],
            acct["appId"],
            ["8613000000001", "8613000000002", "8613000000003"],
            task_name="second",
            kind=TaskKind.AI,
            params={"recall": {"times": 1}},
        )
        async with rt.sessions.begin() as session:
            await session.execute(
                update(Callee)
                .where(Callee.task_id == second, Callee.seq <= 2)
                .values(state=CalleeState.DONE, success=(Callee.seq == 1))
            )
    finally:
        await rt.close()

    out = await asyncio.to_thread(
        cli.invoke, "tasks", "list", "--account-id", str(acct["accountId"]), "--json"
    )
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["taskId"] for r in rows] == [second, first]
    assert rows[0] | {"created": None} == {
        "taskId": second,
        "kind": "ai",
        "name": "second",
        "status": "waiting",
        "numbers": 3,
        "called": 2,
        "answered": 1,
        "failed": 1,
        "dialing": 0,
        "pending": 1,
        "created": None,
    }
    table = await asyncio.to_thread(
        cli.invoke, "tasks", "list", "--account-id", str(acct["accountId"])
    )
    assert "second" in table.stdout and "first" in table.stdout

    shown = await asyncio.to_thread(cli.invoke, "tasks", "show", str(second), "--json")
    detail = json.loads(shown.stdout)
    assert detail["accountId"] == acct["accountId"] and detail["appId"] == acct["appId"]
    assert detail["settings"]["recall"] == {"times": 1}
    assert detail["settings"]["maxRingingTime"] == 30
    assert (detail["numbers"], detail["answered"], detail["pending"]) == (3, 1, 1)
    text = await asyncio.to_thread(cli.invoke, "tasks", "show", str(second))
    assert "maxRingingTime" in text.stdout and "recall" in text.stdout

    missing = await asyncio.to_thread(cli.invoke, "tasks", "show", "999", check=False)
    assert one_line_error(missing) == "voxcast: task 999 does not exist"
    nobody = await asyncio.to_thread(
        cli.invoke, "tasks", "list", "--account-id", "999", check=False
    )
    assert "account 999 does not exist" in one_line_error(nobody)


async def test_records_print_a_table_or_every_record_as_csv_with_the_query_columns(
    db_url: str, tmp_path: Path
) -> None:
    cli = Cli.fresh(db_url, tmp_path / "var")
    acct = await new_account(cli)
    count = 2345  # more than two of the pages the records are read in
    rt = await runtime_of(cli)
    try:
        task_id = await insert_task(rt, acct["accountId"], acct["appId"], ["8613000000001"])
        other = await insert_task(rt, acct["accountId"], acct["appId"], ["8613000000001"])
        rows = [record(acct["accountId"], acct["appId"], task_id, n) for n in range(count)]
        rows.append(record(acct["accountId"], acct["appId"], other, 0))
        async with rt.sessions.begin() as session:
            session.add_all(rows)
        async with rt.sessions() as session:
            newest = await session.scalar(
                select(CallRecord).where(CallRecord.voice_id == rows[count - 1].voice_id)
            )
            assert newest is not None
            expected = record_to_query_json(newest)
    finally:
        await rt.close()

    out = await asyncio.to_thread(cli.invoke, "records", str(task_id), "--csv")
    got = list(csv.DictReader(io.StringIO(out.stdout)))
    assert len(got) == count
    assert list(got[0]) == list(expected)  # the vendor's record query, field for field
    assert got[0] == {k: "" if v is None else str(v) for k, v in expected.items()}
    assert len({r["voiceId"] for r in got}) == count  # no page read twice

    table = await asyncio.to_thread(cli.invoke, "records", str(task_id))
    lines = table.stdout.splitlines()
    assert lines[0].split()[:4] == ["voiceId", "callee", "sip", "reason"]
    assert len(lines) == count + 1
    assert lines[1].split()[:4] == [
        expected["voiceId"],
        expected["callee"],
        expected["sipCode"],
        expected["terminationReason"],
    ]

    missing = await asyncio.to_thread(cli.invoke, "records", "999", "--csv", check=False)
    assert one_line_error(missing) == "voxcast: task 999 does not exist"


async def test_pushes_list_failed_and_dead_retry_makes_them_due_and_apps_show(
    db_url: str, tmp_path: Path
) -> None:
    cli = Cli.fresh(db_url, tmp_path / "var")
    acct = await new_account(cli)
    app = acct["appId"]
    await asyncio.to_thread(
        cli.invoke,
        "admin",
        "set-push-url",
        "--app-id",
        app,
        "--url",
        "http://127.0.0.1:9/p",
        "--secret",
        "s3cret",
    )
    later = datetime.now(UTC) + timedelta(hours=1)

    def push(key: str, state: int, attempts: int, error: str) -> Push:
        return Push(
            account_id=acct["accountId"],
            app_id=app,
            kind="voice_report",
            dedupe_key=key,
            payload={"voiceId": key},
            state=state,
            attempts=attempts,
            next_attempt_at=later,
            last_error=error,
            created_at=AT,
        )

    rt = await runtime_of(cli)
    try:
        async with rt.sessions.begin() as session:
            rows = [
                push("dead1", 2, 3, "HTTP 500"),
                push("failing", 0, 1, "ConnectError: refused"),
                push("delivered", 1, 1, ""),
                push("fresh", 0, 0, ""),
                push("dead2", 2, 3, "no push URL"),
            ]
            session.add_all(rows)
            await session.flush()
            ids = {r.dedupe_key: r.id for r in rows}
    finally:
        await rt.close()

    async def listed(*args: str) -> list[dict[str, Any]]:
        out = await asyncio.to_thread(cli.invoke, "pushes", "list", "--json", *args)
        return [json.loads(line) for line in out.stdout.splitlines()]

    every = await listed()
    assert [p["key"] for p in every] == ["dead2", "failing", "dead1"]
    assert every[2]["lastError"] == "HTTP 500" and every[2]["state"] == "dead"
    assert [p["key"] for p in await listed("--state", "dead")] == ["dead2", "dead1"]
    assert [p["key"] for p in await listed("--state", "failed")] == ["failing"]
    assert await listed("--account-id", str(acct["accountId"] + 1)) == []
    table = await asyncio.to_thread(cli.invoke, "pushes", "list")
    assert "HTTP 500" in table.stdout

    shown = await asyncio.to_thread(cli.invoke, "apps", "show", app, "--json")
    assert json.loads(shown.stdout) == {
        "appId": app,
        "accountId": acct["accountId"],
        "name": json.loads(shown.stdout)["name"],
        "pushUrl": "http://127.0.0.1:9/p",
        "batch": False,
        "signed": True,
        "ccPushUrl": None,
        "ringPushUrl": None,
        "terminationCode": "sip",
        "pushesWaiting": 2,
        "pushesDelivered": 1,
        "pushesDead": 2,
    }
    assert "s3cret" not in (await asyncio.to_thread(cli.invoke, "apps", "show", app)).stdout

    before = datetime.now(UTC)
    one = await asyncio.to_thread(cli.invoke, "pushes", "retry", str(ids["failing"]))
    assert one.stdout.strip() == f"1 push(es) due now: {ids['failing']}"
    dead = await asyncio.to_thread(cli.invoke, "pushes", "retry", "--all-dead")
    assert dead.stdout.startswith("2 push(es) due now")
    rt = await runtime_of(cli)
    try:
        async with rt.sessions() as session:
            got = {p.dedupe_key: p for p in (await session.scalars(select(Push))).all()}
    finally:
        await rt.close()
    for key in ("failing", "dead1", "dead2"):
        assert (got[key].state, got[key].attempts) == (0, 0), key
        assert before - timedelta(seconds=1) <= got[key].next_attempt_at <= datetime.now(UTC)
    assert got["fresh"].next_attempt_at == later and got["delivered"].state == 1
    assert await listed("--state", "dead") == []

    delivered = await asyncio.to_thread(
        cli.invoke, "pushes", "retry", str(ids["delivered"]), check=False
    )
    assert "was delivered already" in one_line_error(delivered)
    unknown = await asyncio.to_thread(cli.invoke, "pushes", "retry", "99999", check=False)
    assert "push 99999 does not exist" in one_line_error(unknown)
    neither = await asyncio.to_thread(cli.invoke, "pushes", "retry", check=False)
    assert "--all-dead" in one_line_error(neither)
    no_app = await asyncio.to_thread(cli.invoke, "apps", "show", "nope", check=False)
    assert "appId nope does not exist" in one_line_error(no_app)


def test_a_command_run_from_another_directory_is_refused_instead_of_starting_a_new_database(
    tmp_path: Path,
) -> None:
    """The trap: from another directory, ./var does not exist; the command used to make an
    empty database and a new secret.key there and answer "task 1 does not exist"."""
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOXCAST_")}
    setup = subprocess.run(
        [VOXCAST, "admin", "create-account", "--name", "acme", "--json"],
        cwd=project.parent,
        env={**env, "VOXCAST_DATA_DIR": str(project / "var")},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    account_id = json.loads(setup.stdout)["accountId"]

    lost = subprocess.run(
        [VOXCAST, "tasks", "watch", "1", "--once"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    line = one_line_error(lost)
    assert str(elsewhere / "var") in line and "--data-dir" in line, line
    assert "VOXCAST_DATA_DIR" in line
    assert list(elsewhere.iterdir()) == []  # no database, no key, not even ./var

    found = subprocess.run(
        [
            VOXCAST,
            "--data-dir",
            str(project / "var"),
            "tasks",
            "list",
            "--account-id",
            str(account_id),
            "--json",
        ],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (found.returncode, found.stdout, found.stderr) == (0, "", "")
    assert list(elsewhere.iterdir()) == []


def test_the_key_alone_missing_is_refused_too(tmp_path: Path) -> None:
    """A database given by URL but a data directory without the key that sealed its secrets."""
    cli = Cli.fresh("", tmp_path / "var")
    cli.invoke("admin", "create-account", "--name", "acme")
    (tmp_path / "var" / "secret.key").write_text(cli.secret_key + "\n")
    keyless = Cli(f"sqlite:///{tmp_path / 'var' / 'voxcast.db'}", tmp_path / "other", "")
    line = one_line_error(keyless.invoke("pushes", "list", check=False))
    assert f"secret key {tmp_path / 'other' / 'secret.key'} not found" in line, line
    assert not (tmp_path / "other").exists()


def test_serve_refuses_a_port_out_of_range_in_one_line(tmp_path: Path) -> None:
    cli = Cli.fresh("", tmp_path / "var")
    for port in ("99999", "0", "-1"):
        line = one_line_error(cli.invoke("serve", "--port", port, check=False))
        assert line == f"voxcast: --port {port}: not a TCP port (1-65535)"
    assert not (tmp_path / "var").exists()


def test_serve_on_a_busy_port_exits_2_in_one_line_before_starting_anything(
    tmp_path: Path,
) -> None:
    data = tmp_path / "var"
    with socket.create_server(("127.0.0.1", 0)) as held:
        port = held.getsockname()[1]
        cli = Cli("", data, "")
        proc = subprocess.run(
            [VOXCAST, "serve", "--port", str(port), "--dialer", "process"],
            env=cli.env(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    line = one_line_error(proc)
    assert line.startswith(f"voxcast: cannot listen on 127.0.0.1:{port}: "), line
    assert "in use" in line
    # nothing was started: no database opened or created, no worker, no dialer
    assert not data.exists()
