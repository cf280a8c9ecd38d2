"""Rendered prompts on disk, named by a hash of everything that shapes the sound (engine and
version, voice, rate, text), so each distinct text is rendered once and shared by all tasks."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import wave
from pathlib import Path

from voxcast.audio.pcm import DecodedAudio, read_wav, wav_bytes, wav_duration
from voxcast.audio.voices import Voice

#: bump when the stored form changes, so old entries are not read as new ones
FORMAT = "wav-8000-s16-mono-1"


def prompt_key(text: str, voice: Voice, engine_version: str) -> str:
    """Content hash of one prompt: 64 hex characters."""
    material = {
        "format": FORMAT,
        "engine": voice.engine,
        "engine_version": engine_version,
        "voice": voice.name,
        "rate": round(voice.rate, 4),
        "text": text,
    }
    encoded = json.dumps(material, sort_keys=True, ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(encoded).hexdigest()


class PromptCache:
    """`root/<2 hex>/<key>.wav`. Writes are atomic (temp file + rename), so concurrent
    renderers of one text (two workers, two nodes on a shared disk) never expose half a file."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @classmethod
    def under(cls, data_dir: Path) -> PromptCache:
        """The cache of a voxcast data directory (`rt.settings.data_dir`)."""
        return cls(Path(data_dir) / "prompts")

    def path(self, key: str) -> Path:
        if len(key) < 8 or not all(c in "0123456789abcdef" for c in key):
            raise ValueError(f"not a prompt key: {key!r}")
        return self.root / key[:2] / f"{key}.wav"

    def has(self, key: str) -> bool:
        return self.path(key).is_file()

    def duration(self, key: str) -> float | None:
        """Seconds of a cached prompt, or None when it is not cached (or unreadable)."""
        try:
            return wav_duration(self.path(key))
        except (OSError, EOFError, ValueError, wave.Error):
            return None

    def put(self, key: str, pcm: bytes) -> Path:
        """Store 8 kHz 16-bit mono PCM under `key` and return its path."""
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".wav")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(wav_bytes(pcm))
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target

    def load(self, key: str) -> DecodedAudio:
        """The cached prompt's PCM (FileNotFoundError when it is not cached)."""
        return read_wav(self.path(key))
