"""A robot's voice and lines before its calls: an AI task speaks its script's `language`, the
script's lines without variables are rendered with the task, a callee's own lines while the
phone rings, and a script language no voice speaks fails the task before it dials."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Tenant
from tests.helpers import SQLITE_ONLY
from tests.integration.dialing import insert_task
from voxcast.audio import PromptCache, RenderPool, RenderRequest
from voxcast.dialer.context import Claimed, TaskContext
from voxcast.dialer.conversation import Robots
from voxcast.dialer.prompts import PromptError, PromptResolver
from voxcast.domain.enums import TaskKind
from voxcast.runtime import Runtime
from voxcast.services import scripts
from voxcast.storage.models import Task

pytestmark = [SQLITE_ONLY, pytest.mark.timeout(120)]

GERMAN = {
    "formatVersion": 1,
    "name": "Erinnerung",
    "language": "de",
    "start": "frage",
    "variables": ["name"],
    "nodes": {
        "frage": {
            "prompt": {"text": "Guten Tag ${name}. Können Sie morgen zahlen?"},
            "branches": [{"intent": "yes", "actions": [{"type": "hangup"}]}],
            "noMatch": [{"type": "hangup"}],
            "silence": [
                {"type": "say", "prompt": {"text": "Auf Wiederhören."}},
                {"type": "hangup"},
            ],
        }
    },
    "intents": {"yes": {"keywords": ["ja"]}},
}


async def robot_task(rt: Runtime, tenant: Tenant, document: dict[str, Any]) -> Task:
    async with rt.sessions.begin() as session:
        script = await scripts.add_script(
            session, tenant.creds.account_id, document, rt.clock.now()
        )
    task_id = await insert_task(
        rt,
        tenant.creds.account_id,
        tenant.app_id,
        ["8613000000010"],
        infos=[{"name": "Jack", "amount": "42 dollars", "dueDate": "March 1"}],
        kind=TaskKind.AI,
        script_id=script.id,
        text=None,
        lan=None,
    )
    async with rt.sessions() as session:
        task = await session.get(Task, task_id)
    assert task is not None
    return task


async def test_a_robot_speaks_its_scripts_language_and_its_fixed_lines_are_ready(
    rt: Runtime, tenant: Tenant, tmp_path: Path
) -> None:
    document = copy.deepcopy(GERMAN)
    task = await robot_task(rt, tenant, document)
    cache = PromptCache(tmp_path)
    async with RenderPool(cache, workers=0) as pool:
        resolver = PromptResolver(pool)
        async with rt.sessions() as session:
            await resolver.prepare(await resolver.read(session, task))
        described = resolver._tasks[task.id]
        assert described.voice is not None and described.voice.lan == "DE"
        assert described.voice.address.startswith("espeak:de")
        # the line without variables (and the built-in German opt-out confirmation) are in
        # the cache before any call; the one naming the callee is not
        assert "Auf Wiederhören." in described.lines
        assert not any("${" in line for line in described.lines)
        voice = described.voice
        assert all(cache.has(pool.key(RenderRequest(t, voice))) for t in described.lines)
        assert not cache.has(
            pool.key(RenderRequest("Guten Tag Jack. Können Sie morgen zahlen?", voice))
        )
        # the call itself plays nothing: the robot says what the script says
        assert (await resolver.for_call(task.id, None)).duration_s == 0.0


async def test_a_callees_own_lines_are_rendered_while_the_phone_rings(
    rt: Runtime, tenant: Tenant, tmp_path: Path
) -> None:
    task = await robot_task(rt, tenant, scripts.example_document())
    async with RenderPool(PromptCache(tmp_path), workers=0) as pool:
        resolver = PromptResolver(pool)
        async with rt.sessions() as session:
            await resolver.prepare(await resolver.read(session, task))
        described = resolver._tasks[task.id]
        # no language in the example: English, and female without ssmlGender
        assert described.voice is not None and described.voice.lan == "EN"
        assert described.voice.address == "festival:cmu_us_slt_arctic_hts"
        ctx = TaskContext.of(task)
        claimed = Claimed(
            id=1,
            task_id=task.id,
            seq=1,
            callee="8613000000010",
            info={"name": "Jack", "amount": "42 dollars"},
            voice_id=None,
            attempts=1,
        )
        robots = Robots(rt, resolver)
        try:
            robot = await robots.for_call(ctx, claimed)
            assert robot is not None
            ahead = list(robots._ahead)
            assert ahead, "nothing was rendered ahead"
            for job in ahead:
                await job
        finally:
            await robots.close()
        memo = {text for text, _voice in resolver._rendered}
        assert "Hello, this is Example Energy. Am I speaking with Jack?" in memo
        assert any(t.startswith("Thank you. Your payment of 42 dollars") for t in memo)


async def test_a_script_in_a_language_no_voice_speaks_fails_its_task_before_dialing(
    rt: Runtime, tenant: Tenant, tmp_path: Path
) -> None:
    document = {**copy.deepcopy(GERMAN), "language": "zh"}
    task = await robot_task(rt, tenant, document)
    async with RenderPool(PromptCache(tmp_path), workers=0) as pool:
        resolver = PromptResolver(pool)
        async with rt.sessions() as session:
            with pytest.raises(PromptError, match=r"script \d+'s language: ZH is not a supported"):
                await resolver.prepare(await resolver.read(session, task))
