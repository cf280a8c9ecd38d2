"""The SDK against a real `voxcast serve` process (system time, real sockets on 127.0.0.1):
the blocking and the asyncio client, both envelope families, and what the SDK parses."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration.server import running_server
from tests.unit.audio.audiofiles import audio_b64
from voxcast.client import AsyncVoxcastClient, Envelope, VoxcastClient

#: a voiceFileId as the vendor shapes it: `1` + yyyyMMdd + 32 hex + `.ext`
FILE_ID = re.compile(r"1\d{8}[0-9a-f]{32}\.wav")


@pytest.mark.parametrize(
    ("raw", "ok", "code", "reason", "data"),
    [
        ({"status": "0", "reason": "success", "data": "1a.wav"}, True, "0", "success", "1a.wav"),
        ({"status": "-20", "reason": "fileName: exists"}, False, "-20", "fileName: exists", None),
        ({"code": "0", "msg": "success", "data": {"keyId": 7}}, True, "0", "success", {"keyId": 7}),
        ({"code": "-24", "msg": "Data unexisting"}, False, "-24", "Data unexisting", None),
        # codes given as JSON numbers read the same as the vendor's strings
        ({"code": 0, "msg": "success", "data": 5}, True, "0", "success", 5),
        (
            {"status": -1, "reason": "Authentication error"},
            False,
            "-1",
            "Authentication error",
            None,
        ),
        # the balance family: fields at the top level, no `data`
        ({"status": "0", "reason": "success", "balance": "1.500000"}, True, "0", "success", None),
    ],
)
def test_envelope_parse_reads_code_reason_and_data_of_both_families(
    raw: dict[str, Any], ok: bool, code: str, reason: str, data: Any
) -> None:
    env = Envelope.parse(raw)
    assert (env.ok, env.code, env.reason, env.data) == (ok, code, reason, data)
    assert env.raw is raw


def test_envelope_parse_of_a_body_without_reason_keeps_an_empty_reason() -> None:
    env = Envelope.parse({"code": "-18"})
    assert (env.ok, env.code, env.reason, env.data) == (False, "-18", "", None)


def test_sync_client_reads_the_balance_uploads_and_a_second_upload_is_minus_20(
    db_url: str, tmp_path: Path
) -> None:
    content = audio_b64("wav", 0.5)
    with (
        running_server(db_url, tmp_path / "var", balance="42.5", rate=None) as (base, creds),
        VoxcastClient(base, creds.api_key, creds.api_secret) as vc,
    ):
        balance = vc.get_balance()
        uploaded = vc.upload_file("hello.wav", content)
        again = vc.upload_file("hello.wav", content)
        other_name = vc.upload_file("hello2.wav", content)
    assert (balance.ok, balance.code, balance.reason) == (True, "0", "success")
    assert balance.raw["balance"] == "42.500000"
    assert {"gift", "credit"} <= set(balance.raw)
    assert uploaded.ok and FILE_ID.fullmatch(uploaded.data), uploaded
    assert (again.ok, again.code, again.data) == (False, "-20", None)
    assert "fileName" in again.reason
    assert other_name.ok and other_name.data != uploaded.data


def test_sync_client_with_a_wrong_secret_or_stale_clock_is_refused_with_minus_1_and_minus_16(
    db_url: str, tmp_path: Path
) -> None:
    with running_server(db_url, tmp_path / "var", rate=None) as (base, creds):
        with VoxcastClient(base, creds.api_key, creds.api_secret + "x") as wrong:
            wrong_secret = wrong.get_balance()
            # a group-call query answers the `code` family, its refusal too
            wrong_secret_code_family = wrong.query_group_calls()
        with VoxcastClient(base, "no-such-key", creds.api_secret) as unknown:
            unknown_key = unknown.get_balance()
        with VoxcastClient(
            base, creds.api_key, creds.api_secret, timestamp=lambda: int(time.time()) - 3600
        ) as stale:
            stale_clock = stale.get_balance()
        with VoxcastClient(base, creds.api_key, creds.api_secret) as good:
            still_fine = good.get_balance()
    assert (wrong_secret.ok, wrong_secret.code) == (False, "-1")
    assert "balance" not in wrong_secret.raw
    assert (wrong_secret_code_family.code, set(wrong_secret_code_family.raw)) == (
        "-1",
        {"code", "msg", "data"},
    )
    assert (unknown_key.ok, unknown_key.code) == (False, "-1")
    assert (stale_clock.ok, stale_clock.code) == (False, "-16")
    assert still_fine.ok


async def test_async_client_against_a_real_server_sends_a_task_and_reads_it_in_the_code_family(
    db_url: str, tmp_path: Path
) -> None:
    content = audio_b64("wav", 0.5)
    with running_server(db_url, tmp_path / "var") as (base, creds):
        async with AsyncVoxcastClient(base, creds.api_key, creds.api_secret) as vc:
            balance = await vc.get_balance()
            uploaded = await vc.upload_file("notice.wav", content)
            again = await vc.upload_file("notice.wav", content)
            sent = await vc.send_group_call(
                appId=creds.app_id,
                taskName="sdk integration",
                source=1,
                voiceFileId=uploaded.data,
                loopCount=1,
                maxCalls=60,
                # a sendTime far ahead: the task stays waiting (0) while the test reads it
                sendTime="2099-01-01 00:00:00",
                numberInfoList=[{"calleeNumber": "8613000000000"}],
            )
            assert sent.ok, sent
            detail = await vc.group_call_detail(int(sent.data))
            missing = await vc.group_call_detail(999_999)
        async with AsyncVoxcastClient(base, creds.api_key, "wrong") as bad:
            refused = await bad.get_balance()
    assert balance.ok and balance.raw["balance"] == "100.000000"
    assert uploaded.ok and FILE_ID.fullmatch(uploaded.data)
    assert again.code == "-20"
    assert sent.ok and set(sent.raw) == {"code", "msg", "data"}, sent
    assert detail.ok and detail.data["status"] == 0, detail
    assert (missing.ok, missing.code) == (False, "-24")
    assert refused.code == "-1"
