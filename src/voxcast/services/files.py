"""Voice file uploads: base64 checks, size limit, unique names, vendor-style file ids; the list,
the 8 kHz audio and deletion the console shows (the API has no delete)."""

from __future__ import annotations

import asyncio
import base64
import binascii
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from voxcast.audio import AudioError, normalize
from voxcast.domain import ids
from voxcast.domain.codes import ApiError, Code
from voxcast.domain.enums import ACTIVE_TASK_STATUSES
from voxcast.storage.models import Task, VoiceFile

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


@dataclass(frozen=True)
class FileInfo:
    """One uploaded file as a list shows it (no audio loaded)."""

    file_id: str
    name: str
    size: int
    uploaded_at: datetime
    #: None for a file stored before lengths were measured
    duration_s: float | None

    @property
    def format(self) -> str:
        """The extension the file was uploaded with (its decoder's first guess)."""
        return self.name.rsplit(".", 1)[-1].lower()


async def page_details(
    session: AsyncSession, account_id: int, current: int, size: int
) -> tuple[list[FileInfo], int]:
    """One page of the account's files with their sizes and lengths, newest first, and their
    total: two queries whatever the page size."""
    where = VoiceFile.account_id == account_id
    total = int(await session.scalar(select(func.count()).select_from(VoiceFile).where(where)) or 0)
    rows = await session.execute(
        select(
            VoiceFile.file_id,
            VoiceFile.file_name,
            VoiceFile.size,
            VoiceFile.created_at,
            VoiceFile.duration_ms,
        )
        .where(where)
        .order_by(VoiceFile.created_at.desc(), VoiceFile.file_id)
        .offset((current - 1) * size)
        .limit(size)
    )
    return [
        FileInfo(fid, name, nbytes, at, None if ms is None else ms / 1000)
        for fid, name, nbytes, at, ms in rows
    ], total


async def file_pcm(session: AsyncSession, account_id: int, file_id: str) -> bytes:
    """The file's audio as calls play it: 8 kHz 16-bit mono PCM. Another account's file is
    -24, as if it did not exist."""
    found = (
        await session.execute(
            select(VoiceFile.account_id, VoiceFile.pcm, VoiceFile.file_name).where(
                VoiceFile.file_id == file_id
            )
        )
    ).first()
    if found is None or found.account_id != account_id:
        raise ApiError(Code.NOT_FOUND, f"fileId: voice file {file_id} does not exist")
    if found.pcm is not None:
        return bytes(found.pcm)
    # stored before uploads kept their 8 kHz form: decode the original once more
    content = await session.scalar(select(VoiceFile.content).where(VoiceFile.file_id == file_id))
    try:
        audio = await asyncio.to_thread(
            normalize, bytes(content or b""), extension_of(found.file_name)
        )
    except AudioError as err:
        raise err.api_error("fileId") from None
    return audio.pcm


async def delete_file(session: AsyncSession, account_id: int, file_id: str) -> str:
    """Delete one of the account's files; its name. Refused (-54) while a task that has not
    ended plays it: the task would fail at its next call. Ended tasks and call records keep
    the id as history. Another account's file is -24."""
    name = await session.scalar(
        select(VoiceFile.file_name).where(
            VoiceFile.file_id == file_id, VoiceFile.account_id == account_id
        )
    )
    if name is None:
        raise ApiError(Code.NOT_FOUND, f"fileId: voice file {file_id} does not exist")
    users = list(
        await session.scalars(
            select(Task.id)
            .where(
                Task.account_id == account_id,
                Task.voice_file_id == file_id,
                Task.status.in_([int(s) for s in ACTIVE_TASK_STATUSES]),
            )
            .order_by(Task.id)
            .limit(5)
        )
    )
    if users:
        tasks = ", ".join(f"task {t}" for t in users)
        raise ApiError(
            Code.TASK_STATE, f"fileId: {name} is still played by {tasks}; delete it once they end"
        )
    await session.execute(
        delete(VoiceFile).where(VoiceFile.file_id == file_id, VoiceFile.account_id == account_id)
    )
    return name
