"""`voxcast call` to baresip: a real softphone answers (auto-answer), hears the whole prompt
and talks back (its tone), and `voxcast call` prints the outcome and exits 0."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from tests.integration.server import Cli
from tests.interop.conftest import StartBaresip
from tests.interop.peers import wav_stats

pytestmark = pytest.mark.timeout(45)

TEXT = "Hello, this is voxcast calling a real softphone to check the trunk."
PACKETS_PER_SECOND = 50
#: RMS levels telling audio from silence: baresip's tone is at 5657 (G.711 keeps it whole),
#: espeak's speech at about 3000 over the prompt; silence or a lost stream is near 0
TONE_RMS = 4000
SPEECH_RMS = 1000


async def run_call(cli: Cli, *args: str) -> tuple[int, str]:
    # in process (a thread, as the command runs its own event loop): the call is the subject,
    # not the process, which would cost seconds of CPU to import the SIP stack and audio again
    call = asyncio.to_thread(cli.invoke, "call", *args, check=False)
    proc = await asyncio.wait_for(call, 40)
    return proc.returncode, proc.stdout + proc.stderr


async def test_baresip_answers_a_voxcast_call_and_hears_the_prompt(
    tmp_path: Path, baresip: StartBaresip
) -> None:
    phone = await baresip()
    cli = Cli.fresh(f"sqlite:///{tmp_path}/v.db", tmp_path / "var")
    cli.invoke("admin", "trunk", "add", "--name", "softphone", "--host", phone.host,
               "--port", str(phone.port), "--caller-id", "1000")  # fmt: skip
    record = tmp_path / "far.wav"
    code, out = await run_call(
        cli, "--trunk", "softphone", "--to", "callee", "--say", TEXT, "--record", str(record)
    )
    exit_code = await phone.stop()  # closes its recordings
    context = f"{out}\n{phone.log()}"
    assert code == 0, context
    assert exit_code == 0, context
    for line in ("INVITE sip:callee@", "200 ", "ACK sip:", "BYE sip:"):
        assert line in out, context
    # rich wraps the outcome at the terminal width: read it as one line
    outcome = re.search(
        r"outcome: sip 200 \([^)]*\), hung up by us, talk ([\d.]+) s, keys -, "
        r"rtp sent (\d+) received (\d+)",
        " ".join(out.split()),
    )
    assert outcome is not None, context
    talk_s, sent = float(outcome.group(1)), int(outcome.group(2))
    prompt_s = sent / PACKETS_PER_SECOND
    assert prompt_s > 2.5, context
    assert talk_s == pytest.approx(prompt_s, abs=0.3), context
    # baresip heard the prompt: about its length, and not silence
    [heard] = phone.received()
    heard_stats = wav_stats(heard)
    assert heard_stats.seconds == pytest.approx(prompt_s, abs=0.5), (heard_stats, context)
    assert heard_stats.rms > SPEECH_RMS, (heard_stats, context)
    # and voxcast heard baresip: its recording holds the softphone's tone
    ours = wav_stats(record)
    assert ours.rate == 8000, context
    assert ours.seconds == pytest.approx(prompt_s, abs=0.5), (ours, context)
    assert ours.rms > TONE_RMS, (ours, context)
