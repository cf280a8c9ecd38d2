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

HERE = Path(__file__).parent
HOST = "127.0.0.1"


def sipp_available() -> bool:
    return shutil.which("sipp") is not None


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


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
    returncode: int
    successful_calls: int
    failed_calls: int
    errors: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and self.failed_calls == 0


class Sipp:
    """One SIPp process running a scenario of tests/sipp as a UAS (the called party). Its RTP
    port echoes what it receives (`-rtp_echo`), so the caller can count what SIPp got."""

    def __init__(self, proc: asyncio.subprocess.Process, port: int, media_port: int, work: Path):
        self.proc = proc
        self.host = HOST
        self.port = port
        self.media_port = media_port
        self._work = work

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
        transport: str = "udp",
        timeout_s: float = 30,
    ) -> Sipp:
        kind = socket.SOCK_STREAM if transport == "tcp" else socket.SOCK_DGRAM
        work = Path(tempfile.mkdtemp(prefix="voxcast-sipp-"))
        for _attempt in range(5):
            port, media_port = free_port(kind), free_port()
            args = [
                "-sf", str(HERE / scenario), "-i", HOST, "-p", str(port),
                "-mi", HOST, "-mp", str(media_port), "-rtp_echo",
                "-m", str(calls), "-nostdin",
                "-timeout", f"{int(timeout_s)}s", "-timeout_error",
                "-trace_stat", "-stf", str(work / "stat.csv"), "-fd", "1",
                "-trace_err", "-error_file", str(work / "errors.log"),
                "-t", "t1" if transport == "tcp" else "u1",
            ]  # fmt: skip
            if duration_ms is not None:
                args += ["-d", str(duration_ms)]
            for key, value in (keys or {}).items():
                args += ["-key", key, value]
            proc = await asyncio.create_subprocess_exec(
                "sipp",
                *args,
                cwd=work,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=(work / "stderr.log").open("wb"),
            )
            for _ in range(100):  # up to 2 s for SIPp to bind its port
                if proc.returncode is not None or _bound(port, kind):
                    break
                await asyncio.sleep(0.02)
            if proc.returncode is None:
                return cls(proc, port, media_port, work)
            # the port was taken meanwhile (or SIPp refused the scenario): try again
        stderr = (work / "stderr.log").read_text(errors="replace")
        raise RuntimeError(f"SIPp did not start {scenario}: {stderr}")

    async def wait(self, timeout: float = 30) -> SippResult:
        """Wait for SIPp to finish its calls; kill it past `timeout`."""
        try:
            await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            self.kill()
            await self.proc.wait()
        return self._result()

    def _result(self) -> SippResult:
        successful = failed = 0
        stats = self._work / "stat.csv"
        if stats.exists():
            lines = [line for line in stats.read_text(errors="replace").splitlines() if line]
            if len(lines) >= 2:
                header, last = lines[0].split(";"), lines[-1].split(";")
                row = dict(zip(header, last, strict=False))
                successful = int(row.get("SuccessfulCall(C)", "0") or 0)
                failed = int(row.get("FailedCall(C)", "0") or 0)
        errors = ""
        for name in ("errors.log", "stderr.log"):
            path = self._work / name
            if path.exists():
                errors += path.read_text(errors="replace")[-4000:]
        return SippResult(self.proc.returncode or 0, successful, failed, errors)

    def kill(self) -> None:
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()

    def cleanup(self) -> None:
        self.kill()
        shutil.rmtree(self._work, ignore_errors=True)
