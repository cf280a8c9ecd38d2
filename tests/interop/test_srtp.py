"""SRTP with SDES keys against baresip's srtp module: `voxcast call` through a trunk with
`--srtp mandatory` offers RTP/SAVP; baresip (mediaenc=srtp-mand) answers with its key, hears
the prompt decrypted and talks back encrypted; a baresip without SRTP refuses the offer (488)
and the call ends cleanly with that code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.integration.server import Cli
from tests.interop.conftest import StartBaresip
from tests.interop.peers import wav_stats
from tests.interop.test_baresip_callee import PACKETS_PER_SECOND, SPEECH_RMS, TONE_RMS, run_call

pytestmark = pytest.mark.timeout(60)

TEXT = "Hello, this is voxcast calling over SRTP to check the keys."


def add_trunk(cli: Cli, host: str, port: int, srtp: str) -> str:
    proc = cli.invoke(
        "admin", "trunk", "add", "--name", "softphone", "--host", host, "--port", str(port),
        "--caller-id", "1000", "--srtp", srtp,
    )  # fmt: skip
    return proc.stdout + proc.stderr


async def test_an_srtp_call_to_baresip_carries_audio_both_ways(
    tmp_path: Path, baresip: StartBaresip
) -> None:
    phone = await baresip(mediaenc="srtp-mand")
    cli = Cli.fresh(f"sqlite:///{tmp_path}/v.db", tmp_path / "var")
    added = " ".join(add_trunk(cli, phone.host, phone.port, "mandatory").split())
    assert "SRTP mandatory" in added, added
    assert "the SRTP keys travel in the clear" in added, added  # UDP signalling: warned
    record = tmp_path / "far.wav"
    code, out = await run_call(
        cli, "--trunk", "softphone", "--to", "callee", "--say", TEXT, "--record", str(record)
    )
    exit_code = await phone.stop()
    context = f"{out}\n{phone.log()}"
    assert code == 0, context
    assert exit_code == 0, context
    # baresip's SIP trace (-s) shows the offer it got and the answer it sent: RTP/SAVP, keyed
    log = phone.log_path.read_text(errors="replace")
    assert "m=audio" in log and "RTP/SAVP" in log, context
    assert "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" in log, context
    outcome = re.search(
        r"outcome: sip 200 \([^)]*\), hung up by us, talk ([\d.]+) s, keys -, "
        r"rtp sent (\d+) received (\d+), srtp (\S+) dropped (\d+)",
        " ".join(out.split()),
    )
    assert outcome is not None, context
    sent, received = int(outcome.group(2)), int(outcome.group(3))
    assert outcome.group(4) == "AES_CM_128_HMAC_SHA1_80", context
    assert outcome.group(5) == "0", context  # every packet of baresip's authenticated
    prompt_s = sent / PACKETS_PER_SECOND
    assert prompt_s > 2.5, context
    assert received > PACKETS_PER_SECOND * 2, context
    # baresip decrypted the prompt: about its length, and speech, not noise-free silence
    [heard] = phone.received()
    heard_stats = wav_stats(heard)
    assert heard_stats.seconds == pytest.approx(prompt_s, abs=0.5), (heard_stats, context)
    assert heard_stats.rms > SPEECH_RMS, (heard_stats, context)
    # and voxcast decrypted baresip's tone
    ours = wav_stats(record)
    assert ours.seconds == pytest.approx(prompt_s, abs=0.5), (ours, context)
    assert ours.rms > TONE_RMS, (ours, context)


async def test_a_far_end_without_srtp_refuses_the_savp_offer_and_the_call_fails_with_488(
    tmp_path: Path, baresip: StartBaresip
) -> None:
    phone = await baresip()  # no srtp module: RTP/AVP only
    cli = Cli.fresh(f"sqlite:///{tmp_path}/v.db", tmp_path / "var")
    add_trunk(cli, phone.host, phone.port, "mandatory")
    code, out = await run_call(cli, "--trunk", "softphone", "--to", "callee", "--say", TEXT)
    await phone.stop()
    context = f"{out}\n{phone.log()}"
    assert code == 1, context
    flat = " ".join(out.split())
    assert re.search(r"← 127\.0\.0\.1:\d+ 488 ", flat), context
    assert re.search(r"outcome: sip 488 \([^)]*\), hung up by network, talk 0\.0 s", flat), context
    assert "Traceback" not in out, context
