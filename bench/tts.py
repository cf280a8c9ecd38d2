"""Text-to-speech: 1,000 distinct 100-character texts rendered through voxcast's RenderPool
(worker processes, libespeak-ng in-process, 8 kHz WAVs into the prompt cache) against calling
the `espeak-ng` command on each text in a plain loop, in one run. Also measured: the other pool
design (asyncio subprocesses running the `espeak-ng` command, resampled in this process) and the
latency of a cache hit.

Prints one line: both times, their ratio (target >= 1.5 on two cores), the alternative's ratio,
and the cache-hit latency.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from voxcast.audio import PromptCache, RenderPool, RenderRequest, choose_voice
from voxcast.audio.pcm import resample_pcm
from voxcast.audio.voices import espeak_wpm

N = int(os.environ.get("BENCH_TTS_TEXTS", "1000"))
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


def texts(n: int) -> list[str]:
    rng = random.Random(5)
    out: list[str] = []
    for i in range(n):
        words = [f"Reference {i}."]
        while sum(len(w) + 1 for w in words) < 100:
            words.append(rng.choice(WORDS))
        out.append(" ".join(words)[:99] + ".")
    return out


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


async def main() -> None:
    items = texts(N)
    voice = choose_voice("EN", "1", 2, 1.0)  # espeak-ng en-us, female
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
        f"cache hit {hit_ms:.2f} ms"
    )


if __name__ == "__main__":
    asyncio.run(main())
