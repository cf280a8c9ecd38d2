"""A voxcast cluster on this machine, each node a host of its own: a private bridge with a
10.x.y.0/24 network picked for the run, three network namespaces (one `voxcast worker` each,
its own address and SIP port 5060), Kamailio on the bridge (deploy/kamailio/kamailio.cfg, its
dispatcher probing the nodes with OPTIONS) and PostgreSQL, which listens on 127.0.0.1 only (or
on another host the namespaces have no route to), reached from them through a socat relay on
the bridge address. Everything made here
is named after the test process (pid and a counter) and undone on the way out, failure or not.
Needs root (ip netns)."""

from __future__ import annotations

import contextlib
import itertools
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "deploy" / "kamailio" / "kamailio.cfg"
KAMAILIO = "/usr/sbin/kamailio"
KAMCMD = "/usr/sbin/kamcmd"
VOXCAST = str(Path(sys.executable).parent / "voxcast")
SIP_PORT = 5060
PG_PORT = 5432
_runs = itertools.count(1)


def sh(*args: str) -> str:
    done = subprocess.run(args, capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def pick_prefix() -> str:
    """A 10.x.y of no route or address of this machine (the pid picks first, so parallel
    runs differ; a taken one is passed over)."""
    used = sh("ip", "-4", "route", "show", "table", "all") + sh("ip", "-4", "addr")
    pid = os.getpid()
    first = f"10.{200 + (pid >> 8) % 50}.{pid % 256}"
    rng = random.Random(pid)
    others = (f"10.{rng.randint(200, 249)}.{rng.randint(0, 255)}" for _ in range(50))
    for prefix in itertools.chain([first], others):
        if not re.search(rf"\b{re.escape(prefix)}\.", used):
            return prefix
    raise RuntimeError("no free 10.x.y.0/24 network for the cluster")


@dataclass
class Node:
    """One voxcast node: a namespace, an address, and the worker process running there."""

    name: str
    namespace: str
    ip: str
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"sip:{self.ip}:{SIP_PORT}"

    def kill(self) -> None:
        """SIGKILL: the host vanishes as in a power cut."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def dialed(self) -> list[str]:
        """The numbers this node's dialer called (its debug line per ended call)."""
        text = self.log.read_text(errors="replace")
        return re.findall(r"call to (\d+) ended: SIP", text)


@dataclass
class Cluster:
    prefix: str
    bridge: str
    nodes: list[Node]
    kamailio_ctl: str
    kamailio_log: Path
    work: Path
    undo: list[Callable[[], None]] = field(default_factory=list)

    @property
    def host_ip(self) -> str:
        """The bridge's own address: Kamailio listens here."""
        return f"{self.prefix}.1"

    @property
    def relay_ip(self) -> str:
        """The bridge's second address, the PostgreSQL relay's: a node's route to it can be
        cut without cutting it off from Kamailio."""
        return f"{self.prefix}.2"

    def node_database_url(self, url: str) -> str:
        """`url` (the PostgreSQL the relay leads to) as the nodes reach it: the relay."""
        relayed = make_url(url).set(host=self.relay_ip, port=PG_PORT)
        return relayed.render_as_string(hide_password=False)

    def cut_database(self, node: Node) -> None:
        """The node loses its link to PostgreSQL (its packets to the relay go nowhere: new
        connections are refused at once, open ones hang), not to Kamailio."""
        sh("ip", "-n", node.namespace, "route", "add", "unreachable", f"{self.relay_ip}/32")

    def restore_database(self, node: Node) -> None:
        sh("ip", "-n", node.namespace, "route", "del", "unreachable", f"{self.relay_ip}/32")

    def start_node(self, node: Node, env: dict[str, str], speed: float) -> None:
        node_env = dict(env)
        node_env.update(
            {
                "VOXCAST_DATA_DIR": str(self.work / node.name),
                "VOXCAST_REGISTRAR": f"{node.ip}:{SIP_PORT}",
                "VOXCAST_SIP_BIND_HOST": node.ip,
            }
        )
        with node.log.open("ab") as out:
            node.proc = subprocess.Popen(
                [
                    *("ip", "netns", "exec", node.namespace, VOXCAST, "worker"),
                    *("--sandbox-speed", str(speed), "--log-level", "debug"),
                ],
                env=node_env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def wait_nodes_listening(self, timeout: float = 60) -> None:
        """Until every running node's registrar holds its SIP port."""
        deadline = time.monotonic() + timeout
        for node in self.nodes:
            self.wait_node_listening(node, 0, deadline - time.monotonic())

    def wait_node_listening(self, node: Node, since: int, timeout: float) -> None:
        """Until `node`'s registrar holds its SIP port, as its log says past byte `since` (a
        restarted node's log goes on after its previous process's)."""
        deadline = time.monotonic() + timeout
        while b"registrar listening on" not in node.log.read_bytes()[since:]:
            assert node.proc is not None and node.proc.poll() is None, node.log.read_text()
            assert time.monotonic() < deadline, node.log.read_text()[-3000:]
            time.sleep(0.1)

    def dispatcher_flags(self) -> dict[str, str]:
        """Each node's state in Kamailio's dispatcher: "AP" (active, probed), "IP" (inactive
        after a failed probe), "DX" (disabled by the operator)..."""
        out = sh(KAMCMD, "-s", self.kamailio_ctl, "dispatcher.list")
        flags = dict(re.findall(r"URI: (sip:\S+)\s+FLAGS: (\w+)", out))
        return {n.ip: flags.get(n.uri, "?") for n in self.nodes}

    def wait_dispatcher(self, want: Callable[[dict[str, str]], bool], timeout: float) -> None:
        """Until the dispatcher's flags satisfy `want` (fails past `timeout` seconds)."""
        deadline = time.monotonic() + timeout
        while True:
            flags = self.dispatcher_flags()
            if want(flags):
                return
            assert time.monotonic() < deadline, (flags, self.kamailio_log.read_text())
            time.sleep(0.05)


def _run(undo: list[Callable[[], None]], *args: str, then: tuple[str, ...] = ()) -> None:
    """Run `args`; on success remember `then` to undo it."""
    sh(*args)
    if then:

        def back() -> None:
            sh(*then)

        undo.append(back)


def _stop(*procs: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM to all at once, then SIGKILL to any still there after 15 s."""
    running = [p for p in procs if p is not None and p.poll() is None]
    for proc in running:
        proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for proc in running:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@contextlib.contextmanager
def cluster(
    work: Path, database: tuple[str, int] = ("127.0.0.1", PG_PORT), size: int = 3
) -> Iterator[Cluster]:
    """The bridge, `size` namespaces, the relay to PostgreSQL at `database` (host, port) and
    Kamailio; the nodes' workers are started by the test (`start_node`) and stopped here."""
    tag = f"{os.getpid()}{next(_runs)}"
    prefix = pick_prefix()
    bridge = f"vxb{tag}"
    work.mkdir(parents=True, exist_ok=True)
    undo: list[Callable[[], None]] = []
    nodes = [
        Node(f"node{i}", f"voxcast-{tag}-n{i}", f"{prefix}.{10 + i}", work / f"node{i}.log")
        for i in range(1, size + 1)
    ]
    ctl = f"/tmp/voxcast-kam-{tag}.ctl"  # unix socket names are limited to 108 bytes
    net = Cluster(prefix, bridge, nodes, f"unix:{ctl}", work / "kamailio.log", work, undo)
    try:
        _run(
            undo, "ip", "link", "add", bridge, "type", "bridge", then=("ip", "link", "del", bridge)
        )
        sh("ip", "addr", "add", f"{net.host_ip}/24", "dev", bridge)
        sh("ip", "addr", "add", f"{net.relay_ip}/24", "dev", bridge)
        sh("ip", "link", "set", bridge, "up")
        for i, node in enumerate(nodes, start=1):
            ns = node.namespace
            _run(undo, "ip", "netns", "add", ns, then=("ip", "netns", "del", ns))
            host_end, node_end = f"vxh{tag}{i}", f"vxe{tag}{i}"
            # the node's end moves into the namespace: deleting the namespace deletes the pair
            sh("ip", "link", "add", host_end, "type", "veth", "peer", "name", node_end)
            sh("ip", "link", "set", node_end, "netns", ns)
            sh("ip", "link", "set", host_end, "master", bridge, "up")
            sh("ip", "-n", ns, "addr", "add", f"{node.ip}/24", "dev", node_end)
            sh("ip", "-n", ns, "link", "set", node_end, "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        # stopped before the namespaces go (undo runs backwards)
        undo.append(lambda: _stop(*(n.proc for n in nodes)))
        with (work / "relay.log").open("wb") as relay_log:
            relay = subprocess.Popen(
                [
                    "socat",
                    f"TCP-LISTEN:{PG_PORT},bind={net.relay_ip},reuseaddr,fork",
                    f"TCP:{database[0]}:{database[1]}",
                ],
                stdout=subprocess.DEVNULL,
                stderr=relay_log,
            )
        undo.append(lambda: _stop(relay))
        listing = work / "dispatcher.list"
        listing.write_text("".join(f"1 {n.uri} 0 0\n" for n in nodes))
        env = dict(
            os.environ,
            KAMAILIO_LISTEN=f"udp:{net.host_ip}:{SIP_PORT}",
            KAMAILIO_DISPATCHER=str(listing),
            KAMAILIO_CTL=net.kamailio_ctl,
        )
        with net.kamailio_log.open("wb") as out:
            kamailio = subprocess.Popen(
                [KAMAILIO, "-DD", "-E", "-m", "32", "-M", "4", "-f", str(TEMPLATE)],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        undo.append(lambda: _stop(kamailio))
        undo.append(lambda: Path(ctl).unlink(missing_ok=True))
        deadline = time.monotonic() + 20
        while not os.path.exists(ctl):
            assert kamailio.poll() is None, net.kamailio_log.read_text()
            assert time.monotonic() < deadline, net.kamailio_log.read_text()
            time.sleep(0.05)
        yield net
    finally:
        errors = []
        for step in reversed(undo):
            try:
                step()
            except Exception as e:  # undo the rest all the same
                errors.append(e)
        if errors:
            raise errors[0]
