"""Several nodes on one PostgreSQL, as real `voxcast` processes: proportional dialing's
allowance (calloutRate x free agents) holds for two workers together, counted from the call
records; a recording made by one node downloads through another node's API."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import subprocess
import time
import wave
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import numpy as np
import pytest
from sqlalchemy import func, select, update

from tests.conftest import PostgresFactory
from tests.helpers import signed_headers
from tests.integration.dialing import insert_task
from tests.integration.server import PORT_ATTEMPTS, VOXCAST, _wait_healthy, free_port
from tests.integration.worker_procs import Workers, read_log, stop_all, wait_for, workers_on
from voxcast.domain.enums import CalleeState, TaskStatus
from voxcast.runtime import Runtime
from voxcast.services import accounts, agents, rates, recordings, scripts
from voxcast.storage.models import (
    Account,
    Callee,
    CallRecord,
    CcRecord,
    StoredRecording,
    Task,
)

pytestmark = pytest.mark.timeout(240)

SPEED = 10.0
AGENTS = 2
CALLOUT_RATE = 2
NUMBERS = 16


async def _call_center(rt: Runtime) -> tuple[accounts.Credentials, int]:
    """An account free of channel and pace limits, with AGENTS virtual agents who take calls
    back to back; callees wait for them as long as it takes (no abandons lower the ratio)."""
    now = rt.clock.now()
    async with rt.sessions.begin() as session:
        creds = await accounts.create_account(
            session, rt.secrets, now, name="cluster", balance=Decimal(1000)
        )
        await rates.set_rate(session, creds.account_id, "", Decimal("0.01"))
        await session.execute(
            update(Account)
            .where(Account.id == creds.account_id)
            .values(max_cps=100, max_channels=100)
        )
        group = await agents.add_group(session, creds.account_id, creds.app_id, "desk", now)
        await agents.set_basic(session, creds.account_id, group.id, {"timeoutWaitSec": 600})
        await agents.add_agents(
            session, rt.secrets, creds.account_id, group.id, AGENTS, None, None, now
        )
    return creds, group.id


def _peak(spans: list[tuple[datetime, datetime]]) -> int:
    """Most spans open at one instant (a span ending as another starts does not overlap)."""
    edges = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans],
                   key=lambda e: (e[0], e[1]))  # fmt: skip
    peak = open_now = 0
    for _at, step in edges:
        open_now += step
        peak = max(peak, open_now)
    return peak


async def test_two_workers_together_keep_to_callout_rate_times_free_agents(
    pg_factory: PostgresFactory | None, tmp_path: Path
) -> None:
    assert pg_factory is not None  # conftest leaves this file out when PostgreSQL is off
    url = await pg_factory.new_database()
    workers, rt = await workers_on(url, tmp_path, SPEED)
    procs: list[subprocess.Popen[bytes]] = []
    log = tmp_path / "workers.log"
    try:
        creds, group_id = await _call_center(rt)
        procs = [workers.start(log, level="info") for _ in range(2)]

        # both dial from the campaign's first tick: a per-worker count lets each fill the
        # allowance on its own
        async def both_started() -> bool:
            return read_log(log).count("started (dialer") == 2

        await wait_for("both workers started", both_started, log, 60)
        numbers = [f"861300000{i:03d}0" for i in range(NUMBERS)]  # all answer
        params = {"toSeat": 1, "sipGroupId": group_id, "toSeatType": 1, "outboundControl": 1,
                  "calloutRate": CALLOUT_RATE}  # fmt: skip
        task_id = await insert_task(
            rt, creds.account_id, creds.app_id, numbers, text="Hi.", params=params
        )

        # which worker placed each call (its lease names its pid while the call runs)
        placed_by: dict[str, str] = {}
        deadline = time.monotonic() + 150
        while True:
            async with rt.sessions() as session:
                status = await session.scalar(select(Task.status).where(Task.id == task_id))
                rows = await session.execute(
                    select(Callee.callee, Callee.lease_owner).where(
                        Callee.task_id == task_id, Callee.state == CalleeState.DIALING
                    )
                )
            for callee, owner in rows:
                placed_by.setdefault(callee, owner.split(":")[1])
            if status == TaskStatus.FINISHED:
                break
            assert time.monotonic() < deadline, read_log(log)[-3000:]
            await asyncio.sleep(0.05)

        async with rt.sessions() as session:
            recs = list(
                (await session.scalars(select(CcRecord).where(CcRecord.task_id == task_id))).all()
            )
    finally:
        stop_all(procs)
        await rt.close()
        await pg_factory.drop(url)

    assert len(recs) == NUMBERS
    assert all(r.agent_answer_time is not None and not r.abandoned for r in recs)
    # a call waits from its dial until an agent answers it
    waiting = [(r.call_start_time, r.agent_answer_time) for r in recs if r.agent_answer_time]
    assert _peak(waiting) == CALLOUT_RATE * AGENTS
    pids = {str(p.pid) for p in procs}
    assert set(placed_by.values()) == pids, "one worker placed every call: nothing was shared"


# -- recordings ----------------------------------------------------------------------------------
#: slow enough that the robot's recognizer keeps up on a loaded machine
ROBOT_SPEED = 4.0


@contextlib.contextmanager
def _api_node(workers: Workers, data_dir: Path) -> Iterator[str]:
    """`voxcast serve` answering the API only (it dials nothing) on its own data dir; yields
    its base URL once /healthz answers."""
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {**workers.env, "VOXCAST_DATA_DIR": str(data_dir)}
    for attempt in range(PORT_ATTEMPTS):
        port = free_port()
        log = data_dir / f"serve-{port}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [VOXCAST, "serve", "--port", str(port), "--dialer", "none",
                 "--sandbox-speed", str(workers.speed), "--log-level", "warning"],
                env=env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"
            if _wait_healthy(base, proc, log, last=attempt == PORT_ATTEMPTS - 1):
                yield base
                return
        finally:
            stop_all([proc])


def _wav(data: bytes) -> tuple[int, np.ndarray]:
    with wave.open(io.BytesIO(data)) as w:
        assert (w.getsampwidth(), w.getframerate()) == (2, 8000)
        channels = w.getnchannels()
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return channels, samples.reshape(-1, channels)


async def test_a_recording_made_on_one_node_downloads_from_another(
    pg_factory: PostgresFactory | None, tmp_path: Path
) -> None:
    assert pg_factory is not None
    url = await pg_factory.new_database()
    workers, rt = await workers_on(url, tmp_path, ROBOT_SPEED)
    dialing_dir, api_dir = tmp_path / "node-a", tmp_path / "node-b"
    log = tmp_path / "workers.log"
    procs: list[subprocess.Popen[bytes]] = []
    try:
        now = rt.clock.now()
        async with rt.sessions.begin() as session:
            creds = await accounts.create_account(
                session, rt.secrets, now, name="rec", balance=Decimal(100)
            )
            await rates.set_rate(session, creds.account_id, "", Decimal("0.02"))
            script = await scripts.add_script(
                session, creds.account_id, scripts.example_document(), now
            )
        procs = [workers.start(log, VOXCAST_DATA_DIR=str(dialing_dir))]
        with _api_node(workers, api_dir) as base:
            async with httpx.AsyncClient(base_url=base, timeout=30) as http:
                body = {"appId": creds.app_id, "taskName": "recorded", "scriptId": script.id,
                        "enableRecording": 1, "maxCalls": 300,
                        "numberInfoList": [{"calleeNumber": "8613000000010"}]}  # fmt: skip
                ts = int(rt.clock.now().timestamp())
                sent = await http.post(
                    "/v3/voice/group/call/send/ai",
                    content=json.dumps(body),
                    headers=signed_headers(creds.api_key, creds.api_secret, ts),
                )
                assert sent.json()["code"] == "0", sent.json()

                async def recorded() -> bool:
                    async with rt.sessions() as session:
                        return bool(await session.scalar(select(func.count(CallRecord.voice_id))))

                await wait_for("the recorded call's record", recorded, log, 120)
                async with rt.sessions() as session:
                    rec = await session.scalar(select(CallRecord))
                    kept = dict(
                        (
                            await session.execute(
                                select(StoredRecording.name, func.length(StoredRecording.audio))
                            )
                        ).all()
                    )
                assert rec is not None and rec.recording_full and rec.recording_customer
                links = recordings.links(rt.settings, rt.secrets, rt.wall.now())
                full_url, customer_url = (
                    urlsplit(links.url(name) or "")
                    for name in (rec.recording_full, rec.recording_customer)
                )
                full = await http.get(f"{full_url.path}?{full_url.query}")
                customer = await http.get(f"{customer_url.path}?{customer_url.query}")
    finally:
        stop_all(procs)
        await rt.close()
        await pg_factory.drop(url)

    # made on node a, which kept no copy once the database had it; node b never had one
    made = recordings.folder(dialing_dir)
    assert made.is_dir() and sorted(p.name for p in made.iterdir()) == []
    assert not recordings.folder(api_dir).exists()
    assert (full.status_code, customer.status_code) == (200, 200), (full.text, customer.text)
    assert full.headers["content-type"] == "audio/wav"
    assert rec.answer_time is not None and rec.hangup_time is not None
    talk_s = (rec.hangup_time - rec.answer_time).total_seconds()
    channels, both = _wav(full.content)
    mono, heard = _wav(customer.content)
    assert (channels, mono) == (2, 1)
    for samples in (both, heard):
        assert abs(len(samples) / 8000 - talk_s) < 0.3, (len(samples) / 8000, talk_s)
    assert np.array_equal(both[:, 1], heard[:, 0])  # the stereo file's right side: the callee
    robot_rms = float(np.sqrt(np.mean(both[:, 0].astype(np.float64) ** 2)))
    assert robot_rms > 300, robot_rms  # the robot's greeting is in it, not silence
    # stored packed: at most half the WAV each
    assert set(kept) == {rec.recording_full, rec.recording_customer}
    assert kept[rec.recording_full] * 2 <= len(full.content)
    assert kept[rec.recording_customer] * 2 <= len(customer.content)
