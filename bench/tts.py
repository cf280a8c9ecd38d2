"""Text-to-speech, in one run: speed of voxcast's RenderPool against each engine's own loop, and
how well a caller understands each engine on a phone line.

1. espeak-ng: 1,000 distinct 100-character texts through the RenderPool (worker processes,
   libespeak-ng in-process, 8 kHz WAVs into the prompt cache) against the `espeak-ng` command
   once per text in a plain loop; also the other pool design (asyncio subprocesses running the
   command) and the latency of a cache hit.
2. Every English engine installed (espeak-ng male and female, piper joe-us, Festival us-slt-hts
   and flite slt through their commands, and whatever voxcast picks by default for ssmlGender
   1 and 2): word error rate on a payment reminder as heard by a packaged Whisper model (tiny.en)
   before and after the telephone chain (300-3400 Hz, 8 kHz, G.711 µ-law; tests/listen.py),
   six-digit OTP codes read back exactly, real-time factor, memory of one loaded voice, and for
   voxcast engines other than espeak-ng renders per second through the RenderPool against the
   engine's own loop (one process, voice loaded once).

Prints the espeak-ng ratio line (target >= 1.5 on two cores), one line per engine, and one line
per pool comparison (BENCH_TTS_TEXTS=0 skips part 1). Needs `pip install 'voxcast[piper,listen]'`
and scripts/setup-system.sh.
"""

from __future__ import annotations

import asyncio
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.listen

from voxcast.audio import PromptCache, RenderPool, RenderRequest, Voice, choose_voice
from voxcast.audio.pcm import resample_pcm
from voxcast.audio.tts import EspeakEngine, PiperEngine, Speech, engine, piper_installed
from voxcast.audio.voices import espeak_wpm

N = int(os.environ.get("BENCH_TTS_TEXTS", "1000"))
#: texts for the pool comparison of the slower (neural, HMM) engines
N_SLOW = int(os.environ.get("BENCH_TTS_SLOW_TEXTS", "40"))
WORDS = [
    "your",
    "appointment",
    "payment",
    "order",
    "parcel",
    "account",
    "balance",
    "invoice",
    "reminder",
    "confirmed",
    "tomorrow",
    "today",
    "morning",
    "evening",
    "please",
    "call",
    "back",
    "press",
    "one",
    "two",
    "three",
    "thank",
    "you",
    "for",
    "choosing",
    "our",
    "service",
    "delivery",
    "will",
    "arrive",
    "between",
    "and",
    "code",
    "number",
    "is",
    "due",
    "on",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
]


def texts(n: int, seed: int = 5) -> list[str]:
    rng = random.Random(seed)
    out: list[str] = []
    for i in range(n):
        words = [f"Reference {i}."]
        while sum(len(w) + 1 for w in words) < 100:
            words.append(rng.choice(WORDS))
        out.append(" ".join(words)[:99] + ".")
    return out


# --- 1. espeak-ng: pool against the command loop ---------------------------------------------


def baseline(items: list[str], voice_name: str, wpm: int, out_dir: Path) -> float:
    exe = shutil.which("espeak-ng")
    assert exe, "espeak-ng is not installed (bash scripts/setup-system.sh)"
    started = time.perf_counter()
    for i, text in enumerate(items):
        subprocess.run(
            [exe, "-v", voice_name, "-s", str(wpm), "-w", str(out_dir / f"{i}.wav"), text],
            check=True,
        )
    return time.perf_counter() - started


async def asyncio_subprocesses(items: list[str], voice_name: str, wpm: int) -> float:
    """The alternative pool: one `espeak-ng` process per text, `cores` at a time."""
    exe = shutil.which("espeak-ng")
    assert exe
    gate = asyncio.Semaphore(os.cpu_count() or 1)

    async def one(text: str) -> None:
        async with gate:
            proc = await asyncio.create_subprocess_exec(
                exe,
                "-v",
                voice_name,
                "-s",
                str(wpm),
                "--stdout",
                "--stdin",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
            )
            out, _ = await proc.communicate(text.encode())
        resample_pcm(out[44:], int.from_bytes(out[24:28], "little"))

    started = time.perf_counter()
    await asyncio.gather(*(one(t) for t in items))
    return time.perf_counter() - started


async def espeak_pool() -> None:
    items = texts(N)
    # espeak-ng en-us, female (the default female voice is now festival's)
    voice = choose_voice("EN", "1", 2, 1.0, engines=[EspeakEngine()])
    wpm = espeak_wpm(voice.rate)
    with tempfile.TemporaryDirectory() as tmp:
        base_s = baseline(items, voice.name, wpm, Path(tmp))
    alt_s = await asyncio_subprocesses(items, voice.name, wpm)
    with tempfile.TemporaryDirectory() as tmp:
        cache = PromptCache(Path(tmp) / "prompts")
        async with RenderPool(cache) as pool:
            await pool.render("Warm up the workers.", voice)  # process start-up is not per text
            started = time.perf_counter()
            done = await pool.render_many(RenderRequest(t, voice) for t in items)
            pool_s = time.perf_counter() - started
            assert len({p.key for p in done}) == N and not any(p.cached for p in done)
            hits = 200
            started = time.perf_counter()
            for text in items[:hits]:
                prompt = await pool.render(text, voice)
                assert prompt.cached
            hit_ms = (time.perf_counter() - started) / hits * 1000
    print(
        f"tts: {N} texts: pool {pool_s:.2f} s, espeak-ng loop {base_s:.2f} s, "
        f"ratio {base_s / pool_s:.2f} (target >= 1.5 on {os.cpu_count()} cores); "
        f"asyncio subprocesses {alt_s:.2f} s (ratio {base_s / alt_s:.2f}); "
        f"cache hit {hit_ms:.2f} ms",
        flush=True,
    )


# --- 2. the English engines: intelligibility, speed, memory ---------------------------------


@dataclass
class Contender:
    """One English voice: how to make speech with it (PCM at its own rate), and the voxcast
    Voice when voxcast itself renders it (then its pool can be measured)."""

    key: str
    label: str
    synth: Callable[[str], Speech]
    voice: Voice | None = None
    default_for: str = ""


def read_wav_any(path: Path) -> Speech:
    with wave.open(str(path), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth()) == (1, 2), path
        return Speech(w.readframes(w.getnframes()), w.getframerate())


def command_speech(argv: Callable[[Path, Path], list[str]]) -> Callable[[str], Speech]:
    """An engine driven by its command, one process per text (text in a file, WAV out)."""

    def synth(text: str) -> Speech:
        with tempfile.TemporaryDirectory() as tmp:
            src, out = Path(tmp) / "in.txt", Path(tmp) / "out.wav"
            src.write_text(text + "\n")
            if not WATCH_MEMORY:
                subprocess.run(argv(src, out), check=True, capture_output=True, timeout=120)
            else:
                proc = subprocess.Popen(argv(src, out), stdout=subprocess.DEVNULL)
                while proc.poll() is None:
                    COMMAND_PEAK_KIB[0] = max(COMMAND_PEAK_KIB[0], hwm_kib(proc.pid))
                    time.sleep(0.002)
                assert proc.returncode == 0, argv(src, out)
            return read_wav_any(out)

    return synth


FESTIVAL_VOICE = Path("/usr/share/festival/voices/us/cmu_us_slt_arctic_hts")


def voxcast_synth(voice: Voice) -> Callable[[str], Speech]:
    return lambda text: engine(voice.engine).synthesize(text, voice)


def contenders() -> list[Contender]:
    out: list[Contender] = []
    for gender, variant in ((2, "female"), (1, "male")):
        voice = choose_voice("EN", None, gender, engines=[EspeakEngine()])
        out.append(
            Contender(f"espeak-{variant}", f"espeak-ng {voice.name}", voxcast_synth(voice), voice)
        )
    if piper_installed() and PiperEngine().packages:
        voice = choose_voice("EN", None, 1, engines=[PiperEngine()])
        out.append(Contender("piper", f"piper {voice.name}", voxcast_synth(voice), voice))
    if shutil.which("text2wave") and FESTIVAL_VOICE.is_dir():
        argv = lambda src, dst: [  # noqa: E731
            "text2wave",
            "-eval",
            "(voice_cmu_us_slt_arctic_hts)",
            str(src),
            "-o",
            str(dst),
        ]
        out.append(Contender("festival", "festival us-slt-hts (text2wave)", command_speech(argv)))
    else:
        print("tts: festival with festvox-us-slt-hts is not installed: skipped")
    if shutil.which("flite"):
        argv = lambda src, dst: ["flite", "-voice", "slt", "-f", str(src), "-o", str(dst)]  # noqa: E731
        out.append(Contender("flite", "flite slt (command)", command_speech(argv)))
    else:
        print("tts: flite is not installed: skipped")
    # what voxcast speaks by default: marked on the row of the same voice, or measured itself
    for gender, variant in ((1, "male"), (2, "female")):
        voice = choose_voice("EN", None, gender)
        same = next((c for c in out if c.voice == voice), None)
        if same is None:
            same = Contender(
                f"default-{variant}", f"{voice.engine} {voice.name}", voxcast_synth(voice), voice
            )
            out.append(same)
        same.default_for = f"{same.default_for}+{variant}" if same.default_for else variant
    return out


#: set in the memory child: command engines are then watched for their peak memory (the
#: rusage of a child started from this process would count this process's pages too)
WATCH_MEMORY = False
COMMAND_PEAK_KIB = [0]


def proc_status_kib(field: str, pid: int | str = "self") -> int:
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return 0
    for line in lines:
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def rss_kib() -> int:
    return proc_status_kib("VmRSS")


def hwm_kib(pid: int) -> int:
    return proc_status_kib("VmHWM", pid)


def memory_child(key: str) -> None:
    """Runs in a fresh process: the memory one loaded voice costs (printed in KiB)."""
    global WATCH_MEMORY
    WATCH_MEMORY = True
    contender = next(c for c in contenders() if c.key == key)
    before = rss_kib()
    contender.synth("Loading the voice.")
    grown = rss_kib() - before
    print(max(grown, COMMAND_PEAK_KIB[0]))


def memory_mib(key: str) -> float:
    proc = subprocess.run(
        [sys.executable, __file__, "--memory", key],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return int(proc.stdout.strip().splitlines()[-1]) / 1024


def intelligibility(contender: Contender) -> None:
    from tests.listen import (
        OTP_CODES,
        OTP_TEMPLATE,
        REMINDER_CLIPS,
        Listener,
        Score,
        phone_line,
    )

    from voxcast.dialer.prompts import speak_digits

    listener = Listener.shared()
    contender.synth("Warm up.")  # loading the voice is not part of the real-time factor
    clean, phone = Score(), Score()
    synth_s = cpu_s = audio_s = 0.0
    for clip in REMINDER_CLIPS:
        started, cpu = time.perf_counter(), cpu_seconds()
        speech = contender.synth(clip)
        synth_s += time.perf_counter() - started
        cpu_s += cpu_seconds() - cpu
        audio_s += len(speech.pcm) / 2 / speech.sample_rate
        clean.add_text(clip, listener.hear(speech.pcm, speech.sample_rate))
        phone.add_text(clip, listener.hear(phone_line(speech.pcm, speech.sample_rate)))
    wrong: list[str] = []
    for code in OTP_CODES:
        speech = contender.synth(speak_digits(OTP_TEMPLATE.format(code=code)))
        heard = listener.hear(phone_line(speech.pcm, speech.sample_rate))
        if not phone.add_code(code, heard):
            wrong.append(f"{code}→{heard!r}")
    default = f" [voxcast default {contender.default_for}]" if contender.default_for else ""
    print(
        f"tts: {contender.label}{default}: WER phone line {phone.wer:.1%} "
        f"({phone.errors}/{phone.words}), before it {clean.wer:.1%}; "
        f"OTP codes exact {phone.codes_right}/{phone.codes}; "
        f"RTF {synth_s / audio_s:.3f} (CPU {cpu_s / audio_s:.3f}); "
        f"memory {memory_mib(contender.key):.0f} MiB",
        flush=True,
    )
    for miss in wrong:
        print(f"    missed {miss}")


def cpu_seconds() -> float:
    """CPU time of this process (every thread) and of the commands it ran: on a shared machine
    the real-time factor in CPU time moves less than the one in wall time."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def own_loop(voice: Voice, items: list[str]) -> tuple[float, float]:
    """The engine's own loop: one process, the voice loaded once, one text after another.
    Returns (wall seconds, CPU seconds): an engine that threads one synthesis over several
    cores (piper's onnxruntime) leaves a pool less to gain."""
    started, cpu = time.perf_counter(), time.process_time()
    for text in items:
        speech = engine(voice.engine).synthesize(text, voice)
        resample_pcm(speech.pcm, speech.sample_rate)
    return time.perf_counter() - started, time.process_time() - cpu


async def pool_against_loop(contender: Contender) -> None:
    voice = contender.voice
    assert voice is not None
    items = texts(N_SLOW, seed=11)
    engine(voice.engine).synthesize("Warm up.", voice)
    loop_s, loop_cpu = own_loop(voice, items)
    with tempfile.TemporaryDirectory() as tmp:
        async with RenderPool(PromptCache(Path(tmp) / "prompts")) as pool:
            # every worker loads the voice before the clock starts
            await pool.render_many(
                RenderRequest(f"Warm up {i}.", voice) for i in range(pool.workers * 2)
            )
            started = time.perf_counter()
            await pool.render_many(RenderRequest(t, voice) for t in items)
            pool_s = time.perf_counter() - started
    print(
        f"tts: {contender.label}: {N_SLOW} texts: pool {N_SLOW / pool_s:.1f} renders/s, "
        f"own loop {N_SLOW / loop_s:.1f} renders/s (using {loop_cpu / loop_s:.1f} cores), "
        f"ratio {loop_s / pool_s:.2f}",
        flush=True,
    )


REMINDER = (
    "Hello, this is a reminder from your bank. Your payment of two hundred dollars is due "
    "tomorrow. Press one to pay now, or two to speak to an agent."
)


async def first_prompt_wait() -> None:
    """What a task's first call waits for: prompts are rendered before dialing, so a new task
    waits for its text to be spoken once; on a worker that has not used the voice yet that
    includes starting the pool's process and loading the model. Baseline: the same length of
    text on the now warm pool."""
    for gender, label in ((1, "male"), (2, "female")):
        voice = choose_voice("EN", None, gender)
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            async with RenderPool(PromptCache(Path(tmp) / "prompts")) as pool:
                await pool.render_many([RenderRequest(REMINDER, voice)])
                cold = time.perf_counter() - started
                started = time.perf_counter()
                other = REMINDER.replace("tomorrow", "on Friday")
                await pool.render_many([RenderRequest(other, voice)])
                warm = time.perf_counter() - started
        print(
            f"tts: first prompt of a task, EN {label} default ({voice.engine} {voice.name}): "
            f"{cold:.2f} s on a cold pool (process start and model load included), "
            f"{warm:.2f} s warm, ratio {warm / cold:.2f}",
            flush=True,
        )


async def main() -> None:
    await first_prompt_wait()
    if N > 0:  # BENCH_TTS_TEXTS=0 measures only the English engines
        await espeak_pool()
    found = contenders()
    for contender in found:
        intelligibility(contender)
    for contender in found:
        if contender.voice is not None and contender.voice.engine != EspeakEngine.name:
            await pool_against_loop(contender)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--memory":
        memory_child(sys.argv[2])
    else:
        asyncio.run(main())
