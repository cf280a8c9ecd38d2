"""IP whitelists behind `voxcast serve`: X-Forwarded-For counts only from the proxies named in
VOXCAST_TRUST_X_FORWARDED_FOR, so a local process (or a client through a proxy that appends)
cannot pose as a whitelisted address."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.helpers import SQLITE_ONLY
from tests.integration.server import Cli, serving
from voxcast.domain.signing import sign

#: each `voxcast serve` start costs about a second; the address logic is the same on both
#: backends (and is checked on both through the ASGI app in tests/contract/test_auth.py)
WHITELISTED = "203.0.113.7"


def _status(base: str, created: dict[str, object], forwarded_for: str | None) -> str:
    """The status a signed getBalance from 127.0.0.1 gets with this X-Forwarded-For."""
    key, secret = str(created["apiKey"]), str(created["apiSecret"])
    ts = int(time.time())
    headers = {"Api-Key": key, "Timestamp": str(ts), "Sign": sign(key, secret, ts)}
    if forwarded_for is not None:
        headers["X-Forwarded-For"] = forwarded_for
    status: str = httpx.get(f"{base}/v3/getBalance", headers=headers, timeout=30).json()["status"]
    return status


def _whitelisted_account(cli: Cli) -> dict[str, object]:
    created = cli.create_account(in_process=True)  # the setting; the server is the subject
    account = str(created["accountId"])
    cli.invoke("admin", "set-ip-whitelist", "--account-id", account, "--ips", WHITELISTED)
    return created


@SQLITE_ONLY
def test_serve_ignores_x_forwarded_for_from_loopback_by_default(
    db_url: str, tmp_path: Path
) -> None:
    cli = Cli.fresh(db_url, tmp_path / "var")
    created = _whitelisted_account(cli)
    with serving(cli) as base:
        spoofed = _status(base, created, WHITELISTED)
        plain = _status(base, created, None)
    assert (spoofed, plain) == ("-2", "-2")


@SQLITE_ONLY
def test_serve_believes_x_forwarded_for_only_from_the_named_proxies(
    db_url: str, tmp_path: Path
) -> None:
    cli = Cli.fresh(db_url, tmp_path / "var")
    created = _whitelisted_account(cli)
    cli.extra_env["VOXCAST_TRUST_X_FORWARDED_FOR"] = "10.0.0.0/8, ::1"
    with serving(cli) as base:
        not_a_proxy = _status(base, created, WHITELISTED)
    cli.extra_env["VOXCAST_TRUST_X_FORWARDED_FOR"] = "10.0.0.0/8,127.0.0.1"
    with serving(cli) as base:
        via_proxy = _status(base, created, WHITELISTED)
        # the client wrote the whitelisted address itself; the proxy appended the real one
        appended = _status(base, created, f"{WHITELISTED}, 198.51.100.9")
        through_two_proxies = _status(base, created, f"{WHITELISTED}, 10.1.2.3")
    assert not_a_proxy == "-2"
    assert (via_proxy, appended, through_two_proxies) == ("0", "-2", "0")


@SQLITE_ONLY
def test_serve_refuses_to_start_with_the_old_on_switch(db_url: str, tmp_path: Path) -> None:
    cli = Cli.fresh(db_url, tmp_path / "var")
    cli.extra_env["VOXCAST_TRUST_X_FORWARDED_FOR"] = "1"
    refused = pytest.raises(AssertionError, match="'1' is not an IP address or CIDR network")
    with refused, serving(cli):
        pass
