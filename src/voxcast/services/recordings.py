"""Call recordings (docs/recordings.md): links a browser can open, signed with a key of the
server's and valid for a while; the file a link names; the sweep of files past retention."""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from voxcast.config import Settings
from voxcast.security import SecretBox
from voxcast.storage.models import CallRecord

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


def find(data_dir: Path, box: SecretBox, name: str, expires: str, sig: str, now: float) -> Path:
    """The file a link names: Refused unless the signature is ours and still valid;
    FileNotFoundError when it is not (or no longer) there."""
    if not NAME.fullmatch(name) or not expires.isdigit() or len(expires) > 12:
        raise Refused("not a recording link")
    expected = _signature(box.derive(PURPOSE), name, int(expires))
    if not hmac.compare_digest(expected, sig.lower()):
        raise Refused("bad signature")
    if int(expires) < now:
        raise Refused("expired")
    path = folder(data_dir) / name
    if not path.is_file():
        raise FileNotFoundError(name)
    return path


async def of_record(
    session: AsyncSession, data_dir: Path, account_id: int, voice_id: str, *, customer: bool = False
) -> Path | None:
    """The recording (both sides, or the callee's alone) of the account's call `voice_id`;
    None for another account's call alike, a call not recorded, or a file swept away (not an
    OSError: the session's guard takes those for a database outage)."""
    names = await session.execute(
        select(CallRecord.recording_full, CallRecord.recording_customer).where(
            CallRecord.voice_id == voice_id[:32], CallRecord.account_id == account_id
        )
    )
    row = names.first()
    name = (row[1] if customer else row[0]) if row is not None else None
    if not name or not NAME.fullmatch(name):
        return None
    path = folder(data_dir) / name
    return path if path.is_file() else None


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
