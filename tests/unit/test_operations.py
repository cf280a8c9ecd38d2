"""The metrics module's outcome labels and call counting, and JSON log lines naming the call
of the task that logs them (its voiceId, inherited by the tasks it starts)."""

from __future__ import annotations

import asyncio
import io
import json
import logging

from prometheus_client.parser import text_string_to_metric_families

from voxcast import logs, metrics


def test_each_final_code_has_one_outcome_label() -> None:
    assert metrics.result_of(200, True) == "answered"
    assert [metrics.result_of(code, False) for code in (480, 486, 603, 404, 500, 503)] == [
        "no_answer",
        "busy",
        "rejected",
        "not_found",
        "error",
        "failed",
    ]
    assert set(metrics.RESULTS.values()) | {"answered", "lost", "failed"} == set(
        metrics.RESULT_LABELS
    )


def _sample(name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(metrics.render().decode()):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    raise AssertionError(f"{name} {labels} not exported")


async def test_a_call_is_in_progress_until_its_task_is_done() -> None:
    gate = asyncio.Event()
    setups = _sample("voxcast_call_setups_total")
    running = _sample("voxcast_calls_in_progress")
    busy = _sample("voxcast_call_outcomes_total", result="busy")
    task = asyncio.create_task(gate.wait())
    metrics.call_started(task)
    assert _sample("voxcast_calls_in_progress") == running + 1
    gate.set()
    await task
    await asyncio.sleep(0)  # done callbacks run on the next loop pass
    metrics.call_ended(486, False)
    assert _sample("voxcast_calls_in_progress") == running
    assert _sample("voxcast_call_setups_total") == setups + 1
    assert _sample("voxcast_call_outcomes_total", result="busy") == busy + 1


async def test_json_lines_carry_the_voice_id_of_the_call_task_and_its_children() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(logs._VoiceIdFilter())
    handler.setFormatter(logs.JsonFormatter())
    log = logging.getLogger("voxcast.test_operations")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False

    async def child() -> None:
        log.info("child of the call")

    async def call(voice_id: str) -> None:
        logs.bind_call(voice_id)
        log.info("about the call")
        await asyncio.create_task(child())

    try:
        await asyncio.gather(call("v-1"), call("v-2"))
        log.info("about no call")
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("failed")
    finally:
        log.removeHandler(handler)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(r["message"], r.get("voiceId")) for r in lines] == [
        ("about the call", "v-1"),
        ("about the call", "v-2"),
        ("child of the call", "v-1"),
        ("child of the call", "v-2"),
        ("about no call", None),
        ("failed", None),
    ]
    assert lines[0]["level"] == "INFO" and lines[0]["logger"] == "voxcast.test_operations"
    assert lines[0]["time"].endswith("+00:00")
    assert "ValueError: boom" in lines[-1]["exc"]
