"""Third-party SIP peers for interop tests: Kamailio as a record-routing proxy and baresip as a
softphone, each run from a config written into the test's directory, on free loopback ports,
with bounded start-up and always killed (its whole process group) at teardown."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import re
import shutil
import signal
import socket
import wave
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tests import ports

HOST = "127.0.0.1"
KAMAILIO = "/usr/sbin/kamailio"
KAMAILIO_MODULES = "/usr/lib/x86_64-linux-gnu/kamailio/modules/"
BARESIP = "/usr/bin/baresip"
BARESIP_MODULES = "/usr/lib/baresip/modules"
#: tries with fresh ports: another process may take a probed port before the peer binds it
START_ATTEMPTS = 3
START_TIMEOUT_S = 10.0
#: baresip unloading its modules on a loaded 2-core machine has taken over 8 s
STOP_TIMEOUT_S = 20.0
LOG_TAIL = 12000

Transport = Literal["udp", "tcp"]


def _held(port: int, kind: int) -> bool:
    """Whether someone holds `port` of HOST (we cannot bind it)."""
    with socket.socket(socket.AF_INET, kind) as s:
        try:
            s.bind((HOST, port))
        except OSError:
            return True
        return False


def free_sip_port() -> int:
    """A port of HOST free for both UDP and TCP right now (SIP listens on both)."""
    return ports.free_port(both=True)


def listening(port: int) -> bool:
    return _held(port, socket.SOCK_DGRAM) and _held(port, socket.SOCK_STREAM)


def tail(path: Path, limit: int = LOG_TAIL) -> str:
    if not path.exists():
        return f"(no log at {path})"
    return path.read_text(errors="replace")[-limit:]


class Peer:
    """One third-party process in its own session, so stopping it reaches every child."""

    name = "peer"

    def __init__(self, proc: asyncio.subprocess.Process, port: int, log_path: Path) -> None:
        self.proc = proc
        self.host = HOST
        self.port = port
        self.log_path = log_path

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    def log(self) -> str:
        return f"--- {self.name} log ({self.log_path}) ---\n{tail(self.log_path)}"

    async def stop(self, timeout: float = STOP_TIMEOUT_S) -> int:
        """SIGTERM (the peer ends its dialogs and registrations), then SIGKILL to its process
        group past `timeout`; returns the exit code (negative: killed by that signal)."""
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.proc.wait(), timeout)
        await self.close()
        assert self.proc.returncode is not None
        return self.proc.returncode

    async def close(self) -> None:
        """Kill the process and all it forked (its own process group), and reap it."""
        _kill_group(self.proc.pid)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.proc.wait(), 5)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


async def _start(
    args: list[str], log_path: Path, ports: list[int], what: str
) -> asyncio.subprocess.Process | None:
    """Run `args` logging to `log_path`; the process once it listens on `ports` (UDP and TCP),
    None when it exited first (a port was taken meanwhile, say)."""
    with log_path.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            *args, stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    loop = asyncio.get_running_loop()
    deadline = loop.time() + START_TIMEOUT_S
    try:
        while not all(listening(port) for port in ports):
            if proc.returncode is not None:
                return None
            if loop.time() > deadline:
                raise AssertionError(f"{what} did not listen on {ports}:\n{tail(log_path)}")
            await asyncio.sleep(0.05)
    except BaseException:
        _kill_group(proc.pid)
        await proc.wait()
        raise
    return proc


# --- Kamailio -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProxyAuth:
    """Kamailio challenges initial INVITEs with 407 and accepts only this user and password."""

    user: str = "voxcast"
    password: str = "s3cret"
    realm: str = "kamailio-test"


def kamailio_cfg(
    port: int,
    route_port: int,
    next_hop: tuple[str, int],
    next_transport: Transport,
    auth: ProxyAuth | None,
) -> str:
    """A stateful, record-routing proxy: initial requests (to `port`, the trunk's address) go
    to `next_hop`, in-dialog ones only by their Route set (loose_route). The Record-Route names
    a second port, `route_port`, so the log tells a UA that follows the Route set (its ACK and
    BYE arrive on `route_port`) from one that sends them to the trunk's address; a request in
    a dialog without a Route to us is refused with 404 (an ACK is dropped) and logged
    VXNOROUTE. Every request and reply is logged as one VX... line."""
    auth_block = ""
    auth_module = ""
    if auth is not None:
        auth_module = f'loadmodule "auth.so"\nmodparam("auth", "secret", "{os.urandom(8).hex()}")'
        auth_block = f"""
    if (is_method("INVITE")) {{
        if (!pv_proxy_authenticate("{auth.realm}", "{auth.password}", "0")) {{
            xlog("L_NOTICE", "VXCHALLENGE $rm\\n");
            proxy_challenge("{auth.realm}", "0");
            exit;
        }}
        if ($au != "{auth.user}") {{
            sl_send_reply("403", "Wrong User");
            exit;
        }}
        consume_credentials();
    }}"""
    hop = f"sip:{next_hop[0]}:{next_hop[1]};transport={next_transport}"
    return f"""#!KAMAILIO
debug=2
log_stderror=yes
children=2
tcp_children=2
dns=no
rev_dns=no
use_dns_cache=no
auto_aliases=no
listen=udp:{HOST}:{port}
listen=tcp:{HOST}:{port}
listen=udp:{HOST}:{route_port}
listen=tcp:{HOST}:{route_port}
mpath="{KAMAILIO_MODULES}"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "siputils.so"
loadmodule "textops.so"
loadmodule "xlog.so"
{auth_module}
modparam("rr", "enable_full_lr", 1)
modparam("rr", "append_fromtag", 1)

request_route {{
    xlog("L_NOTICE", "VXIN $rm $ru cseq=$hdr(CSeq) from $si:$sp/$pr\\n");
    if (!mf_process_maxfwd_header("10")) {{
        sl_send_reply("483", "Too Many Hops");
        exit;
    }}
    if (has_totag()) {{
        if (loose_route()) {{
            xlog("L_NOTICE", "VXROUTED $rm cseq=$hdr(CSeq) from $si:$sp/$pr on $Rp to $du $ru\\n");
            route(RELAY);
        }}
        if (is_method("ACK") && t_check_trans()) {{
            route(RELAY);
        }}
        xlog("L_NOTICE", "VXNOROUTE $rm $ru cseq=$hdr(CSeq) from $si:$sp/$pr route=$hdr(Route)\\n");
        if (!is_method("ACK")) {{
            sl_send_reply("404", "Not Here");
        }}
        exit;
    }}
    if (is_method("CANCEL")) {{
        if (t_check_trans()) {{
            route(RELAY);
        }}
        exit;
    }}
    t_check_trans();
{auth_block}
    record_route_preset("{HOST}:{route_port};transport=$pr");
    $du = "{hop}";
    route(RELAY);
}}

route[RELAY] {{
    if (!t_relay()) {{
        sl_reply_error();
    }}
    exit;
}}

onreply_route {{
    xlog("L_NOTICE", "VXREPLY $rs $rr cseq=$hdr(CSeq) from $si:$sp/$pr\\n");
}}
"""


class Kamailio(Peer):
    name = "kamailio"
    #: the port its Record-Route names: in-dialog requests that follow the Route set come here
    route_port = 0

    def lines(self, kind: str, method: str | None = None) -> list[str]:
        """The log's `VX<kind>` lines (IN, ROUTED, NOROUTE, REPLY, CHALLENGE), of one method
        (for replies: the CSeq's method)."""
        found = []
        for line in tail(self.log_path, 10**7).splitlines():
            match = re.search(rf"VX{kind} (.*)$", line)
            if match is None:
                continue
            text = match.group(1)
            if method is None or text.split(" ")[0] == method or f" {method} from" in text:
                found.append(text)
        return found

    @classmethod
    async def start(
        cls,
        work: Path,
        next_hop: tuple[str, int],
        *,
        next_transport: Transport = "udp",
        auth: ProxyAuth | None = None,
    ) -> Kamailio:
        for attempt in range(START_ATTEMPTS):
            port = route_port = free_sip_port()
            while route_port == port:
                route_port = free_sip_port()
            cfg = _write(
                work,
                "kamailio.cfg",
                kamailio_cfg(port, route_port, next_hop, next_transport, auth),
            )
            check = await asyncio.create_subprocess_exec(
                KAMAILIO, "-c", "-f", str(cfg),
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip
            output, _ = await asyncio.wait_for(check.communicate(), 30)
            if check.returncode != 0:
                raise AssertionError(f"kamailio -c refused {cfg}:\n{output.decode()}")
            log_path = work / f"kamailio-{attempt}.log"
            args = [KAMAILIO, "-DD", "-E", "-m", "32", "-M", "4", "-f", str(cfg)]
            proc = await _start(args, log_path, [port, route_port], "kamailio")
            if proc is not None:
                proxy = cls(proc, port, log_path)
                proxy.route_port = route_port
                return proxy
        raise AssertionError(f"kamailio did not start:\n{tail(log_path)}")


def _write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


# --- baresip --------------------------------------------------------------------------------

#: the softphone's microphone: a steady tone, so what the far end hears is easy to tell from
#: silence; long enough for every test's call
TONE_HZ = 440
TONE_SECONDS = 60
SAMPLE_RATE = 8000  # baresip's aufile source wants the codec's rate


def write_tone(path: Path, seconds: int = TONE_SECONDS, hz: int = TONE_HZ) -> Path:
    frames = array(
        "h",
        (
            int(8000 * math.sin(2 * math.pi * hz * i / SAMPLE_RATE))
            for i in range(SAMPLE_RATE * seconds)
        ),
    )
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(frames.tobytes())
    return path


@dataclass(frozen=True)
class WavStats:
    seconds: float
    rms: float
    rate: int


def wav_stats(path: Path) -> WavStats:
    with wave.open(str(path)) as wav:
        assert wav.getsampwidth() == 2 and wav.getnchannels() == 1, path
        rate, data = wav.getframerate(), wav.readframes(wav.getnframes())
        if not data:
            # a header its writer never finalized (killed before closing the file) says 0
            # frames: the samples written are there all the same, after the header
            data = path.read_bytes()[44:]
    samples = array("h")
    samples.frombytes(data[: len(data) // 2 * 2])
    rms = math.sqrt(sum(s * s for s in samples) / len(samples)) if samples else 0.0
    return WavStats(len(samples) / rate, rms, rate)


@dataclass(frozen=True)
class AgentAccount:
    """Register at `registrar` as `user` with digest `password`."""

    registrar: tuple[str, int]
    user: str
    password: str
    regint: int = 60


def baresip_config(port: int, source: Path, recordings: Path, srtp: bool = False) -> str:
    """No sound card: the microphone is a WAV file (aufile), the speaker ALSA's null device,
    and the sndfile filter writes what is sent (-enc.wav) and received (-dec.wav) per call;
    with `srtp`, the SDES SRTP module is loaded too (accounts choose it by `mediaenc`)."""
    srtp_module = "module\t\t\tsrtp.so\n" if srtp else ""
    return f"""poll_method		epoll
sip_listen		{HOST}:{port}
net_interface		{HOST}
call_local_timeout	120
call_max_calls		4
audio_player		alsa,null
audio_source		aufile,{source}
audio_alert		alsa,null
audio_level		no
jitter_buffer_delay	5-10
rtp_stats		no
module_path		{BARESIP_MODULES}
module			g711.so
module			aufile.so
module			sndfile.so
module			alsa.so
{srtp_module}module_tmp		account.so
module_app		contact.so
snd_path		{recordings}
"""


def baresip_account(
    port: int, agent: AgentAccount | None, mediaenc: str | None = None, callee: str = "callee"
) -> str:
    """One account answering calls at once (answermode=auto): an agent registering with
    digest, or a plain callee that never registers, answering calls to the user `callee` (a
    Request-URI naming another is refused with 404); `mediaenc` (srtp, srtp-mand) makes the
    callee's media SRTP keyed in SDP."""
    if agent is None:
        enc = f";mediaenc={mediaenc}" if mediaenc else ""
        return f"<sip:{callee}@{HOST}:{port}>;regint=0;answermode=auto{enc}\n"
    host, reg_port = agent.registrar
    return (
        f"<sip:{agent.user}@{host}:{reg_port};transport=udp>;auth_user={agent.user};"
        f"auth_pass={agent.password};regint={agent.regint};answermode=auto\n"
    )


class Baresip(Peer):
    name = "baresip"

    def __init__(
        self, proc: asyncio.subprocess.Process, port: int, log_path: Path, recordings: Path
    ) -> None:
        super().__init__(proc, port, log_path)
        self.recordings = recordings

    def received(self) -> list[Path]:
        """WAV files of what each call received (sndfile's decode side), oldest first."""
        return sorted(self.recordings.glob("dump-*-dec.wav"))

    def sent(self) -> list[Path]:
        return sorted(self.recordings.glob("dump-*-enc.wav"))

    @classmethod
    async def start(
        cls,
        work: Path,
        agent: AgentAccount | None = None,
        mediaenc: str | None = None,
        source: Path | None = None,
        callee: str = "callee",
    ) -> Baresip:
        """`callee`: the user a plain callee answers as (the number dialed); `source`: the
        microphone's WAV (8 kHz mono 16-bit; baresip hangs up about a second
        after its end), by default the tone."""
        conf, microphone, recordings = _baresip_dirs(work, source)
        # stdbuf: baresip's messages reach the log as they happen, not when it exits
        stdbuf = shutil.which("stdbuf")
        prefix = [stdbuf, "-oL", "-eL"] if stdbuf else []
        for attempt in range(START_ATTEMPTS):
            port = free_sip_port()
            _write(
                conf, "config", baresip_config(port, microphone, recordings, mediaenc is not None)
            )
            _write(conf, "accounts", baresip_account(port, agent, mediaenc, callee))
            log_path = work / f"baresip-{attempt}.log"
            # -s: SIP trace, -v: verbose, both for the assertion messages
            args = [*prefix, BARESIP, "-f", str(conf), "-s", "-v"]
            proc = await _start(args, log_path, [port], "baresip")
            if proc is not None:
                return cls(proc, port, log_path, recordings)
        raise AssertionError(f"baresip did not start:\n{tail(log_path)}")


def _baresip_dirs(work: Path, source: Path | None) -> tuple[Path, Path, Path]:
    """The config folder (with an empty contacts file), the microphone's WAV (`source`, or a
    tone written there) and the folder for recordings."""
    conf, recordings = work / "conf", work / "recordings"
    _write(conf, "contacts", "")
    recordings.mkdir(parents=True, exist_ok=True)
    return conf, source or write_tone(work / "microphone.wav"), recordings


async def wait_for(check: object, timeout: float, what: str, *logs: Peer) -> None:
    """Poll the async predicate `check` every 50 ms until it is true; fail past `timeout`
    with the peers' logs."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():  # type: ignore[operator]
        if loop.time() > deadline:
            logs_text = "\n".join(p.log() for p in logs)
            raise AssertionError(f"{what} not within {timeout} s\n{logs_text}")
        await asyncio.sleep(0.05)
