"""A `voxcast worker` whose PostgreSQL refuses connections (at start-up, then again mid-run, cut
by a TCP proxy in front of the real server): one warning per retry and no traceback, and the
work resumes when the database is back, every callee dialed once with one record."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import subprocess
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, select

from tests import ports
from tests.conftest import PostgresFactory
from tests.integration.dialing import insert_task
from tests.integration.worker_procs import read_log, wait_for, workers_on
from voxcast.domain.enums import TaskStatus
from voxcast.services import accounts, rates
from voxcast.storage.models import Callee, CallRecord, Task

SPEED = 10.0


class Proxy:
    """A TCP relay on a fixed local port in front of PostgreSQL: `close` refuses new
    connections and cuts the open ones (as a server that went away), `open` listens again."""

    def __init__(self, port: int, target: tuple[str, int]) -> None:
        self.port = port
        self.target = target
        self.server: asyncio.Server | None = None
        self.links: set[asyncio.StreamWriter] = set()

    async def open(self) -> None:
        self.server = await asyncio.start_server(
            self._relay, "127.0.0.1", self.port, reuse_address=True
        )

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            for writer in list(self.links):
                writer.transport.abort()
            await self.server.wait_closed()
            self.server = None

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self.links |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.IncompleteReadError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        try:
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        finally:
            self.links -= {writer, up_writer}


async def test_worker_waits_out_a_refusing_database_in_one_line_per_retry(
    pg_factory: PostgresFactory | None, tmp_path: Path
) -> None:
    assert pg_factory is not None  # conftest leaves this file out when PostgreSQL is off
    direct = await pg_factory.new_database()
    host_port = direct.split("@", 1)[1].rsplit("/", 1)[0]
    host, pg_port = host_port.split(":")
    proxy = Proxy(ports.free_port(socket.SOCK_STREAM), (host, int(pg_port)))
    through = direct.replace(f"@{host_port}/", f"@127.0.0.1:{proxy.port}/")
    workers, rt = await workers_on(direct, tmp_path, SPEED, worker_url=through)
    log = tmp_path / "worker.log"
    proc = workers.start(log)
    try:
        # 1. nothing listens yet: the worker waits, one warning per attempt (1 s, then 2 s)
        async def retried_twice() -> bool:
            assert proc.poll() is None, "the worker died:\n" + read_log(log)[-3000:]
            return read_log(log).count("database unavailable") >= 2

        await wait_for("no retry warnings", retried_twice, log, 30)
        await proxy.open()

        async with rt.sessions.begin() as session:
            creds = await accounts.create_account(
                session, rt.secrets, rt.clock.now(), name="refused", balance=Decimal(100)
            )
            await rates.set_rate(session, creds.account_id, "", Decimal("0.01"))

        async def finished(task_id: int) -> bool:
            async with rt.sessions() as session:
                status = await session.scalar(select(Task.status).where(Task.id == task_id))
            return status == TaskStatus.FINISHED

        first = await insert_task(
            rt, creds.account_id, creds.app_id, [f"861300000{i}3" for i in range(5)]
        )
        await wait_for("first task", lambda: finished(first), log, 60)

        # 2. the server goes away mid-run (connections cut, new ones refused), then comes back
        await proxy.close()

        async def dialer_saw_it() -> bool:
            return "voxcast.dialer database unreachable" in read_log(log)

        await wait_for("no outage warning", dialer_saw_it, log, 30)
        second = await insert_task(
            rt, creds.account_id, creds.app_id, [f"861300001{i}3" for i in range(5)]
        )
        await proxy.open()
        await wait_for("second task", lambda: finished(second), log, 60)

        async with rt.sessions() as session:
            attempts = list(
                await session.scalars(
                    select(Callee.attempts).where(Callee.task_id.in_([first, second]))
                )
            )
            records = await session.scalar(
                select(func.count())
                .select_from(CallRecord)
                .where(CallRecord.task_id.in_([first, second]))
            )
        assert attempts == [1] * 10
        assert records == 10
        text = read_log(log)
        lines = text.splitlines()
        assert "Traceback" not in text, text[-3000:]
        assert [ln for ln in lines if " ERROR " in ln] == []
        waits = [ln for ln in lines if "database unavailable" in ln]
        assert all("ConnectionRefusedError" in ln for ln in waits), waits
        assert "retrying in 1 s" in waits[0] and "retrying in 2 s" in waits[1], waits
        assert any("voxcast.dialer database reachable again" in ln for ln in lines)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        await proxy.close()
        await rt.close()
        await pg_factory.drop(direct)
