"""The renderer pool and prompt cache: each distinct text rendered once, in order, shared."""

from __future__ import annotations

import os
import signal
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from voxcast.audio import (
    EspeakEngine,
    PromptCache,
    RenderError,
    RenderPool,
    RenderRequest,
    choose_voice,
    duration_of,
    fill,
    prompt_key,
)
from voxcast.audio.pcm import read_wav

VOICE = choose_voice("EN", "1", 2, 1.0, engines=[EspeakEngine()])


@pytest.fixture
def cache(tmp_path: Path) -> PromptCache:
    return PromptCache.under(tmp_path)


def cached_files(cache: PromptCache) -> list[Path]:
    return sorted(cache.root.rglob("*.wav"))


async def test_each_distinct_text_is_rendered_once_and_results_keep_the_order(
    cache: PromptCache,
) -> None:
    template = "Hello ${text1}, your parcel arrives ${text2}."
    callees = [
        {"text1": "Tom", "text2": "today"},
        {"text1": "Ann", "text2": "tomorrow"},
        {"text1": "Tom", "text2": "today"},
        {"text1": "Bo", "text2": "today"},
        {"text1": "Ann", "text2": "tomorrow"},
    ]
    requests = [RenderRequest(fill(template, c), VOICE) for c in callees]
    async with RenderPool(cache, workers=0) as pool:
        done = await pool.render_many(requests)
    assert len(done) == 5
    assert [d.key for d in done] == [pool.key(r) for r in requests]
    assert done[0].key == done[2].key and done[1].key == done[4].key
    assert len({d.key for d in done}) == 3
    assert len(cached_files(cache)) == 3
    assert not any(d.cached for d in done)
    for prompt in done:
        assert prompt.path == cache.path(prompt.key)
        assert prompt.duration_s == duration_of(prompt.path)
        assert prompt.duration_s > 1.0 and prompt.duration_s < 5.0
        assert read_wav(prompt.path).sample_rate == 8000


async def test_a_second_batch_and_another_pool_hit_the_cache(cache: PromptCache) -> None:
    requests = [RenderRequest("Your code is 1 2 3 4.", VOICE)]
    async with RenderPool(cache, workers=0) as pool:
        first = await pool.render_many(requests)
        again = await pool.render_many(requests)
    async with RenderPool(PromptCache(cache.root), workers=0) as other:
        shared = await other.render("Your code is 1 2 3 4.", VOICE)
    assert not first[0].cached
    assert again[0].cached and shared.cached
    assert again[0].key == shared.key == first[0].key
    assert shared.duration_s == first[0].duration_s
    assert len(cached_files(cache)) == 1


async def test_a_text_that_cannot_be_spoken_fails_the_batch_naming_it(
    cache: PromptCache,
) -> None:
    requests = [
        RenderRequest("First reminder.", VOICE),
        RenderRequest("...", VOICE),
        RenderRequest("Third reminder.", VOICE),
    ]
    async with RenderPool(cache, workers=0) as pool:
        with pytest.raises(RenderError) as caught:
            await pool.render_many(requests)
        assert caught.value.index == 1
        assert "text #1" in caught.value.detail
        assert "no audible speech" in caught.value.detail
        # the texts that could be spoken are cached all the same
        assert pool.cache.has(pool.key(requests[0])) and pool.cache.has(pool.key(requests[2]))


async def test_worker_processes_render_the_same_audio_as_in_process(tmp_path: Path) -> None:
    texts = [f"Order {n} is ready for pickup." for n in range(4)]
    async with RenderPool(PromptCache(tmp_path / "a"), workers=2) as pool:
        by_processes = await pool.render_many(RenderRequest(t, VOICE) for t in texts)
    async with RenderPool(PromptCache(tmp_path / "b"), workers=0) as pool:
        in_thread = await pool.render_many(RenderRequest(t, VOICE) for t in texts)
    # not byte for byte: the female variants add random breath noise
    for a, b in zip(by_processes, in_thread, strict=True):
        assert a.key == b.key
        assert a.duration_s == pytest.approx(b.duration_s, rel=0.05)
        assert read_wav(a.path).samples == round(a.duration_s * 8000)


def test_the_key_covers_text_voice_rate_and_engine_version() -> None:
    base = prompt_key("hello", VOICE, "1.51")
    other_voice = choose_voice("EN", "44", 2, 1.0, engines=[EspeakEngine()])
    faster = choose_voice("EN", "1", 2, 1.5, engines=[EspeakEngine()])
    assert len(base) == 64
    assert base == prompt_key("hello", VOICE, "1.51")
    assert (
        len(
            {
                base,
                prompt_key("hello!", VOICE, "1.51"),
                prompt_key("hello", other_voice, "1.51"),
                prompt_key("hello", faster, "1.51"),
                prompt_key("hello", VOICE, "1.52"),
            }
        )
        == 5
    )


def test_cache_keys_cannot_name_paths_outside_the_cache(cache: PromptCache) -> None:
    for bad in ["../../etc/passwd", "", "ABCDEF0123", "abc/def0123"]:
        with pytest.raises(ValueError):
            cache.path(bad)


def test_cache_writes_leave_no_temporary_files(cache: PromptCache) -> None:
    key = "ab" * 32
    path = cache.put(key, b"\x01\x00" * 8000)
    assert cache.duration(key) == 1.0
    assert cache.load(key).pcm == b"\x01\x00" * 8000
    assert [p.name for p in path.parent.iterdir()] == [f"{key}.wav"]
    assert cache.duration("cd" * 32) is None


async def test_a_dead_worker_fails_its_batch_and_the_next_batch_gets_a_fresh_pool(
    tmp_path: Path,
) -> None:
    async with RenderPool(PromptCache(tmp_path), workers=1) as pool:
        await pool.render("Start the worker.", VOICE)
        executor = pool._executor
        assert isinstance(executor, ProcessPoolExecutor)
        for pid in list(executor._processes):  # type: ignore[attr-defined]
            os.kill(pid, signal.SIGKILL)
        with pytest.raises(RenderError, match="renderer process died"):
            await pool.render("Rendered by a dead worker.", VOICE)
        again = await pool.render("Rendered by a new worker.", VOICE)
        assert again.duration_s > 0.5
