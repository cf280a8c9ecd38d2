"""`voxcast voices list/test` and `voxcast admin set-voice` as real processes, and an account's
voice reaching the dialer's prompt for a voice OTP sent through the API."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.conftest import Tenant
from tests.helpers import SQLITE_ONLY
from tests.integration.server import Cli
from voxcast.audio import PromptCache, RenderPool
from voxcast.dialer.prompts import PromptResolver
from voxcast.runtime import Runtime
from voxcast.services import speech
from voxcast.storage.models import Task

USAGE_ERROR = 2


def test_voices_list_names_each_installed_voice_with_its_licence(tmp_path: Path) -> None:
    cli = Cli.fresh("sqlite:///unused.db", tmp_path / "var")
    rows = [json.loads(line) for line in cli.run("voices", "list", "--json").stdout.splitlines()]
    by_address = {r["address"]: r for r in rows}
    assert by_address["piper:en_US-joe-medium"] == {
        "lan": "EN",
        "accents": "en-US, en-PH",
        "gender": "male",
        "address": "piper:en_US-joe-medium",
        "licence": "CC0 data; lessac base: non-commercial corpus",
        "status": "installed (built-in)",
    }
    assert by_address["festival:cmu_us_slt_arctic_hts"]["gender"] == "female"
    assert by_address["kokoro:jm_kumo"]["licence"] == "Apache-2.0"
    espeak_de = by_address["espeak:de+m3/+f3 (per accent)"]
    assert espeak_de["status"] == "installed (fallback)"
    # every vendor language has at least one row, Japanese only through kokoro
    assert {r["lan"] for r in rows} == {
        "VN",
        "EN",
        "JP",
        "ARB",
        "DE",
        "IN",
        "IT",
        "KR",
        "RU",
        "ES",
        "PT",
        "IDN",
        "BD",
        "TH",
    }
    assert [r["address"] for r in rows if r["lan"] == "JP"] == ["kokoro:jf_alpha", "kokoro:jm_kumo"]


@pytest.mark.parametrize("command", [("voices", "test"), ("tts", "say")])
def test_voices_test_writes_an_8khz_wav_and_prints_the_real_time_factor(
    tmp_path: Path, command: tuple[str, str]
) -> None:
    cli = Cli.fresh("sqlite:///unused.db", tmp_path / "var")
    out = tmp_path / "t.wav"
    proc = cli.run(*command, "--lan", "EN", "--gender", "2", "--out", str(out), "Hello.")
    lines = proc.stdout.splitlines()
    assert lines[0] == "voice festival:cmu_us_slt_arctic_hts (EN en-US female)"
    assert lines[1].startswith(f"wrote {out}: ") and " RTF " in lines[1]
    with wave.open(str(out)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
        seconds = w.getnframes() / 8000
        assert seconds == pytest.approx(1.65, abs=1.35)  # 0.3-3.0 s of speech


def test_voices_test_refuses_what_no_voice_serves_with_exit_2(tmp_path: Path) -> None:
    cli = Cli.fresh("sqlite:///unused.db", tmp_path / "var")
    proc = cli.run("voices", "test", "--lan", "JP", "--rate", "3", "こんにちは", check=False)
    assert proc.returncode == USAGE_ERROR
    assert " ".join(proc.stderr.split()) == (
        "refused (-39) speakingRate: 3 is outside what the kokoro voice speaks (0.50-2.00)"
    )


@SQLITE_ONLY
def test_admin_set_voice_stores_an_accounts_voice_and_refuses_a_bad_one(
    db_url: str, tmp_path: Path
) -> None:
    cli = Cli.fresh(db_url, tmp_path / "var")
    created = json.loads(cli.invoke("admin", "create-account", "--name", "a", "--json").stdout)
    account = str(created["accountId"])
    out = cli.invoke(
        "admin",
        "set-voice",
        "--account-id",
        account,
        "--key",
        "EN:*:2",
        "--voice",
        "espeak:en-us+f4",
    )
    assert out.stdout.strip() == f'account {account}: voices {{"EN:*:2": "espeak:en-us+f4"}}'
    missing = cli.invoke(
        "admin",
        "set-voice",
        "--account-id",
        account,
        "--key",
        "DE",
        "--voice",
        "piper:/nowhere/de.onnx",
    )
    assert "warning this machine cannot speak with it: no piper model at /nowhere/de.onnx" in (
        " ".join(missing.stderr.split())
    )
    bad = cli.invoke(
        "admin",
        "set-voice",
        "--account-id",
        account,
        "--key",
        "XX",
        "--voice",
        "espeak:en",
        check=False,
    )
    assert bad.returncode == USAGE_ERROR
    assert "voice: 'XX': XX is not a language" in bad.stderr
    removed = cli.invoke("admin", "set-voice", "--account-id", account, "--key", "DE", "--remove")
    assert removed.stdout.strip() == f'account {account}: voices {{"EN:*:2": "espeak:en-us+f4"}}'


async def test_an_accounts_voice_speaks_its_otp_and_an_uninstalled_one_is_refused(
    rt: Runtime, tenant: Tenant, tmp_path: Path
) -> None:
    account_id = tenant.creds.account_id
    async with rt.sessions.begin() as session:
        await speech.set_voice(session, account_id, "EN:*:2", "espeak:en-us+f4")
        await speech.set_voice(session, account_id, "DE", "piper:/nowhere/de.onnx")
    body = {
        "callee": "932111111111",
        "language": "EN",
        "ssmlGender": 2,
        "text": "Your code is 4815.",
        "appId": tenant.app_id,
    }
    env = await tenant.client.send_code(**body)
    assert env.code == "0", env.reason
    refused = await tenant.client.send_code(**{**body, "language": "DE"})
    assert (refused.code, refused.reason) == (
        "-39",
        "Failed to obtain the text language type: language: DE: the voice mapped to DE, "
        "piper:/nowhere/de.onnx, cannot speak here: no piper model at /nowhere/de.onnx",
    )
    async with RenderPool(PromptCache(tmp_path), workers=0) as pool:
        resolver = PromptResolver(pool)
        async with rt.sessions.begin() as session:
            task = (await session.scalars(select(Task).where(Task.account_id == account_id))).one()
            await resolver.prepare(await resolver.read(session, task))
        prompt = await resolver.for_call(task.id, None)
    assert prompt.duration_s > 1.0
    described = resolver._tasks[task.id]
    assert described.voice is not None and described.voice.address == "espeak:en-us+f4"
    assert described.text_for(None) == "Your code is 4, 8, 1, 5."
