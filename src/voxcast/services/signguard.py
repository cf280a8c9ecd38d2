"""Failed-signature lock-out: after too many failed Sign checks from one address for one
Api-Key within a window, that pair is refused (-15) for a while without being checked."""

from __future__ import annotations

import logging
import math
from collections import OrderedDict, deque
from dataclasses import dataclass, field

from voxcast.domain.codes import ApiError, Code

log = logging.getLogger("voxcast.api")

#: (Api-Key, address) pairs tracked at once; the least recently failed is forgotten first, so
#: a flood of made-up keys costs bounded memory
MAX_TRACKED = 10_000
#: an Api-Key longer than this is tracked by its first characters (real keys are 32)
KEY_CHARS = 64


@dataclass
class _Pair:
    failures: deque[float] = field(default_factory=deque)
    locked_until: float | None = None


class SignGuard:
    """One process's count of failed Sign checks per (Api-Key, address).

    `failures` failed checks within `window_s` seconds lock the pair out for `lockout_s`
    seconds; `failures` 0 turns the guard off. Times are monotonic seconds.
    """

    def __init__(self, failures: int, window_s: float, lockout_s: float) -> None:
        self.failures = failures
        self.window_s = window_s
        self.lockout_s = lockout_s
        self._pairs: OrderedDict[tuple[str, str], _Pair] = OrderedDict()

    @staticmethod
    def _key(api_key: str, address: str | None) -> tuple[str, str]:
        return api_key.strip()[:KEY_CHARS], address or ""

    def check(self, api_key: str, address: str | None, now: float) -> None:
        """Raise -15 while the pair is locked out."""
        if self.failures <= 0:
            return
        pair = self._pairs.get(self._key(api_key, address))
        if pair is None or pair.locked_until is None:
            return
        if now >= pair.locked_until:
            del self._pairs[self._key(api_key, address)]  # served its time: a clean slate
            return
        left = pair.locked_until - now
        raise ApiError(
            Code.TOO_FREQUENT,
            f"{self.failures} failed Sign checks for this Api-Key from {address} within "
            f"{self.window_s:g} s; refused for {math.ceil(left)} s more",
        )

    def failed(self, api_key: str, address: str | None, now: float) -> None:
        """Count a failed Sign check (an unknown key or a wrong Sign)."""
        if self.failures <= 0:
            return
        key = self._key(api_key, address)
        pair = self._pairs.pop(key, None) or _Pair()
        self._pairs[key] = pair  # the most recent last
        while pair.failures and pair.failures[0] <= now - self.window_s:
            pair.failures.popleft()
        pair.failures.append(now)
        if len(pair.failures) >= self.failures:
            pair.failures.clear()
            pair.locked_until = now + self.lockout_s
            log.warning(
                "Api-Key %s from %s: %d failed Sign checks within %g s; refused (-15) for %g s",
                key[0][:8] + "…",
                address,
                self.failures,
                self.window_s,
                self.lockout_s,
            )
        while len(self._pairs) > MAX_TRACKED:
            self._pairs.popitem(last=False)

    def succeeded(self, api_key: str, address: str | None) -> None:
        """A good Sign from the pair forgets its earlier failures."""
        if self._pairs:
            self._pairs.pop(self._key(api_key, address), None)
