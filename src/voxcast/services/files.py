"""Voice file uploads: base64 checks, size limit, unique names, vendor-style file ids."""

from __future__ import annotations

import asyncio
import base64
import binascii
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from voxcast.audio import AudioError, normalize
from voxcast.domain import ids
from voxcast.domain.codes import ApiError, Code
from voxcast.storage.models import VoiceFile

#: extensions accepted on upload (each decoded by voxcast.audio.normalize)
AUDIO_EXTENSIONS = ("mp3", "m4a", "wav", "aac", "ogg", "opus", "flac", "amr")


def extension_of(file_name: str, field: str = "fileName") -> str:
    if "." not in file_name:
        raise ApiError(Code.PARAMETER, f"{field}: must end with an extension such as .mp3")
    ext = file_name.rsplit(".", 1)[1].lower()
    if ext not in AUDIO_EXTENSIONS:
        allowed = ", ".join("." + e for e in AUDIO_EXTENSIONS)
        raise ApiError(Code.PARAMETER, f"{field}: extension .{ext} is not one of {allowed}")
    return ext


def decode_base64(data: str, *, field: str, max_bytes: int) -> bytes:
    """Strict base64 (whitespace and a `data:...;base64,` prefix tolerated) within a size cap."""
    text = data.strip()
    if text.startswith("data:") and "," in text:
        text = text.split(",", 1)[1]
    text = "".join(text.split())
    if len(text) // 4 * 3 > max_bytes + 3:
        raise ApiError(Code.CAPS, f"{field}: file is over the {max_bytes} byte limit")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(Code.VALIDATION, f"{field}: not valid base64") from None
    if not raw:
        raise ApiError(Code.VALIDATION, f"{field}: the file is empty")
    if len(raw) > max_bytes:
        raise ApiError(Code.CAPS, f"{field}: file is over the {max_bytes} byte limit")
    return raw


async def store_upload(
    session: AsyncSession,
    *,
    account_id: int,
    file_name: str,
    content_b64: str,
    now: datetime,
    max_bytes: int,
    name_field: str = "fileName",
    file_field: str = "file",
) -> str:
    """Store an uploaded voice file and its 8 kHz form; return its id (`1yyyyMMdd<32 hex>.<ext>`).

    Audio that does not decode (corrupt, empty, silent, over 600 s) is refused before anything
    is stored (voxcast.audio errors: -21, -22, -23).
    """
    ext = extension_of(file_name, name_field)
    raw = decode_base64(content_b64, field=file_field, max_bytes=max_bytes)
    exists = await session.scalar(
        select(VoiceFile.file_id).where(
            VoiceFile.account_id == account_id, VoiceFile.file_name == file_name
        )
    )
    if exists:
        raise ApiError(Code.EXISTS, f"{name_field}: a file named {file_name} already exists")
    try:
        # CPU-bound (FFmpeg decode + resample): off the event loop
        audio = await asyncio.to_thread(normalize, raw, ext)
    except AudioError as err:
        raise err.api_error(file_field) from None
    file_id = ids.voice_file_id(now, ext)
    session.add(
        VoiceFile(
            file_id=file_id,
            account_id=account_id,
            file_name=file_name,
            size=len(raw),
            content=raw,
            created_at=now,
            duration_ms=round(audio.duration_s * 1000),
            pcm=audio.pcm,
        )
    )
    try:
        await session.flush()
    except IntegrityError:
        # two uploads of one name raced; the unique constraint decided
        raise ApiError(
            Code.EXISTS, f"{name_field}: a file named {file_name} already exists"
        ) from None
    return file_id


async def require_file(session: AsyncSession, account_id: int, file_id: str, field: str) -> None:
    """The file must exist and belong to the account (else -24, as if it did not exist)."""
    owner = await session.scalar(select(VoiceFile.account_id).where(VoiceFile.file_id == file_id))
    if owner is None or owner != account_id:
        raise ApiError(Code.NOT_FOUND, f"{field}: voice file {file_id} does not exist")


async def list_files(
    session: AsyncSession, *, account_id: int | None = None, limit: int = 50
) -> list[VoiceFile]:
    """Uploaded files, newest first (content and PCM not loaded)."""
    query = select(VoiceFile).order_by(VoiceFile.created_at.desc(), VoiceFile.file_id).limit(limit)
    if account_id is not None:
        query = query.where(VoiceFile.account_id == account_id)
    return list((await session.scalars(query)).all())


async def page_files(
    session: AsyncSession, account_id: int, current: int, size: int
) -> tuple[list[tuple[str, str]], int]:
    """One page of the account's files as (fileId, fileName), newest first, and their total."""
    where = VoiceFile.account_id == account_id
    total = int(await session.scalar(select(func.count()).select_from(VoiceFile).where(where)) or 0)
    rows = await session.execute(
        select(VoiceFile.file_id, VoiceFile.file_name)
        .where(where)
        .order_by(VoiceFile.created_at.desc(), VoiceFile.file_id)
        .offset((current - 1) * size)
        .limit(size)
    )
    return [(file_id, name) for file_id, name in rows], total
