"""Encryption of stored secrets (API secrets, push secrets) with the server's Fernet key.

MD5-of-secret signing means the server must know each API secret, so secrets cannot be stored
as one-way hashes. They are encrypted instead: a database dump alone reveals none of them; an
attacker needs the dump and the key (VOXCAST_SECRET_KEY or `<data dir>/secret.key`).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken


class SecretBox:
    """Encrypts and decrypts short secrets with one Fernet key."""

    def __init__(self, key: str | bytes) -> None:
        self._fernet = Fernet(key)
        self._key = key.encode() if isinstance(key, str) else key

    def derive(self, purpose: str) -> bytes:
        """A key of its own for `purpose` (e.g. signing links), from the server key: one
        secret to keep, and a leaked derived key reveals neither it nor the others."""
        return hmac.new(self._key, purpose.encode(), hashlib.sha256).digest()

    def seal(self, plain: str) -> str:
        return self._fernet.encrypt(plain.encode()).decode()

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken as exc:
            raise RuntimeError(
                "a stored secret cannot be decrypted: the server key changed "
                "(check VOXCAST_SECRET_KEY / secret.key)"
            ) from exc


def generate_key() -> str:
    return Fernet.generate_key().decode()


def load_or_create_key(explicit: str, data_dir: Path) -> str:
    """The configured key, else the key file under the data directory (made 0600 if absent)."""
    if explicit:
        return explicit
    path = data_dir / "secret.key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = generate_key()
    # O_EXCL: two processes starting at once must not each write a different key
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    return key
