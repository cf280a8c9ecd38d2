"""SIPp as the far end of voxcast's calls: start a scenario of this folder on free loopback
ports, wait for it to finish and read how many calls went as the scenario planned."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal

from tests import ports

HERE = Path(__file__).parent
HOST = "127.0.0.1"
SIPP = "sipp"
DTMF_1 = "/usr/share/sip-tester/dtmf_2833_1.pcap"

#: -key values a scenario needs, used unless the caller passes its own
DEFAULT_KEYS: dict[str, dict[str, str]] = {
    "answer_dtmf.xml": {"dtmf_pcap": DTMF_1},
    "auth_401.xml": {"auth_user": "voxcast", "auth_pass": "s3cret"},
    "reject.xml": {"code": "486", "reason": "Busy Here"},
}
#: -d (the length of the scenario's bare <pause/>) unless the caller passes duration_ms
DEFAULT_DURATION_MS: dict[str, int] = {"answer_then_hangup.xml": 1000}
#: keys written into a copy of the scenario instead of passed as -key: SIPp checks a response's
#: code and a pause's length when it loads the scenario, before any keyword is replaced
#: ("SIP/2.0 [code]" and <pause milliseconds="[hold_at]"/> are refused)
TEMPLATE_KEYS = ("code", "hold_at", "hold_for", "silent_ms", "allow_check")

Transport = Literal["udp", "tcp"]


def sipp_available() -> bool:
    return shutil.which(SIPP) is not None


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    """A port of 127.0.0.1 that nobody holds right now (UDP unless `kind` says TCP)."""
    return ports.free_port(kind)


def free_udp_port() -> int:
    return ports.free_port(socket.SOCK_DGRAM)


def free_udp_ports(count: int = 2) -> list[int]:
    """`count` distinct free UDP ports."""
    return ports.free_ports(count, socket.SOCK_DGRAM)


def free_media_port() -> int:
    """An even UDP port p with p..p+3 free: SIPp binds p (audio) and p+2 (video) for its echo."""
    return ports.free_even_run(4)


def _bound(port: int, kind: int) -> bool:
    """Whether someone holds `port` (we cannot bind it)."""
    with socket.socket(socket.AF_INET, kind) as s:
        try:
            s.bind((HOST, port))
        except OSError:
            return True
        return False


@dataclass(frozen=True)
class SippResult:
    returncode: int  # 0: every call went as planned; 1: some failed; -9: killed at the timeout
    successful_calls: int
    failed_calls: int
    errors: str  # the tail of SIPp's error log and stderr
    messages: str = ""  # the SIP messages SIPp sent and got, when started with trace_msg

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and self.failed_calls == 0


class Sipp:
    """One SIPp process running a scenario of tests/sipp: a UAS (the called party) unless given a
    `remote` to call. Its RTP port echoes what it receives (`-rtp_echo`), so the caller can count
    what SIPp got. Use `async with await Sipp.start(...) as sipp:` or call `cleanup()` in a finally:
    either way no SIPp process outlives the test."""

    def __init__(
        self,
        proc: asyncio.subprocess.Process,
        port: int,
        media_port: int,
        work: Path,
        transport: Transport = "udp",
    ) -> None:
        self.proc = proc
        self.host = HOST
        self.port = port
        self.media_port = media_port
        self.transport = transport
        self.work = work  # SIPp's files: stat.csv, errors.log, messages.log, stdout/stderr
        self._result: SippResult | None = None

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    @classmethod
    async def start(
        cls,
        scenario: str,
        *,
        calls: int = 1,
        keys: dict[str, str] | None = None,
        duration_ms: int | None = None,
        transport: Transport = "udp",
        timeout_s: float = 30,
        remote: tuple[str, int] | None = None,
        rtp_echo: bool = True,
        trace_msg: bool = False,
        extra_args: tuple[str, ...] = (),
        port: int | None = None,
    ) -> Sipp:
        """Start `scenario` (a path relative to tests/sipp) and return once SIPp holds its port.

        `keys` become `-key name value` (on top of DEFAULT_KEYS); `duration_ms` is `-d`, the
        length of a bare <pause/>; past `timeout_s` SIPp gives up and fails (-timeout_error).
        `port` fixes SIPp's SIP port (a softphone that registered from it answers on it)."""
        kind = socket.SOCK_STREAM if transport == "tcp" else socket.SOCK_DGRAM
        all_keys = DEFAULT_KEYS.get(scenario, {}) | (keys or {})
        if duration_ms is None:
            duration_ms = DEFAULT_DURATION_MS.get(scenario)
        work = Path(tempfile.mkdtemp(prefix="voxcast-sipp-"))
        try:
            scenario_path = render_scenario(HERE / scenario, all_keys, work)
        except Exception:
            shutil.rmtree(work, ignore_errors=True)
            raise
        for _attempt in range(5):
            sip_port = port if port is not None else free_port(kind)
            media_port = free_media_port()
            args = command(
                scenario_path, port=sip_port, media_port=media_port, work=work, calls=calls,
                keys=all_keys, duration_ms=duration_ms, transport=transport,
                timeout_s=timeout_s, remote=remote, rtp_echo=rtp_echo, trace_msg=trace_msg,
            ) + list(extra_args)  # fmt: skip
            with (work / "stdout.log").open("wb") as out, (work / "stderr.log").open("wb") as err:
                proc = await asyncio.create_subprocess_exec(
                    *args, cwd=work, stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=err
                )
            try:
                for _ in range(100):  # up to 2 s for SIPp to bind its port
                    if proc.returncode is not None or _bound(sip_port, kind):
                        break
                    await asyncio.sleep(0.02)
            except BaseException:  # cancelled: leave no SIPp behind
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                raise
            if proc.returncode is None:
                return cls(proc, sip_port, media_port, work, transport)
            await proc.wait()
            # the port was taken meanwhile (or SIPp refused the scenario): try again
        stderr = (work / "stderr.log").read_text(errors="replace")
        shutil.rmtree(work, ignore_errors=True)
        raise RuntimeError(f"SIPp did not start {scenario}: {stderr}")

    async def wait(self, timeout: float = 30) -> SippResult:
        """Wait for SIPp to finish its calls (-m); kill it past `timeout`."""
        try:
            await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            self.kill()
            await self.proc.wait()
        self._result = self._read_result()
        return self._result

    def _read_result(self) -> SippResult:
        successful, failed = parse_stat_csv(self.work / "stat.csv")
        errors = ""
        for name in ("errors.log", "stderr.log"):
            path = self.work / name
            if path.exists():
                errors += path.read_text(errors="replace")[-4000:]
        messages = self.work / "messages.log"
        return SippResult(
            self.proc.returncode if self.proc.returncode is not None else -1,
            successful,
            failed,
            errors,
            messages.read_text(errors="replace") if messages.exists() else "",
        )

    def kill(self) -> None:
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()

    def cleanup(self) -> None:
        """Kill SIPp if it still runs and remove its files (read the result first)."""
        self.kill()
        shutil.rmtree(self.work, ignore_errors=True)

    async def close(self) -> None:
        """Like cleanup(), and reap the process."""
        self.kill()
        with contextlib.suppress(ProcessLookupError):
            await self.proc.wait()
        shutil.rmtree(self.work, ignore_errors=True)

    async def __aenter__(self) -> Sipp:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


def render_scenario(path: Path, keys: dict[str, str], work: Path) -> Path:
    """`path` itself, or a copy in `work` with the TEMPLATE_KEYS it uses written in."""
    text = path.read_text(encoding="iso-8859-1")
    used = [key for key in TEMPLATE_KEYS if f"[{key}]" in text]
    if not used:
        return path
    for key in used:
        if key not in keys:
            raise ValueError(f"{path.name} needs the key {key!r}")
        text = text.replace(f"[{key}]", keys[key])
    copy = work / path.name
    copy.write_text(text, encoding="iso-8859-1")
    return copy


def command(
    scenario: Path,
    *,
    port: int,
    media_port: int,
    work: Path,
    calls: int = 1,
    keys: dict[str, str] | None = None,
    duration_ms: int | None = None,
    transport: Transport = "udp",
    timeout_s: float = 30,
    remote: tuple[str, int] | None = None,
    rtp_echo: bool = True,
    trace_msg: bool = False,
) -> list[str]:
    """The SIPp command line for one run (see Sipp.start)."""
    args = [SIPP]
    if remote is not None:
        args.append(f"{remote[0]}:{remote[1]}")
    args += [
        "-sf", str(scenario),
        "-i", HOST, "-p", str(port),
        "-mi", HOST, "-mp", str(media_port),
        "-t", "t1" if transport == "tcp" else "u1",
        "-m", str(calls),
        "-nostdin",
        "-timeout", f"{max(1, round(timeout_s))}s", "-timeout_error",
        "-trace_stat", "-stf", str(work / "stat.csv"), "-fd", "1",
        "-trace_err", "-error_file", str(work / "errors.log"),
    ]  # fmt: skip
    if rtp_echo:
        args.append("-rtp_echo")
    if trace_msg:
        args += ["-trace_msg", "-message_file", str(work / "messages.log")]
    if duration_ms is not None:
        args += ["-d", str(duration_ms)]
    for key, value in (keys or {}).items():
        if key not in TEMPLATE_KEYS:
            args += ["-key", key, value]
    return args


def parse_stat_csv(path: Path) -> tuple[int, int]:
    """(successful, failed) calls from SIPp's -trace_stat file: its last row, written at exit,
    holds the cumulative counts in the columns SuccessfulCall(C) and FailedCall(C)."""
    if not path.exists():
        return 0, 0
    lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    if len(lines) < 2:
        return 0, 0
    row = dict(zip(lines[0].split(";"), lines[-1].split(";"), strict=False))
    return _count(row.get("SuccessfulCall(C)")), _count(row.get("FailedCall(C)"))


def _count(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0
