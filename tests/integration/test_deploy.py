"""The deploy/ folder: Kamailio accepts the config template (`kamailio -c`), and running it in
front of two fake voxcast nodes (UDP sockets answering its OPTIONS probes) it spreads calls
only over nodes that answer 200, adds a Path to agents' REGISTERs, drains a node on
`kamcmd dispatcher.set_state`, as docs/deployment.md says; the systemd units verify."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests import ports

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
TEMPLATE = DEPLOY / "kamailio" / "kamailio.cfg"
KAMAILIO = "/usr/sbin/kamailio"
KAMCMD = "/usr/sbin/kamcmd"
HOST = "127.0.0.1"
#: the template probes every 2 s; a state change must show within two probes and some slack
PROBE_WAIT_S = 6.0


def test_kamailio_accepts_the_template() -> None:
    checked = subprocess.run(
        [KAMAILIO, "-c", "-f", str(TEMPLATE)], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stderr
    assert "config file ok" in checked.stderr


@dataclass
class Node:
    """A fake voxcast node: answers OPTIONS with `probe_code`, INVITE and REGISTER with 486 /
    200, and keeps the requests other than OPTIONS it received."""

    probe_code: int
    sock: socket.socket = field(default_factory=lambda: socket.socket(type=socket.SOCK_DGRAM))
    received: list[str] = field(default_factory=list)
    probes: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.sock.bind((HOST, ports.free_port()))
        self.sock.settimeout(0.1)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def uri(self) -> str:
        return f"sip:{HOST}:{self.sock.getsockname()[1]}"

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                data, peer = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            text = data.decode()
            method = text.split(" ", 1)[0]
            if method == "OPTIONS":
                self.probes += 1
                self.sock.sendto(reply(text, self.probe_code), peer)
            elif method in ("INVITE", "REGISTER"):
                self.received.append(text)
                self.sock.sendto(reply(text, 486 if method == "INVITE" else 200), peer)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


def reply(request: str, code: int) -> bytes:
    """A response to `request` copying its Via, From, To, Call-ID and CSeq."""
    head = request.split("\r\n\r\n", 1)[0].split("\r\n")[1:]
    kept = [h for h in head if h.split(":", 1)[0].lower() in ("via", "from", "call-id", "cseq")]
    to = next(h for h in head if h.lower().startswith("to:"))
    if ";tag=" not in to:
        to += ";tag=node"
    reason = {200: "OK", 486: "Busy Here", 503: "Service Unavailable"}[code]
    lines = [f"SIP/2.0 {code} {reason}", *kept, to, "Content-Length: 0", "", ""]
    return "\r\n".join(lines).encode()


@dataclass
class Proxy:
    port: int
    ctl: str
    log: Path


@contextmanager
def running_kamailio(tmp_path: Path, nodes: list[Node]) -> Iterator[Proxy]:
    port = ports.free_port()
    listing = tmp_path / "dispatcher.list"
    listing.write_text("".join(f"1 {n.uri} 0 0\n" for n in nodes))
    # a short path: unix socket names are limited to 108 bytes
    ctl = f"/tmp/voxcast-kam-{uuid.uuid4().hex[:8]}.ctl"
    env = dict(
        os.environ,
        KAMAILIO_LISTEN=f"udp:{HOST}:{port}",
        KAMAILIO_DISPATCHER=str(listing),
        KAMAILIO_CTL=f"unix:{ctl}",
    )
    log = tmp_path / "kamailio.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [KAMAILIO, "-DD", "-E", "-m", "32", "-M", "4", "-f", str(TEMPLATE)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 20
        while not os.path.exists(ctl):
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        yield Proxy(port, f"unix:{ctl}", log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        if os.path.exists(ctl):
            os.unlink(ctl)


def send(proxy: Proxy, method: str, count: int = 1) -> list[str]:
    """Send `count` requests as a carrier (or an agent) would; returns the final answers."""
    sock = socket.socket(type=socket.SOCK_DGRAM)
    sock.bind((HOST, 0))
    sock.settimeout(5)
    local = sock.getsockname()[1]
    answers = []
    try:
        for i in range(count):
            call_id = uuid.uuid4().hex
            user = "8613000000010" if method == "INVITE" else f"agent{i}"
            lines = [
                f"{method} sip:{user}@{HOST}:{proxy.port} SIP/2.0",
                f"Via: SIP/2.0/UDP {HOST}:{local};branch=z9hG4bK{call_id[:10]};rport",
                "Max-Forwards: 70",
                f"From: <sip:{user}@carrier.test>;tag={call_id[:6]}",
                f"To: <sip:{user}@{HOST}>",
                f"Call-ID: {call_id}",
                f"CSeq: 1 {method}",
                f"Contact: <sip:{user}@10.9.8.7:5062>",
                "Content-Length: 0",
                "",
                "",
            ]
            sock.sendto("\r\n".join(lines).encode(), (HOST, proxy.port))
            while True:
                answer = sock.recv(65535).decode()
                code = int(answer.split(" ", 2)[1])
                if code >= 200:
                    answers.append(answer.split("\r\n", 1)[0])
                    break
    finally:
        sock.close()
    return answers


def wait_probed(nodes: list[Node], rounds: int = 1) -> None:
    """Until every node has answered `rounds` more probes (Kamailio has seen their state)."""
    start = [n.probes for n in nodes]
    deadline = time.monotonic() + PROBE_WAIT_S * rounds
    while any(n.probes < s + rounds for n, s in zip(nodes, start, strict=True)):
        assert time.monotonic() < deadline, "Kamailio stopped probing the nodes"
        time.sleep(0.05)
    time.sleep(0.2)  # the answers processed


def test_the_template_spreads_calls_over_answering_nodes_adds_path_and_drains(
    tmp_path: Path,
) -> None:
    healthy, cut_off = Node(200), Node(503)  # a node without PostgreSQL answers 503
    nodes = [healthy, cut_off]
    try:
        with running_kamailio(tmp_path, nodes) as proxy:
            wait_probed(nodes)
            # every call to the one node whose probes get 200
            assert send(proxy, "INVITE", 4) == ["SIP/2.0 486 Busy Here"] * 4
            assert len(healthy.received) == 4 and cut_off.received == []
            invite = healthy.received[0]
            assert re.search(rf"Record-Route: <sip:{HOST}:{proxy.port};lr", invite), invite
            # an agent's REGISTER reaches a node with a Path back through the proxy naming
            # where it really came from (its NAT binding)
            assert send(proxy, "REGISTER") == ["SIP/2.0 200 OK"]
            register = healthy.received[-1]
            path = re.search(r"^Path: (.*)$", register, re.M)
            assert path is not None, register
            assert f"sip:{HOST}:{proxy.port}" in path.group(1)
            assert "received=" in path.group(1)
            # the cut-off node answers again; the healthy one is drained by the operator
            cut_off.probe_code = 200
            wait_probed(nodes)
            drained = subprocess.run(
                [KAMCMD, "-s", proxy.ctl, "dispatcher.set_state", "dx", "1", healthy.uri],
                capture_output=True,
                text=True,
                timeout=10,
            )
            assert drained.returncode == 0, drained.stderr + drained.stdout
            before = len(healthy.received)
            wait_probed([cut_off], rounds=2)  # a drained node is not brought back by probes
            assert send(proxy, "INVITE", 4) == ["SIP/2.0 486 Busy Here"] * 4
            assert len(healthy.received) == before and len(cut_off.received) == 4
    finally:
        for node in nodes:
            node.close()


def test_the_systemd_units_verify(tmp_path: Path) -> None:
    units = sorted((DEPLOY / "systemd").glob("*.service"))
    assert [u.name for u in units] == ["voxcast-serve.service", "voxcast-worker@.service"]
    # systemd-analyze wants the ExecStart binary to exist: a stand-in for the installed one
    for unit in units:
        text = unit.read_text()
        exec_start = re.search(r"^ExecStart=(\S+)", text, re.M)
        assert exec_start is not None and exec_start.group(1) == "/opt/voxcast/bin/voxcast"
        local = tmp_path / unit.name.replace("@.", "@01.")  # an instance of the template
        local.write_text(text.replace("/opt/voxcast/bin/voxcast", shutil.which("true") or "true"))
        checked = subprocess.run(
            ["systemd-analyze", "verify", str(local)], capture_output=True, text=True, timeout=60
        )
        problems = [
            line
            for line in (checked.stderr + checked.stdout).splitlines()
            if local.name in line or "Unknown" in line or "Invalid" in line
        ]
        assert (checked.returncode, problems) == (0, []), checked.stderr
