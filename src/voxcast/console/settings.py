"""The console's settings (VOXCAST_CONSOLE_*): session lifetimes, login throttling, cookies."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

from voxcast.services.console_users import Lifetime

SECURE_CHOICES = ("auto", "always", "never")


def _number(name: str, default: float) -> float:
    raw = os.environ.get(name, "")
    return float(raw) if raw.strip() else default


@dataclass(frozen=True)
class ConsoleSettings:
    #: a session ends after this long without a request, and after `session_hours` at most
    idle_minutes: float = 60.0
    session_hours: float = 12.0
    #: failed sign-ins of one user name from one address within the window that refuse that
    #: pair for the lock-out; ten times as many from any address refuse the name itself
    login_failures: int = 5
    login_window_seconds: float = 300.0
    login_lockout_seconds: float = 300.0
    #: the Secure cookie flag: auto (when the request came over https, directly or through a
    #: trusted proxy's X-Forwarded-Proto), always, or never
    secure_cookies: str = "auto"

    @classmethod
    def from_env(cls) -> ConsoleSettings:
        secure = os.environ.get("VOXCAST_CONSOLE_SECURE_COOKIES", "auto").strip().lower()
        if secure not in SECURE_CHOICES:
            raise ValueError(f"VOXCAST_CONSOLE_SECURE_COOKIES={secure!r}: auto, always or never")
        return cls(
            idle_minutes=_number("VOXCAST_CONSOLE_IDLE_MINUTES", cls.idle_minutes),
            session_hours=_number("VOXCAST_CONSOLE_SESSION_HOURS", cls.session_hours),
            login_failures=int(_number("VOXCAST_CONSOLE_LOGIN_FAILURES", cls.login_failures)),
            login_window_seconds=_number(
                "VOXCAST_CONSOLE_LOGIN_WINDOW_SECONDS", cls.login_window_seconds
            ),
            login_lockout_seconds=_number(
                "VOXCAST_CONSOLE_LOGIN_LOCKOUT_SECONDS", cls.login_lockout_seconds
            ),
            secure_cookies=secure,
        )

    @property
    def lifetime(self) -> Lifetime:
        return Lifetime(timedelta(minutes=self.idle_minutes), timedelta(hours=self.session_hours))
