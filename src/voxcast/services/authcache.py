"""The verified-key cache: an API key's decrypted secret, flags and account row, kept in memory
for a few seconds so a signed request needs no database round trip and no Fernet decryption.

Invalidated at once by any write to that key or account through this process's sessions
(ORM changes and `update(...)` statements alike), and again when such a transaction commits;
changes made by other processes are seen when the entry's TTL runs out (docs/security.md).
A key is read by one request at a time, and reread in the background before its entry expires,
so the requests in flight never all miss together (that herd was the API's p99 under load).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, make_transient_to_detached

from voxcast.storage.models import Account, ApiKey

#: the key of `Session.info` under which a runtime's sessions carry its cache
INFO_KEY = "voxcast_auth_cache"
#: a ceiling on entries, so a flood of distinct valid keys cannot grow memory without bound
MAX_ENTRIES = 10_000
_ACCOUNT_COLUMNS = tuple(c.key for c in Account.__mapper__.column_attrs)
_NEW_ACCOUNT = Account.__mapper__.class_manager.new_instance


@dataclass(frozen=True)
class Entry:
    api_key: str
    secret: str
    enabled: bool
    account_id: int
    account_values: dict[str, Any]
    expires: float
    #: from here on the first request to see the entry has it reread in the background
    refresh_at: float

    def account(self) -> Account:
        """A detached Account of its own for each request, as a fresh load would give.

        Built as the ORM's loader builds rows (values written to the instance's dict, no
        `__init__` and its per-attribute events): a quarter of a cached request's CPU otherwise.
        """
        row: Account = _NEW_ACCOUNT()
        row.__dict__.update(self.account_values)
        make_transient_to_detached(row)
        return row


class AuthCache:
    """Per-runtime cache of verified keys; `ttl` 0 turns it off."""

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self._entries: dict[str, Entry] = {}
        #: keys being read now: other requests for them wait for that read (None: unknown key)
        self.loading: dict[str, asyncio.Future[Entry | None]] = {}
        #: bumped on every invalidation: a load that started before it must not be stored
        self.generation = 0
        #: called on every invalidation; `serve`'s worker process tells the API's cache with it
        self.on_invalidate: Callable[[], None] | None = None

    def get(self, api_key: str) -> Entry | None:
        entry = self._entries.get(api_key)
        if entry is None:
            return None
        if entry.expires <= self.clock():
            self._entries.pop(api_key, None)
            return None
        return entry

    def due(self, entry: Entry) -> bool:
        """True once per entry in the last quarter of its life, when nobody is rereading it."""
        if entry.refresh_at > self.clock() or entry.api_key in self.loading:
            return False
        # pushed out, so the next request does not start a second reread meanwhile
        self._entries[entry.api_key] = replace(entry, refresh_at=entry.expires)
        return True

    def entry(self, key: ApiKey, secret: str, account: Account) -> Entry:
        now = self.clock()
        return Entry(
            api_key=key.api_key,
            secret=secret,
            enabled=key.enabled,
            account_id=account.id,
            account_values={name: getattr(account, name) for name in _ACCOUNT_COLUMNS},
            expires=now + self.ttl,
            refresh_at=now + self.ttl * 0.75,
        )

    def put(self, entry: Entry, generation: int) -> None:
        if self.ttl <= 0 or generation != self.generation:
            return
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        self._entries[entry.api_key] = entry

    def discard(self, api_key: str) -> None:
        """Drops a key found gone on a reread (nothing changed here: no invalidation)."""
        self._entries.pop(api_key, None)

    def _invalidated(self) -> None:
        self.generation += 1
        if self.on_invalidate is not None:
            self.on_invalidate()

    def clear(self) -> None:
        self._invalidated()
        self._entries.clear()

    def forget_key(self, api_key: str) -> None:
        self._invalidated()
        self._entries.pop(api_key, None)

    def forget_account(self, account_id: int) -> None:
        self._invalidated()
        for name in [k for k, e in self._entries.items() if e.account_id == account_id]:
            self._entries.pop(name, None)


def _cache_of(session: Session) -> AuthCache | None:
    cache = session.info.get(INFO_KEY)
    return cache if isinstance(cache, AuthCache) else None


def _forget(cache: AuthCache, objects: Sequence[object]) -> None:
    for obj in objects:
        if isinstance(obj, ApiKey):
            cache.forget_key(obj.api_key)
        elif isinstance(obj, Account) and obj.id is not None:
            cache.forget_account(obj.id)


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context: object) -> None:
    cache = _cache_of(session)
    if cache is None:
        return
    touched = [
        o
        for o in (*session.dirty, *session.deleted, *session.new)
        if isinstance(o, ApiKey | Account)
    ]
    if touched:
        _forget(cache, touched)
        # forgotten again at commit: a request may reload the old row in between
        session.info.setdefault("voxcast_auth_touched", []).extend(touched)


@event.listens_for(Session, "do_orm_execute")
def _bulk_write(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete):
        return
    cache = _cache_of(state.session)
    mapper = state.bind_mapper
    if cache is None or mapper is None or mapper.class_ not in (Account, ApiKey):
        return
    cache.clear()
    state.session.info["voxcast_auth_clear"] = True


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    cache = _cache_of(session)
    touched = session.info.pop("voxcast_auth_touched", None)
    clear = session.info.pop("voxcast_auth_clear", False)
    if cache is None:
        return
    if clear:
        cache.clear()
    elif touched:
        _forget(cache, touched)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop("voxcast_auth_touched", None)
    session.info.pop("voxcast_auth_clear", None)
