"""fileUpload against api-catalog §1.5: the voiceFileId shape and every code a request can
trigger (0, -2, -16, -18, -20, -21, -22, -23; -1 is in test_auth.py)."""

from __future__ import annotations

import base64
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from tests.conftest import Tenant
from tests.helpers import signed_headers
from tests.unit.audio.audiofiles import audio_b64, encode
from tests.unit.audio.test_decode import wav_with_header
from voxcast.clock import FixedClock
from voxcast.runtime import Runtime
from voxcast.services import accounts
from voxcast.storage.models import VoiceFile

SAMPLES = Path(__file__).parent / "samples"


def file_id_pattern(now: datetime, ext: str) -> re.Pattern[str]:
    """`1` + yyyyMMdd + 32 hex + `.ext`, as the vendor's ids look."""
    return re.compile(rf"^1{now:%Y%m%d}[0-9a-f]{{32}}\.{ext}$")


async def post(
    http: httpx.AsyncClient,
    tenant: Tenant,
    clock: FixedClock,
    path: str = "/v3/voice/fileUpload",
    *,
    json_body: Any = None,
    content: str | None = None,
    age: int = 0,
) -> dict[str, Any]:
    ts = int(clock.now().timestamp()) - age
    headers = signed_headers(tenant.creds.api_key, tenant.creds.api_secret, ts)
    if content is not None:
        resp = await http.post(path, content=content, headers=headers)
    else:
        resp = await http.post(path, json=json_body, headers=headers)
    assert resp.status_code == 200
    body: dict[str, Any] = resp.json()
    return body


async def stored_files(rt: Runtime, tenant: Tenant) -> int:
    async with rt.sessions() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(VoiceFile)
            .where(VoiceFile.account_id == tenant.creds.account_id)
        )
    return int(count or 0)


# -- 0 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("ext", ["mp3", "m4a", "wav"])
async def test_upload_of_each_documented_format_answers_a_file_id_with_code_0(
    tenant: Tenant, rt: Runtime, clock: FixedClock, ext: str
) -> None:
    env = await tenant.client.upload_file(f"greeting.{ext}", audio_b64(ext, 0.5))
    assert env.raw == {"status": "0", "reason": "success", "data": env.data}
    assert file_id_pattern(clock.now(), ext).match(env.data), env.data
    assert await stored_files(rt, tenant) == 1


@pytest.mark.parametrize("name", ["a.mp3", "n" * 28 + ".wav", "LOUD.WAV", "my notice 1.wav"])
async def test_upload_name_of_5_to_32_characters_is_accepted_with_code_0(
    tenant: Tenant, clock: FixedClock, name: str
) -> None:
    ext = name.rsplit(".", 1)[1].lower()
    env = await tenant.client.upload_file(name, audio_b64(ext, 0.3))
    assert env.code == "0", env.reason
    assert file_id_pattern(clock.now(), ext).match(env.data)


async def test_upload_accepts_mime_wrapped_base64_and_a_data_url_with_code_0(
    tenant: Tenant,
) -> None:
    raw = encode("wav", 0.3)
    wrapped = base64.encodebytes(raw).decode()  # 76-column lines
    assert "\n" in wrapped
    assert (await tenant.client.upload_file("wrapped.wav", wrapped)).code == "0"
    data_url = "data:audio/wav;base64," + base64.b64encode(raw).decode()
    assert (await tenant.client.upload_file("dataurl.wav", data_url)).code == "0"


@pytest.mark.parametrize("path", ["/v3/voice/fileUpload", "/voice/fileUpload"])
async def test_upload_is_served_with_and_without_v3_with_code_0(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock, path: str
) -> None:
    body = {"fileName": "path.mp3", "file": audio_b64("mp3", 0.3)}
    resp = await post(http, tenant, clock, path, json_body=body)
    assert resp["status"] == "0", resp["reason"]


async def test_upload_with_a_form_content_type_but_a_json_body_is_accepted_with_code_0(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock
) -> None:
    ts = int(clock.now().timestamp())
    headers = signed_headers(tenant.creds.api_key, tenant.creds.api_secret, ts)
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    content = json.dumps({"fileName": "form.mp3", "file": audio_b64("mp3", 0.3)})
    resp = await http.post("/voice/fileUpload", content=content, headers=headers)
    assert resp.json()["status"] == "0"


# -- -2, -16, -18 ----------------------------------------------------------------------------


async def test_upload_from_an_ip_outside_the_whitelist_is_rejected_with_minus_2(
    tenant: Tenant, rt: Runtime
) -> None:
    async with rt.sessions.begin() as session:
        await accounts.set_ip_whitelist(session, tenant.creds.account_id, "10.0.0.0/8")
    env = await tenant.client.upload_file("ip.mp3", audio_b64("mp3", 0.3))
    assert env.code == "-2"
    assert await stored_files(rt, tenant) == 0


async def test_upload_with_a_stale_timestamp_is_rejected_with_minus_16(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock
) -> None:
    body = {"fileName": "old.mp3", "file": audio_b64("mp3", 0.3)}
    resp = await post(http, tenant, clock, json_body=body, age=301)
    assert resp["status"] == "-16"


@pytest.mark.parametrize(
    "content",
    ["fileName=a.mp3&file=AAAA", "", "   ", '{"fileName":"a.mp3",', "null garbage"],
    ids=repr,
)
async def test_upload_body_that_is_not_json_is_rejected_with_minus_18(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock, content: str
) -> None:
    resp = await post(http, tenant, clock, content=content)
    assert resp["status"] == "-18" and resp["data"] is None


async def test_quickstart_sample_with_comments_is_rejected_with_minus_18(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock
) -> None:
    sample = (SAMPLES / "quickstart_upload.txt").read_text()
    commented = sample.replace('"fileName"', '// the name\n"fileName"')
    resp = await post(http, tenant, clock, content=commented)
    assert resp["status"] == "-18"


# -- -20 -------------------------------------------------------------------------------------


async def test_upload_of_an_existing_name_is_rejected_with_minus_20(
    tenant: Tenant, rt: Runtime
) -> None:
    first = await tenant.client.upload_file("same.mp3", audio_b64("mp3", 0.3))
    assert first.code == "0"
    again = await tenant.client.upload_file("same.mp3", audio_b64("mp3", 0.6))
    assert again.code == "-20" and "fileName" in again.reason and "same.mp3" in again.reason
    assert await stored_files(rt, tenant) == 1


async def test_same_name_in_another_account_is_accepted_with_code_0(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    assert (await tenant.client.upload_file("shared.mp3", audio_b64("mp3", 0.3))).code == "0"
    assert (await other_tenant.client.upload_file("shared.mp3", audio_b64("mp3", 0.3))).code == "0"


# -- -21 -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        "not base64 at all!",
        "base64-encoded file content",  # the quickstart's placeholder, taken literally
        "QUJD=RA==",
        "",
        "   ",
        "AAAA" * 64,
        "UklGRiQAAABXQVZFZm10IBAAAAABAAEA",  # a WAV header cut short
    ],
    ids=["bad base64", "placeholder", "padding inside", "empty", "blank", "not audio", "truncated"],
)
async def test_upload_of_bad_or_empty_content_is_rejected_with_minus_21(
    tenant: Tenant, rt: Runtime, content: str
) -> None:
    env = await tenant.client.upload_file("bad.wav", content)
    assert env.code == "-21", env.reason
    assert env.reason.startswith("Data validation exception: file: "), env.reason
    assert await stored_files(rt, tenant) == 0


async def test_upload_of_a_wav_with_0_bits_per_sample_is_rejected_with_minus_21(
    tenant: Tenant, rt: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    content = base64.b64encode(wav_with_header(1, 0)).decode()
    env = await tenant.client.upload_file("zero.wav", content)
    assert (env.code, env.reason) == (
        "-21",
        "Data validation exception: file: no decoder for the audio stream of the .wav file",
    )
    assert [r for r in caplog.records if r.exc_info] == []
    assert await stored_files(rt, tenant) == 0


async def test_upload_of_silence_is_rejected_with_minus_21(tenant: Tenant) -> None:
    silent = base64.b64encode(encode("wav", 0.5, silent=True)).decode()
    env = await tenant.client.upload_file("silent.wav", silent)
    assert env.code == "-21" and "file" in env.reason


# -- -22 -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "a.mp",  # 4 characters
        "n" * 29 + ".mp3",  # 33 characters
        "greeting",  # no extension
        "notes.txt",
        "clip.mp4",
        "mp3.",
        "a\u0000b.mp3",
        12345,
    ],
    ids=repr,
)
async def test_upload_with_a_bad_file_name_is_rejected_with_minus_22(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock, rt: Runtime, name: Any
) -> None:
    body = json.dumps({"fileName": name, "file": audio_b64("mp3", 0.3)})
    resp = await post(http, tenant, clock, content=body)
    assert resp["status"] == "-22", resp["reason"]
    assert resp["reason"].startswith("Parameter exception: fileName: "), resp["reason"]
    assert await stored_files(rt, tenant) == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"file": "AAAA"}, "fileName"),
        ({"fileName": "a.mp3"}, "file"),
        ({"fileName": ["a.mp3"], "file": "AAAA"}, "fileName"),
        ({"fileName": "a.mp3", "file": {"b64": "AAAA"}}, "file"),
    ],
)
async def test_upload_with_a_missing_or_mistyped_field_is_rejected_with_minus_22(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock, body: dict[str, Any], field: str
) -> None:
    resp = await post(http, tenant, clock, json_body=body)
    assert resp["status"] == "-22"
    assert resp["reason"].startswith(f"Parameter exception: {field}"), resp["reason"]


# -- -23 -------------------------------------------------------------------------------------


async def test_upload_over_the_size_limit_is_rejected_with_minus_23(
    tenant: Tenant, rt: Runtime
) -> None:
    content = audio_b64("wav", 1.0)
    rt.settings.max_upload_bytes = len(base64.b64decode(content)) - 1
    env = await tenant.client.upload_file("big.wav", content)
    assert env.code == "-23" and "file" in env.reason
    assert await stored_files(rt, tenant) == 0
    rt.settings.max_upload_bytes = len(base64.b64decode(content))
    assert (await tenant.client.upload_file("big.wav", content)).code == "0"
