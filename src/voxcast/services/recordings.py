"""Call recordings (docs/recordings.md): links a browser can open, signed with a key of the
server's and valid for a while; the audio a link names, kept in the database so any node serves
it (docs/deployment.md) and packed small there; the sweep of recordings past retention."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import re
import time
import wave
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from voxcast.audio import g711
from voxcast.audio.pcm import SAMPLE_RATE, SAMPLE_WIDTH
from voxcast.config import Settings
from voxcast.security import SecretBox
from voxcast.storage.models import CallRecord, StoredRecording

#: what a recording's file is called: `<hex id>-full.wav` or `<hex id>-customer.wav`; nothing
#: else is ever served (no path separators, no dot-dot)
NAME = re.compile(r"[0-9a-f]{8,64}-(?:full|customer)\.wav")
#: the derived key's purpose: links signed with it are recording links only
PURPOSE = "voxcast recording links v1"


def folder(data_dir: Path) -> Path:
    return Path(data_dir) / "recordings"


def _signature(key: bytes, name: str, expires: int) -> str:
    return hmac.new(key, f"{name}\n{expires}".encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Links:
    """Signs recording links valid until `expires` (epoch seconds) under `base_url`."""

    base_url: str
    key: bytes
    expires: int

    def url(self, name: str | None) -> str | None:
        if not name:
            return None
        sig = _signature(self.key, name, self.expires)
        return f"{self.base_url.rstrip('/')}/recordings/{name}?expires={self.expires}&sig={sig}"


def links(settings: Settings, box: SecretBox, now: datetime) -> Links:
    """Links given out at `now` (real time: a browser's), valid the configured days."""
    valid = timedelta(days=settings.recording_link_days)
    return Links(settings.public_url, box.derive(PURPOSE), int((now + valid).timestamp()))


class Refused(Exception):
    """The link is not one we signed, or it expired (403)."""


def check(box: SecretBox, name: str, expires: str, sig: str, now: float) -> None:
    """Refused unless the link is one we signed and it is still valid."""
    if not NAME.fullmatch(name) or not expires.isdigit() or len(expires) > 12:
        raise Refused("not a recording link")
    expected = _signature(box.derive(PURPOSE), name, int(expires))
    if not hmac.compare_digest(expected, sig.lower()):
        raise Refused("bad signature")
    if int(expires) < now:
        raise Refused("expired")


async def name_of_record(
    session: AsyncSession, account_id: int, voice_id: str, *, customer: bool = False
) -> str | None:
    """The recording's name (both sides, or the callee's alone) of the account's call
    `voice_id`; None for another account's call alike, or a call not recorded."""
    names = await session.execute(
        select(CallRecord.recording_full, CallRecord.recording_customer).where(
            CallRecord.voice_id == voice_id[:32], CallRecord.account_id == account_id
        )
    )
    row = names.first()
    name = (row[1] if customer else row[0]) if row is not None else None
    return name if name and NAME.fullmatch(name) else None


async def wav(session: AsyncSession, data_dir: Path, name: str) -> bytes | Path | None:
    """Recording `name` as a WAV: from the database, where it is kept once its call is recorded
    whichever node made it; else from this node's disk (recordings made before that, or before
    migration 0026), as the file's path; None when neither has it (not an OSError: the
    session's guard takes those for a database outage)."""
    packed = await stored(session, name)
    if packed is not None:
        return await asyncio.to_thread(unpack, packed.channels, packed.audio)
    if not NAME.fullmatch(name):
        return None
    path = folder(data_dir) / name
    return path if await asyncio.to_thread(path.is_file) else None


def sweep(data_dir: Path, days: float, now: float | None = None) -> int:
    """Delete recordings last written over `days` ago; how many went (blocking: run it in a
    thread)."""
    root = folder(data_dir)
    if not root.is_dir():
        return 0
    cutoff = (time.time() if now is None else now) - days * 86400
    gone = 0
    for path in root.iterdir():
        try:
            if NAME.fullmatch(path.name) and path.stat().st_mtime < cutoff:
                path.unlink()
                gone += 1
        except FileNotFoundError:
            continue  # another worker's sweep took it first
    return gone


# -- kept in the database ----------------------------------------------------------------------
#: zlib's level for the stored samples: most of a call's silence packs away at no CPU cost
PACK_LEVEL = 6


@dataclass(frozen=True)
class Packed:
    """A recording as the database keeps it: G.711 mu-law samples (interleaved when stereo),
    deflated; about a quarter of the WAV or less, at the precision the call itself carried."""

    name: str
    channels: int
    audio: bytes


def pack(path: Path) -> Packed:
    """A recording file voxcast wrote (8 kHz 16-bit WAV, mono or stereo), packed (blocking)."""
    with wave.open(str(path), "rb") as w:
        if (w.getsampwidth(), w.getframerate()) != (SAMPLE_WIDTH, SAMPLE_RATE):
            raise ValueError(f"{path.name}: not an 8 kHz 16-bit recording")
        channels = w.getnchannels()
        frames = w.readframes(w.getnframes())
    return Packed(path.name, channels, zlib.compress(g711.ulaw_encode(frames), PACK_LEVEL))


def unpack(channels: int, audio: bytes) -> bytes:
    """The WAV served for a stored recording (blocking: run it in a thread)."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(SAMPLE_WIDTH)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(g711.ulaw_decode(zlib.decompress(audio)))
    return out.getvalue()


async def stored(session: AsyncSession, name: str) -> Packed | None:
    """The recording `name` as kept in the database, if it is."""
    row = (
        await session.execute(
            select(StoredRecording.channels, StoredRecording.audio).where(
                StoredRecording.name == name
            )
        )
    ).first()
    return None if row is None else Packed(name, int(row.channels), bytes(row.audio))


async def sweep_stored(session: AsyncSession, before: datetime) -> int:
    """Delete the stored recordings made before `before`; how many went."""
    gone = await session.execute(
        delete(StoredRecording)
        .where(StoredRecording.created_at < before)
        .returning(StoredRecording.name)
    )
    return len(gone.all())
