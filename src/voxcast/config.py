"""Settings from the environment (VOXCAST_*) with safe defaults for the embedded mode."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw not in (None, "") else default


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return float(raw) if raw not in (None, "") else default


def _env_networks(name: str) -> tuple[Network, ...]:
    """A comma-separated list of IP addresses and CIDR networks; empty or unset: none."""
    raw = os.environ.get(name, "")
    out = []
    for entry in (e.strip() for e in raw.split(",")):
        if not entry:
            continue
        try:
            out.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            # "1" was once the on switch: it must not quietly become "trust nobody" or anybody
            raise ValueError(
                f"{name}={raw!r}: {entry!r} is not an IP address or CIDR network; "
                "give the reverse proxies' addresses, e.g. 127.0.0.1,10.0.0.0/8"
            ) from None
    return tuple(out)


@dataclass
class Settings:
    """Everything a voxcast process can be told; see docs/configuration.md."""

    data_dir: Path = field(default_factory=lambda: Path(os.environ.get("VOXCAST_DATA_DIR", "var")))
    database_url: str = field(default_factory=lambda: os.environ.get("VOXCAST_DATABASE_URL", ""))
    secret_key: str = field(default_factory=lambda: os.environ.get("VOXCAST_SECRET_KEY", ""))
    environment: str = field(default_factory=lambda: os.environ.get("VOXCAST_ENV", "development"))
    sign_skew_seconds: int = field(
        default_factory=lambda: _env_int("VOXCAST_SIGN_SKEW_SECONDS", 300)
    )
    #: seconds a verified API key (secret, flags, account row) is reused without the database;
    #: writes from this process invalidate it at once, other processes' writes after this long
    auth_cache_seconds: float = field(
        default_factory=lambda: _env_float("VOXCAST_AUTH_CACHE_SECONDS", 2.0)
    )
    #: failed Sign checks (unknown key or wrong Sign) from one address for one Api-Key within
    #: the window that lock the pair out (-15) for the lock-out; 0 turns the lock-out off
    sign_failures: int = field(default_factory=lambda: _env_int("VOXCAST_SIGN_FAILURES", 10))
    sign_failure_window_seconds: float = field(
        default_factory=lambda: _env_float("VOXCAST_SIGN_FAILURE_WINDOW_SECONDS", 60.0)
    )
    sign_lockout_seconds: float = field(
        default_factory=lambda: _env_float("VOXCAST_SIGN_LOCKOUT_SECONDS", 300.0)
    )
    max_upload_bytes: int = field(
        default_factory=lambda: _env_int("VOXCAST_MAX_UPLOAD_BYTES", 10 * 1024 * 1024)
    )
    max_request_bytes: int = field(
        default_factory=lambda: _env_int("VOXCAST_MAX_REQUEST_BYTES", 64 * 1024 * 1024)
    )
    #: extra time (clock seconds) a call's lease lasts beyond its longest possible duration
    lease_margin_seconds: float = field(
        default_factory=lambda: _env_float("VOXCAST_LEASE_MARGIN_SECONDS", 120.0)
    )
    #: unix seconds all sandbox processes count scaled time from (see --sandbox-epoch)
    sandbox_epoch: float | None = field(
        default_factory=lambda: _env_float("VOXCAST_SANDBOX_EPOCH", 0.0) or None
    )
    sandbox_speed: float = field(default_factory=lambda: _env_float("VOXCAST_SANDBOX_SPEED", 1.0))
    push_attempts: int = field(default_factory=lambda: _env_int("VOXCAST_PUSH_ATTEMPTS", 3))
    push_retry_seconds: float = field(
        default_factory=lambda: _env_float("VOXCAST_PUSH_RETRY_SECONDS", 1800.0)
    )
    push_timeout_seconds: float = field(
        default_factory=lambda: _env_float("VOXCAST_PUSH_TIMEOUT_SECONDS", 10.0)
    )
    push_batch_size: int = field(default_factory=lambda: _env_int("VOXCAST_PUSH_BATCH_SIZE", 100))
    #: wall seconds and megabytes of address space one uploaded callee list may take to read
    preview_parse_seconds: float = field(
        default_factory=lambda: _env_float("VOXCAST_PREVIEW_PARSE_SECONDS", 60.0)
    )
    preview_parse_memory_mb: int = field(
        default_factory=lambda: _env_int("VOXCAST_PREVIEW_PARSE_MEMORY_MB", 512)
    )
    #: days an uploaded callee list is kept for submitTask (tasks made from it stay)
    preview_file_days: float = field(
        default_factory=lambda: _env_float("VOXCAST_PREVIEW_FILE_DAYS", 7.0)
    )
    #: where browsers reach this server: the base of recording links (`fullAudioUrl`...)
    public_url: str = field(
        default_factory=lambda: os.environ.get("VOXCAST_PUBLIC_URL", "http://127.0.0.1:8000")
    )
    #: days a recording link given out (in a push, a record query) stays valid
    recording_link_days: float = field(
        default_factory=lambda: _env_float("VOXCAST_RECORDING_LINK_DAYS", 7.0)
    )
    #: record every answered call of an AiVoice task: the vendor's AI call records carry
    #: `fullAudioUrl` and `customerAudioUrl` and its API has no field that asks for them
    aivoice_recording: bool = field(
        default_factory=lambda: os.environ.get("VOXCAST_AIVOICE_RECORDING", "1") != "0"
    )
    #: days a call's recording files are kept under `<data dir>/recordings`
    recording_days: float = field(
        default_factory=lambda: _env_float("VOXCAST_RECORDING_DAYS", 90.0)
    )
    #: the address SIP and RTP sockets bind to; empty: our address on the route to the trunk
    sip_bind_host: str = field(default_factory=lambda: os.environ.get("VOXCAST_SIP_BIND_HOST", ""))
    #: the address put in Via, Contact and SDP when it differs from the bound one (static NAT)
    sip_public_host: str = field(
        default_factory=lambda: os.environ.get("VOXCAST_SIP_PUBLIC_HOST", "")
    )
    #: "low-high" UDP ports for RTP (even ports are used); empty: any free port
    rtp_ports: str = field(default_factory=lambda: os.environ.get("VOXCAST_RTP_PORTS", ""))
    #: trunk calls' RTP in this many worker processes (0: in the SIP process's event loop)
    rtp_workers: int = field(default_factory=lambda: _env_int("VOXCAST_RTP_WORKERS", 0))
    #: addresses (comma-separated) the agent workspace's WebRTC gathers ICE candidates on;
    #: empty: every interface but loopback (docs/callcenter.md#browser-agents-webrtc)
    webrtc_hosts: str = field(default_factory=lambda: os.environ.get("VOXCAST_WEBRTC_HOSTS", ""))
    #: "host:port" where agents' softphones REGISTER (the call center); empty: no registrar
    registrar: str = field(default_factory=lambda: os.environ.get("VOXCAST_REGISTRAR", ""))
    #: "host:port,..." DNS servers for locating trunks (RFC 3263); empty: /etc/resolv.conf's
    dns_servers: str = field(default_factory=lambda: os.environ.get("VOXCAST_DNS_SERVERS", ""))
    #: how often workers re-read trunks and which account uses which
    trunk_refresh_seconds: float = field(
        default_factory=lambda: _env_float("VOXCAST_TRUNK_REFRESH_SECONDS", 2.0)
    )
    #: the AI robot's optional intent LLM: an OpenAI-compatible base URL (".../v1"); empty: off
    llm_url: str = field(default_factory=lambda: os.environ.get("VOXCAST_LLM_URL", ""))
    llm_model: str = field(default_factory=lambda: os.environ.get("VOXCAST_LLM_MODEL", ""))
    llm_api_key: str = field(default_factory=lambda: os.environ.get("VOXCAST_LLM_API_KEY", ""))
    #: seconds the LLM has for one utterance before the turn goes on as "no match"
    llm_timeout_seconds: float = field(
        default_factory=lambda: _env_float("VOXCAST_LLM_TIMEOUT_SECONDS", 1.0)
    )
    #: reverse proxies whose X-Forwarded-For is believed; empty: the header is ignored
    trusted_proxies: tuple[Network, ...] = field(
        default_factory=lambda: _env_networks("VOXCAST_TRUST_X_FORWARDED_FOR")
    )

    def rtp_port_range(self) -> tuple[int, int] | None:
        if not self.rtp_ports:
            return None
        low, _, high = self.rtp_ports.partition("-")
        first, last = int(low), int(high)
        if not 1024 <= first < last <= 65535:
            raise ValueError(f"VOXCAST_RTP_PORTS={self.rtp_ports!r}: want low-high in 1024-65535")
        return first, last

    def resolved_database_url(self) -> str:
        """The configured URL, or an SQLite file under the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'voxcast.db').as_posix()}"

    def check(self) -> None:
        """Refuse insecure defaults in production: a secret key must be given, not generated."""
        if self.environment == "production" and not self.secret_key:
            raise RuntimeError(
                "VOXCAST_ENV=production requires VOXCAST_SECRET_KEY (a Fernet key; "
                "generate one with `voxcast admin gen-secret-key`)"
            )
