"""A call's prompt: the first calls of a task wait for one rendering of a text, not one each."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path

import pytest

from voxcast.audio import (
    EspeakEngine,
    PromptCache,
    RenderError,
    RenderPool,
    RenderRequest,
    choose_voice,
)
from voxcast.audio.render import RenderedPrompt
from voxcast.dialer.prompts import Preparation, PromptResolver, TaskPrompt

VOICE = choose_voice("EN", "1", 2, 1.0, engines=[EspeakEngine()])


class CountingPool(RenderPool):
    """The real pool, counting the texts it is asked for; `fail` refuses them instead."""

    def __init__(self, cache: PromptCache) -> None:
        super().__init__(cache, workers=0)
        self.asked: list[str] = []
        self.fail = False

    async def render_many(self, items: Iterable[RenderRequest]) -> list[RenderedPrompt]:
        requests = list(items)
        self.asked += [r.text for r in requests]
        await asyncio.sleep(0.05)  # rendering takes time: the other calls arrive meanwhile
        if self.fail:
            raise RenderError("no voice today", 0)
        return await super().render_many(requests)


async def resolver_with_task(tmp_path: Path) -> tuple[PromptResolver, CountingPool]:
    pool = CountingPool(PromptCache.under(tmp_path))
    resolver = PromptResolver(pool)
    await resolver.prepare(Preparation(7, TaskPrompt(template="Hello ${text1}.", voice=VOICE), ()))
    return resolver, pool


async def test_calls_asking_at_once_share_one_rendering_of_their_text(tmp_path: Path) -> None:
    resolver, pool = await resolver_with_task(tmp_path)
    infos = [{"text1": "Ann"}] * 150 + [{"text1": "Bo"}] * 50
    prompts = await asyncio.gather(*(resolver.for_call(7, info) for info in infos))
    assert sorted(pool.asked) == ["Hello Ann.", "Hello Bo."]
    assert len({p.ref for p in prompts[:150]}) == 1
    assert len({p.ref for p in prompts[150:]}) == 1
    assert prompts[0].ref != prompts[150].ref
    # and a later call finds it remembered
    again = await resolver.for_call(7, {"text1": "Ann"})
    assert again == prompts[0]
    assert len(pool.asked) == 2
    await pool.aclose()


async def test_a_cancelled_call_leaves_the_rendering_to_the_others(tmp_path: Path) -> None:
    resolver, pool = await resolver_with_task(tmp_path)
    first = asyncio.ensure_future(resolver.for_call(7, {"text1": "Cy"}))
    second = asyncio.ensure_future(resolver.for_call(7, {"text1": "Cy"}))
    await asyncio.sleep(0.01)
    first.cancel()
    prompt = await second
    assert first.cancelled()
    assert prompt.ref.startswith("tts:")
    assert pool.asked == ["Hello Cy."]
    await pool.aclose()


async def test_a_failed_rendering_reaches_every_waiter_and_is_tried_again_later(
    tmp_path: Path,
) -> None:
    resolver, pool = await resolver_with_task(tmp_path)
    pool.fail = True
    results = await asyncio.gather(
        *(resolver.for_call(7, {"text1": "Di"}) for _ in range(5)), return_exceptions=True
    )
    assert all(isinstance(r, RenderError) for r in results)
    assert pool.asked == ["Hello Di."]
    pool.fail = False
    prompt = await resolver.for_call(7, {"text1": "Di"})
    assert prompt.ref.startswith("tts:")
    assert pool.asked == ["Hello Di.", "Hello Di."]
    with pytest.raises(KeyError):
        await resolver.for_call(8, None)  # a task never prepared here
    await pool.aclose()
