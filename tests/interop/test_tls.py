"""SIP over TLS trunks (RFC 3261 §26) against Kamailio's tls.so: a certificate made by the test's
own CA, Kamailio listening for TLS on 127.0.0.1 and relaying (stateful, record-routing) to a
SIPp callee over UDP. `voxcast call` completes through it when the trunk trusts that CA, and
is refused with 503 and a line naming the certificate when it does not."""

from __future__ import annotations

import asyncio
import re
import socket
from pathlib import Path

import pytest

from tests import ports
from tests.integration.server import Cli
from tests.interop.certs import Pki, make_pki
from tests.interop.peers import (
    HOST,
    KAMAILIO,
    START_ATTEMPTS,
    Kamailio,
    _start,
    _write,
    free_sip_port,
    kamailio_cfg,
    tail,
)
from tests.sipp.runner import Sipp

TLS_MODULE = "/usr/lib/x86_64-linux-gnu/kamailio/modules/tls.so"
CALLEE = "8613000000042"
#: answer_then_hangup.xml echoing Record-Route and hanging up along the route set
#: longer than the callee's 1 s before it hangs up: the call ends with its BYE, not ours
PROMPT = "Hello, this is voxcast calling over TLS."
CALLEE_SCENARIO = str(Path(__file__).parent / "answer_then_hangup_rr.xml")
#: SIPp's whole run: the refused calls before the trusted one are CLI runs of a few seconds
#: each on a loaded machine, and SIPp must still be there for the last one
SIPP_TIMEOUT_S = 120


@pytest.fixture(autouse=True)
def _needs_tls_module() -> None:
    if not Path(TLS_MODULE).exists():
        pytest.fail(f"{TLS_MODULE} is missing: run scripts/setup-system.sh (kamailio-tls-modules)")


# --- Kamailio with tls.so -------------------------------------------------------------------


def free_tcp_port() -> int:
    return ports.free_port(socket.SOCK_STREAM)


def tls_domains_cfg(pki: Pki) -> str:
    """tls.so's domains: `pki`'s certificate for every server connection, no client
    certificate asked for; Kamailio's own client side (none here) checks nothing."""
    return f"""[server:default]
method = TLSv1.2+
verify_certificate = no
require_certificate = no
certificate = {pki.cert}
private_key = {pki.key}

[client:default]
method = TLSv1.2+
verify_certificate = no
require_certificate = no
"""


def tls_kamailio_cfg(port: int, tls_port: int, next_hop: tuple[str, int], tls_cfg: Path) -> str:
    """peers.kamailio_cfg (the record-routing proxy to `next_hop` over UDP) listening for TLS
    on `tls_port` too, with the domains of `tls_cfg`."""
    cfg = kamailio_cfg(port, free_sip_port(), next_hop, "udp", None)
    anchor = "mpath="
    assert cfg.count(anchor) == 1, "peers.kamailio_cfg changed shape"
    # requests that came over TLS are record-routed on the TLS socket itself (and, double,
    # on the UDP one towards the callee): the plain route port takes no TLS
    preset = cfg[cfg.index("    record_route_preset(") :].split("\n", 1)[0]
    cfg = cfg.replace(
        preset,
        f'    if ($pr == "tls") {{\n        record_route();\n    }} else {{\n    {preset}\n    }}',
    )
    tls = f"""enable_tls=yes
listen=tls:{HOST}:{tls_port}
"""
    module = f"""loadmodule "tls.so"
modparam("tls", "config", "{tls_cfg}")
"""
    head, rest = cfg.split(anchor, 1)
    mpath_line, after = rest.split("\n", 1)
    return f"{head}{tls}{anchor}{mpath_line}\n{module}{after}"


class TlsKamailio(Kamailio):
    name = "kamailio-tls"
    tls_port = 0

    @classmethod
    async def start_tls(cls, work: Path, next_hop: tuple[str, int], pki: Pki) -> TlsKamailio:
        for attempt in range(START_ATTEMPTS):
            port, tls_port = free_sip_port(), free_tcp_port()
            tls_cfg = _write(work, "tls.cfg", tls_domains_cfg(pki))
            cfg = _write(work, "kamailio.cfg", tls_kamailio_cfg(port, tls_port, next_hop, tls_cfg))
            check = await asyncio.create_subprocess_exec(
                KAMAILIO, "-c", "-f", str(cfg),
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip
            output, _ = await asyncio.wait_for(check.communicate(), 30)
            if check.returncode != 0:
                raise AssertionError(f"kamailio -c refused {cfg}:\n{output.decode()}")
            log_path = work / f"kamailio-{attempt}.log"
            args = [KAMAILIO, "-DD", "-E", "-m", "32", "-M", "4", "-f", str(cfg)]
            proc = await _start(args, log_path, [port], "kamailio")
            if proc is None:
                continue
            proxy = cls(proc, port, log_path)
            proxy.tls_port = tls_port
            if await _accepts(tls_port):
                return proxy
            await proxy.close()
        raise AssertionError(f"kamailio (TLS) did not start:\n{tail(log_path)}")


async def _accepts(port: int, timeout: float = 5.0) -> bool:
    """Whether something accepts TCP connections on `port` of HOST within `timeout`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        try:
            _, writer = await asyncio.open_connection(HOST, port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        return True
    return False


# --- the tests ------------------------------------------------------------------------------


async def run_call(cli: Cli, *args: str) -> tuple[int, str]:
    # a process of its own: the TLS warnings checked here are what its log prints on stderr
    proc = await asyncio.to_thread(cli.run, "call", *args, check=False, timeout=60)
    return proc.returncode, proc.stdout + proc.stderr


def add_tls_trunk(cli: Cli, proxy: TlsKamailio, *options: str) -> str:
    return cli.invoke("admin", "trunk", "add", "--name", "tls", "--host", HOST,
            "--port", str(proxy.tls_port), "--transport", "tls", "--caller-id", "1000",
            *options).stdout  # fmt: skip


async def test_a_call_through_kamailio_over_tls_completes(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki", "trusted")
    cli = Cli.fresh(f"sqlite:///{tmp_path}/v.db", tmp_path / "var")
    sipp = await Sipp.start(CALLEE_SCENARIO, duration_ms=1000, timeout_s=SIPP_TIMEOUT_S)
    proxy = await TlsKamailio.start_tls(tmp_path / "kamailio", sipp.address, pki)
    try:
        added = add_tls_trunk(cli, proxy, "--tls-ca", str(pki.ca))
        assert added == f"trunk tls: sip:{HOST}:{proxy.tls_port} over tls\n"
        code, out = await run_call(cli, "--trunk", "tls", "--to", CALLEE, "--say", PROMPT)
        far = await sipp.wait(15)
    finally:
        sipp.cleanup()
        await proxy.close()
    assert code == 0, out + proxy.log()
    assert far.ok, f"{far}\n{out}\n{proxy.log()}"
    # voxcast spoke TLS to the proxy's TLS port, from one connection (its port: `ours`)
    invites = proxy.lines("IN", "INVITE")
    assert len(invites) == 1, proxy.log()
    sent = re.fullmatch(
        rf"INVITE sip:{CALLEE}@{HOST}:{proxy.tls_port} cseq=1 INVITE from {HOST}:(\d+)/tls",
        invites[0],
    )
    assert sent is not None, invites
    ours = sent.group(1)

    # our ACK took the record-route over the same connection; the callee's BYE came back to
    # our Contact (transport=tls) through the proxy, which reused that connection
    def routed(method: str) -> list[str]:  # without the receiving port: both sides' are ours
        return [re.sub(r" on \d+ ", " ", line) for line in proxy.lines("ROUTED", method)]

    assert proxy.lines("ROUTED", "ACK")[0].startswith(
        f"ACK cseq=1 ACK from {HOST}:{ours}/tls on {proxy.tls_port} "
    )
    assert routed("ACK") == [
        f"ACK cseq=1 ACK from {HOST}:{ours}/tls to <null> sip:{HOST}:{sipp.port};transport=UDP"
    ], proxy.log()
    assert routed("BYE") == [
        f"BYE cseq=1 BYE from {HOST}:{sipp.port}/udp to <null> sip:1000@{HOST}:{ours};transport=tls"
    ], proxy.log()
    assert proxy.lines("REPLY", "BYE") == [f"200 OK cseq=1 BYE from {HOST}:{ours}/tls"]
    assert f"← {HOST}:{proxy.tls_port}  BYE sip:1000@{HOST}:{ours};transport=tls" in out, out
    assert "outcome: sip 200" in out, out
    assert proxy.lines("NOROUTE") == []


async def test_a_certificate_from_an_unknown_ca_is_refused_unless_the_trunk_trusts_it(
    tmp_path: Path,
) -> None:
    pki = make_pki(tmp_path / "pki", "unknown")
    other = make_pki(tmp_path / "other", "other")
    cli = Cli.fresh(f"sqlite:///{tmp_path}/v.db", tmp_path / "var")
    sipp = await Sipp.start(CALLEE_SCENARIO, duration_ms=1000, timeout_s=SIPP_TIMEOUT_S)
    proxy = await TlsKamailio.start_tls(tmp_path / "kamailio", sipp.address, pki)
    try:
        refused = []
        # the system's CAs (no --tls-ca), then another CA's file: both refuse the certificate
        for options in ((), ("--tls-ca", str(other.ca))):
            add_tls_trunk(cli, proxy, "--replace", *options)
            refused.append(await run_call(cli, "--trunk", "tls", "--to", CALLEE, "--say", PROMPT))
        assert proxy.lines("IN") == []  # no request crossed a refused connection
        add_tls_trunk(cli, proxy, "--replace", "--tls-ca", str(pki.ca))
        trusted = await run_call(cli, "--trunk", "tls", "--to", CALLEE, "--say", PROMPT)
        far = await sipp.wait(15)
    finally:
        sipp.cleanup()
        await proxy.close()
    for code, out in refused:
        assert code == 1, out
        # the log line (stderr) says which certificate and what to do
        assert (
            f"SIP: TLS: the certificate of {HOST}:{proxy.tls_port} was refused (unable to get "
            "local issuer certificate); give the trunk the CA that signed it (--tls-ca FILE) "
            "or fix its name\n"
        ) in out, out
        assert (
            f"outcome: sip 503 (trunk tls: TLS: the certificate of {HOST}:{proxy.tls_port} was "
            "refused (unable to get local issuer certificate); give the trunk the CA that "
            "signed it (--tls-ca FILE) or fix its name)"
        ) in " ".join(out.split()), out
    assert trusted[0] == 0, trusted[1]
    assert far.ok, far


async def test_tls_insecure_accepts_any_certificate_and_says_so(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki", "unknown")
    cli = Cli.fresh(f"sqlite:///{tmp_path}/v.db", tmp_path / "var")
    sipp = await Sipp.start(CALLEE_SCENARIO, duration_ms=1000, timeout_s=SIPP_TIMEOUT_S)
    proxy = await TlsKamailio.start_tls(tmp_path / "kamailio", sipp.address, pki)
    try:
        added = await asyncio.to_thread(
            cli.invoke, "admin", "trunk", "add", "--name", "tls", "--host", HOST,
            "--port", str(proxy.tls_port), "--transport", "tls", "--tls-insecure",
        )  # fmt: skip
        code, out = await run_call(cli, "--trunk", "tls", "--to", CALLEE, "--say", PROMPT)
        far = await sipp.wait(15)
    finally:
        sipp.cleanup()
        await proxy.close()
    assert " ".join(added.stderr.split()) == (
        "warning --tls-insecure: the trunk's certificate is NOT checked; use it for testing only"
    )
    assert code == 0, out
    assert far.ok, far
    assert (
        f"trunk tls: --tls-insecure: the certificate of {HOST} is NOT checked; anyone on the "
        "path can read and change these calls\n"
    ) in out, out


def test_tls_options_are_checked_when_the_trunk_is_added(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki", "x")
    cli = Cli.fresh(f"sqlite:///{tmp_path}/v.db", tmp_path / "var")
    base = ("admin", "trunk", "add", "--name", "t", "--host", HOST)
    cases = [
        (("--tls-ca", str(pki.ca)), "--tls-ca needs --transport tls"),
        (("--transport", "tls", "--tls-ca", str(tmp_path / "none.pem")), "--tls-ca: cannot load"),
        (("--transport", "tls", "--tls-ca", str(pki.ca), "--tls-insecure"),
         "--tls-insecure checks no certificate: drop --tls-ca or it"),
        (("--transport", "tls", "--tls-key", str(pki.key)), "--tls-key needs --tls-cert"),
        (("--transport", "tls", "--tls-cert", str(pki.ca)), "--tls-cert: cannot load"),
    ]  # fmt: skip
    for options, message in cases:
        proc = cli.invoke(*base, *options, check=False)
        assert proc.returncode == 2, (options, proc.stdout, proc.stderr)
        assert message in " ".join((proc.stdout + proc.stderr).split()), (options, proc.stderr)
    # TLS defaults to port 5061 (RFC 3261 §19.1.2); a certificate with its key is accepted
    added = cli.invoke(*base, "--transport", "tls", "--tls-cert", str(pki.cert),
                       "--tls-key", str(pki.key))  # fmt: skip
    assert added.stdout == f"trunk t: sip:{HOST}:5061 over tls\n"
