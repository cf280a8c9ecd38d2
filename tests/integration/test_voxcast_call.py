"""`voxcast call` and `voxcast admin trunk` as a user runs them, against SIPp: the trunk is
added with the CLI, the call prints each SIP message and the outcome, and exits 0 only when
the call was answered. TCP trunks too."""

from __future__ import annotations

import asyncio
import wave
from pathlib import Path

from tests.integration.server import Cli
from tests.sipp.runner import Sipp


async def run_call(cli: Cli, *args: str) -> tuple[int, str]:
    # in process (a thread, as the command runs its own event loop): the call is the subject,
    # not the process, which would cost seconds of CPU to import the SIP stack and audio again
    call = asyncio.to_thread(cli.invoke, "call", *args, check=False)
    proc = await asyncio.wait_for(call, 60)
    return proc.returncode, proc.stdout + proc.stderr


async def test_a_call_through_a_udp_trunk_prints_messages_and_outcome(tmp_path: Path) -> None:
    cli = Cli.fresh(f"sqlite:///{tmp_path}/v.db", tmp_path / "var")
    sipp = await Sipp.start("answer_dtmf.xml")
    try:
        cli.invoke("admin", "trunk", "add", "--name", "lab", "--host", sipp.host,
                   "--port", str(sipp.port), "--caller-id", "1000")  # fmt: skip
        listed = cli.invoke("admin", "trunk", "list").stdout
        assert "lab" in listed and "udp" in listed
        record = tmp_path / "far.wav"
        code, out = await run_call(
            cli, "--trunk", "lab", "--to", "8613000000000",
            "--say", "Hello, this is voxcast checking the trunk.", "--loops", "2",
            "--record", str(record),
        )  # fmt: skip
        far = await sipp.wait(15)
    finally:
        sipp.cleanup()
    assert code == 0, out
    assert far.ok, far
    for line in ("INVITE sip:8613000000000@", "180 Ringing", "200 OK", "ACK sip:", "BYE sip:"):
        assert line in out, out
    assert "outcome: sip 200" in out and "keys 1" in out
    # SIPp echoed our RTP: the recording holds what it received, as long as what we played
    with wave.open(str(record)) as wav:
        assert wav.getframerate() == 8000 and wav.getnframes() > 8000


async def test_a_refused_call_exits_1_with_the_code(tmp_path: Path) -> None:
    cli = Cli.fresh(f"sqlite:///{tmp_path}/v.db", tmp_path / "var")
    sipp = await Sipp.start("reject_486.xml", transport="tcp")
    try:
        cli.invoke("admin", "trunk", "add", "--name", "lab", "--host", sipp.host,
                   "--port", str(sipp.port), "--transport", "tcp")  # fmt: skip
        code, out = await run_call(cli, "--trunk", "lab", "--to", "8613000000005", "--say", "Hi")
        far = await sipp.wait(15)
    finally:
        sipp.cleanup()
    assert code == 1, out
    assert far.ok, far
    assert "outcome: sip 486" in out


async def test_bad_trunk_options_and_unknown_trunks_are_clear_errors(tmp_path: Path) -> None:
    cli = Cli.fresh(f"sqlite:///{tmp_path}/v.db", tmp_path / "var")
    bad = cli.invoke("admin", "trunk", "add", "--name", "x", "--host", "127.0.0.1",
                     "--transport", "sctp", check=False)  # fmt: skip
    assert bad.returncode == 2 and "--transport" in bad.stderr + bad.stdout
    unknown = cli.invoke("call", "--trunk", "nope", "--to", "1", "--say", "Hi", check=False)
    code, out = unknown.returncode, unknown.stdout + unknown.stderr
    assert code == 2 and "no trunk named 'nope'" in out
    used = cli.invoke("admin", "trunk", "use", "--account-id", "1", "--trunk", "nope", check=False)
    assert used.returncode == 2 and "no trunk" in used.stderr + used.stdout
