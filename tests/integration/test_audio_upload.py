"""fileUpload with real audio of every format, and the corrupt, silent, too long and hostile
uploads that must be refused with their code, storing nothing."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from tests.conftest import Tenant
from tests.unit.audio.audiofiles import FORMATS, audio_b64, encode
from tests.unit.audio.test_decode import _flac_of_silence
from voxcast.cli.admin import admin_app
from voxcast.domain.codes import ApiError, Code
from voxcast.runtime import Runtime
from voxcast.services import files
from voxcast.storage.models import VoiceFile


async def stored(rt: Runtime) -> int:
    async with rt.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(VoiceFile)) or 0)


async def test_every_format_is_stored_with_its_8khz_form_and_exact_duration(
    rt: Runtime, tenant: Tenant
) -> None:
    ids = {}
    for ext in sorted(FORMATS):
        upload = audio_b64(ext, 1.5)
        resp = await tenant.client.upload_file(f"hello.{ext}", upload)
        assert resp.code == "0", (ext, resp.reason)
        assert resp.data.endswith(f".{ext}") and resp.data.startswith("120260302")
        ids[resp.data] = (ext, upload)
    async with rt.sessions() as session:
        for file_id, (ext, upload) in ids.items():
            row = await session.get(VoiceFile, file_id)
            assert row is not None
            await session.refresh(row, ["pcm", "content"])
            assert row.duration_ms == pytest.approx(1500, abs=100), ext
            assert row.pcm is not None and len(row.pcm) == pytest.approx(1.5 * 16000, rel=0.07)
            assert row.content == base64.b64decode(upload)  # the original is kept as sent


async def test_a_file_named_with_the_wrong_extension_is_accepted_by_its_content(
    rt: Runtime, tenant: Tenant
) -> None:
    resp = await tenant.client.upload_file("really-mp3.wav", audio_b64("mp3", 1.0))
    assert resp.code == "0"
    assert resp.data.endswith(".wav")


@pytest.mark.parametrize(
    ("name", "content", "code", "reason"),
    [
        pytest.param(
            "junk.mp3", b"not audio at all " * 100, "-21", "file: not a readable", id="text"
        ),
        pytest.param("cut.flac", "flac-cut", "-21", "file: truncated", id="truncated"),
        pytest.param("quiet.m4a", "silent", "-21", "file: silent only", id="silent"),
        pytest.param("bomb.flac", "bomb", "-23", "file: lasts 1200 s", id="zip-bomb"),
        pytest.param("voice.mid", b"MThd", "-22", "fileName: extension .mid", id="extension"),
    ],
)
async def test_bad_audio_is_refused_with_its_code_and_nothing_is_stored(
    rt: Runtime, tenant: Tenant, name: str, content: bytes | str, code: str, reason: str
) -> None:
    if content == "flac-cut":
        data = encode("flac", 4.0)
        content = data[: len(data) // 2]
    elif content == "silent":
        content = encode("m4a", 1.0, silent=True)
    elif content == "bomb":
        content = _flac_of_silence(20)
    assert isinstance(content, bytes)
    resp = await tenant.client.upload_file(name, base64.b64encode(content).decode())
    assert resp.code == code, resp.reason
    assert reason in resp.reason
    assert await stored(rt) == 0


async def test_admin_files_list_shows_uploads_with_duration(
    rt: Runtime, tenant: Tenant, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert (await tenant.client.upload_file("greeting.mp3", audio_b64("mp3", 2.0))).code == "0"
    monkeypatch.setenv("VOXCAST_SECRET_KEY", rt.settings.secret_key)
    monkeypatch.setenv("VOXCAST_DATA_DIR", str(rt.settings.data_dir))
    runner = CliRunner()
    args = ["files", "list", "--database-url", db_url]
    result = await asyncio.to_thread(runner.invoke, admin_app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [r["fileName"] for r in rows] == ["greeting.mp3"]
    assert rows[0]["durationSeconds"] == pytest.approx(2.0, abs=0.05)
    table = await asyncio.to_thread(runner.invoke, admin_app, args)
    assert "greeting.mp3" in table.output and "2.0 s" in table.output


async def test_a_files_8khz_audio_is_its_accounts_only_and_rebuilt_for_an_old_upload(
    rt: Runtime, tenant: Tenant, other_tenant: Tenant
) -> None:
    resp = await tenant.client.upload_file("greeting.mp3", audio_b64("mp3", 2.0))
    assert resp.code == "0", resp.reason
    file_id = str(resp.data)
    async with rt.readonly() as session:
        pcm = await files.file_pcm(session, tenant.creds.account_id, file_id)
        with pytest.raises(ApiError) as refused:
            await files.file_pcm(session, other_tenant.creds.account_id, file_id)
    assert refused.value.code == Code.NOT_FOUND
    assert len(pcm) == pytest.approx(2.0 * 16000, rel=0.05)
    # an upload stored before the 8 kHz form was kept: decoded again from the original
    async with rt.sessions.begin() as session:
        await session.execute(
            update(VoiceFile).where(VoiceFile.file_id == file_id).values(pcm=None)
        )
    async with rt.readonly() as session:
        assert await files.file_pcm(session, tenant.creds.account_id, file_id) == pcm
        rows, total = await files.page_details(session, tenant.creds.account_id, 1, 25)
    assert total == 1 and rows[0].name == "greeting.mp3" and rows[0].format == "mp3"
    assert rows[0].duration_s == pytest.approx(2.0, abs=0.05)
    # another account can neither delete it nor see it
    async with rt.sessions.begin() as session:
        with pytest.raises(ApiError) as refused:
            await files.delete_file(session, other_tenant.creds.account_id, file_id)
        assert refused.value.code == Code.NOT_FOUND
        assert (await files.page_details(session, other_tenant.creds.account_id, 1, 25))[1] == 0
        assert await files.delete_file(session, tenant.creds.account_id, file_id) == "greeting.mp3"
    assert await stored(rt) == 0
