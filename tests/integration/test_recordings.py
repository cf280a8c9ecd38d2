"""Recorded AI calls end to end on the sandbox: an AI group call with enableRecording=1 through
the HTTP app, the dialer and the robot, on SQLite and PostgreSQL; its status report links both
recordings, which download through the app as WAVs as long as the call's talk time, with the
callee's speech where the transcript's PERSON turns say and the robot's where its turns say.
A tampered or expired link is refused (403), a missing file is 404, and the worker's retention
sweep deletes old recordings only, on disk and in the database."""

from __future__ import annotations

import asyncio
import io
import json
import os
import time
import wave
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import numpy as np
import pytest
from sqlalchemy import select

from tests.helpers import signed_headers
from tests.integration.dialing import Rig, dialer_rig, wait_for
from tests.integration.receiver import Receiver
from tests.integration.test_robot_calls import START, deliver_until, signed_app
from voxcast.api.app import create_app
from voxcast.clock import SystemClock
from voxcast.config import Settings
from voxcast.runtime import open_runtime
from voxcast.services import recordings
from voxcast.storage.models import CallRecord, StoredRecording
from voxcast.telephony.sandbox import SandboxCarrier
from voxcast.worker import sweep_recordings

pytestmark = pytest.mark.timeout(240)

SPEED = 5.0


def _rms(pcm: np.ndarray, start_ms: int, end_ms: int) -> float:
    part = pcm[start_ms * 8 : end_ms * 8].astype(np.float64)
    return float(np.sqrt(np.mean(part**2))) if len(part) else 0.0


def _read(data: bytes) -> tuple[int, np.ndarray]:
    with wave.open(io.BytesIO(data)) as w:
        assert (w.getsampwidth(), w.getframerate()) == (2, 8000)
        channels = w.getnchannels()
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return channels, samples.reshape(-1, channels)


async def _send_recorded_call(rig: Rig, receiver: Receiver, http: httpx.AsyncClient) -> None:
    creds, script_id = await signed_app(rig, receiver)
    body = {
        "appId": creds.app_id,
        "taskName": "recorded reminders",
        "scriptId": script_id,
        "enableRecording": 1,
        "maxCalls": 300,
        # agrees, then promises to pay on Friday
        "numberInfoList": [{"calleeNumber": "8613000000010"}],
    }
    ts = int(rig.rt.clock.now().timestamp())
    resp = await http.post(
        "/v3/voice/group/call/send/ai",
        content=json.dumps(body),
        headers=signed_headers(creds.api_key, creds.api_secret, ts),
    )
    assert resp.json()["code"] == "0", resp.json()
    await deliver_until(rig, receiver, 1)


def _path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


async def test_a_recorded_ai_call_links_both_sides_by_signed_urls(settings: Settings) -> None:
    settings.public_url = "http://recordings.example:8000"
    sandbox = lambda clock: SandboxCarrier(clock, settings.data_dir)  # noqa: E731
    async with (
        Receiver() as receiver,
        dialer_rig(settings, speed=SPEED, start=START, carrier=sandbox) as rig,
    ):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(rig.rt)), base_url="http://voxcast.test"
        ) as http:
            await _send_recorded_call(rig, receiver, http)
            [report] = [r.json() for r in receiver.received]
            assert report["sipCode"] == "200", report
            full_url, customer_url = report["fullAudioUrl"], report["customerAudioUrl"]
            assert report["recordingFileId"] == full_url
            assert full_url.startswith("http://recordings.example:8000/recordings/")
            full = await http.get(_path(full_url))
            customer = await http.get(_path(customer_url))
            assert (full.status_code, customer.status_code) == (200, 200)
            assert full.headers["content-type"] == "audio/wav"

            # a link is good only as signed, and only until it expires
            query = parse_qs(urlsplit(full_url).query)
            name = urlsplit(full_url).path.rsplit("/", 1)[1]
            sig, expires = query["sig"][0], query["expires"][0]
            tampered = sig[:-1] + ("0" if sig[-1] != "0" else "1")
            other = customer_url.rsplit("/", 1)[1].split("?")[0]
            refused = [
                f"/recordings/{name}?expires={expires}&sig={tampered}",
                f"/recordings/{name}?expires={int(expires) + 1}&sig={sig}",
                f"/recordings/{other}?expires={expires}&sig={sig}",
                f"/recordings/{name}",
                f"/recordings/secret.key?expires={expires}&sig={sig}",
            ]
            for path in refused:
                got = await http.get(path)
                assert got.status_code == 403, (path, got.text)
            escape = await http.get(f"/recordings/..%2Fsecret.key?expires={expires}&sig={sig}")
            assert "wav" not in escape.headers["content-type"]  # no route leaves the folder
            wall = rig.rt.wall.now()
            old = recordings.links(settings, rig.rt.secrets, wall - timedelta(days=8))
            assert (await http.get(_path(old.url(name) or ""))).status_code == 403
            fresh = recordings.links(settings, rig.rt.secrets, wall)
            missing = await http.get(_path(fresh.url("0123456789abcdef-full.wav") or ""))
            assert missing.status_code == 404
        async with rig.rt.sessions() as session:
            rec = await session.scalar(select(CallRecord))
    assert rec is not None and rec.answer_time and rec.hangup_time and rec.conversation
    talk_s = (rec.hangup_time - rec.answer_time).total_seconds()

    channels, both = _read(full.content)
    assert channels == 2
    mono, heard = _read(customer.content)
    assert mono == 1
    for samples in (both, heard):
        assert abs(len(samples) / 8000 - talk_s) < 0.3, (len(samples) / 8000, talk_s)
    robot, callee = both[:, 0], heard[:, 0]
    assert np.array_equal(both[:, 1], callee)  # the stereo file's right side is the callee

    turns: list[dict[str, Any]] = rec.conversation["turns"]
    assert [t["speaker"] for t in turns] == ["ROBOT", "PERSON", "ROBOT", "PERSON", "ROBOT"]
    loud = 300.0
    for turn in turns:
        start, end = turn["start_ms"], turn["end_ms"]
        if turn["speaker"] == "PERSON":
            assert _rms(callee, start, end) > loud, turn
            assert _rms(robot, start + 300, end - 300) < loud / 10, turn  # the robot listens
        else:
            assert _rms(robot, start, end) > loud, turn
            assert _rms(callee, start + 300, end - 300) < loud / 10, turn  # the callee listens


async def test_the_retention_sweep_deletes_old_recordings_only(settings: Settings) -> None:
    settings.recording_days = 30
    folder = recordings.folder(settings.data_dir)
    folder.mkdir(parents=True)
    old, new, other = (
        folder / "00112233aabbccdd-full.wav",
        folder / "44556677aabbccdd-customer.wav",
        folder / "notes.txt",
    )
    for path in (old, new, other):
        path.write_bytes(b"RIFF")
    long_ago = time.time() - 31 * 86400
    os.utime(old, (long_ago, long_ago))
    os.utime(other, (long_ago, long_ago))
    rt = await open_runtime(settings, SystemClock(), run_migrations=False)
    wall = rt.wall.now()
    async with rt.sessions.begin() as session:  # and those kept in the database (any node's)
        session.add_all(
            StoredRecording(name=path.name, channels=1, audio=b"x", created_at=made)
            for path, made in ((old, wall - timedelta(days=31)), (new, wall - timedelta(days=29)))
        )
    stop = asyncio.Event()
    sweeping = asyncio.create_task(sweep_recordings(rt, stop, every_s=0.05))
    try:
        await wait_for(lambda: _gone(old), timeout=10)
        await asyncio.sleep(0.2)  # a few more rounds
        async with rt.sessions() as session:
            stored = set((await session.scalars(select(StoredRecording.name))).all())
    finally:
        stop.set()
        await asyncio.wait_for(sweeping, 5)
        await rt.close()
    assert new.exists() and other.exists()
    assert stored == {new.name}


async def _gone(path: Path) -> bool:
    return not await asyncio.to_thread(path.exists)
