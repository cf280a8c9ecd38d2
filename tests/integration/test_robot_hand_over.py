"""The robot handing a sandbox call to agents, without a database: the callee who presses 1
(docs/sandbox.md) picks the script's `transfer`; `RobotCall` hands the call over and ends the
dialogue's transfer on the agent's answer (ANSWERED) or on the search's end without one, or at
once when the group is none of the app's (TRANSFER_ARTIFICIAL)."""

from __future__ import annotations

import pytest

from voxcast.audio.hearing.asr import RecognizerPool
from voxcast.clock import ScaledClock
from voxcast.dialer.conversation import Hearing, RobotCall
from voxcast.domain import scripts as sc
from voxcast.ports import (
    AgentAnswered,
    CallEvent,
    Conversation,
    DialRequest,
    HangupBy,
    HungUp,
    Prompt,
    ReservedAgent,
    Transfer,
    TransferStarted,
)
from voxcast.robot import dialogue as dl
from voxcast.services.scripts import example_document
from voxcast.telephony.sandbox import SandboxCarrier
from voxcast.telephony.sandbox_agents import VIRTUAL_AGENT_TALK_S

pytestmark = pytest.mark.timeout(60)

SPEED = 20.0
PRESSES_1 = "8613000000011"
GROUP = 5
VARIABLES = {"name": "Jack", "amount": "42 dollars", "dueDate": "March 1"}


class Deaf:
    """A recognizer that is never asked: the callee only presses keys."""

    name = "deaf"
    concurrency = 1

    def transcribe(self, pcm: bytes, *, language: str | None = None) -> str:
        raise AssertionError("nothing was said")


class Desk:
    def __init__(self, *agents: ReservedAgent) -> None:
        self.free = list(agents)
        self.asked: list[int] = []
        self.released: list[tuple[int, bool]] = []

    async def reserve(self, group_id: int, exclude: frozenset[int]) -> ReservedAgent | None:
        self.asked.append(group_id)
        return self.free.pop() if self.free else None

    async def release(self, agent: ReservedAgent, *, talked: bool) -> None:
        self.released.append((agent.key_id, talked))


def script() -> sc.Script:
    """The example script, whose first question's key 1 hands the callee to GROUP."""
    document = example_document()
    document["nodes"]["identify"]["dtmf"]["1"] = [{"type": "transfer", "agentGroupId": GROUP}]
    return sc.parse(document)


async def hand_over(desk: Desk | None, wait_s: float = 30.0) -> tuple[dl.Dialogue, list[CallEvent]]:
    clock = ScaledClock(SPEED)

    async def render(text: str) -> Prompt:
        return Prompt("silence:", len(text) * 0.06)

    async def transfer_to(group_id: int) -> Transfer | None:
        assert group_id == GROUP
        return None if desk is None else Transfer(desk, group_id, wait_s=wait_s)

    pool = RecognizerPool(Deaf())
    robot = RobotCall(
        dl.Dialogue(script(), VARIABLES), Hearing(pool), render, clock, transfer_to=transfer_to
    )
    request = DialRequest(
        callee=PRESSES_1,
        caller_id=None,
        prompt=Prompt("silence:", 0.0),
        max_talk_s=120,
        conversation=Conversation(),
    )
    try:
        call = await SandboxCarrier(clock).dial(request)
        events = [e async for e in robot.run(call)]
    finally:
        pool.close()
    return robot.dialogue, events


async def test_an_agent_who_answers_takes_the_call() -> None:
    desk = Desk(ReservedAgent(9, "agent-9", "sales", "1009", None))
    dialogue, events = await hand_over(desk)
    record = dialogue.record
    assert dialogue.state is dl.State.ENDED
    assert record.result_status is dl.ResultStatus.ANSWERED
    assert record.hangup_by is HangupBy.AGENT and record.agent_group_id == GROUP
    took = next(e for e in events if isinstance(e, AgentAnswered))
    end = events[-1]
    assert isinstance(end, HungUp) and end.by is HangupBy.AGENT
    assert (end.at - took.at).total_seconds() == pytest.approx(VIRTUAL_AGENT_TALK_S, abs=0.5)
    assert desk.asked == [GROUP] and desk.released == [(9, True)]
    # the robot said its question once, then nothing: the agent had the call
    assert [t.speaker for t in record.turns] == [dl.Speaker.ROBOT]


async def test_nobody_free_within_the_wait_is_transfer_artificial() -> None:
    dialogue, events = await hand_over(Desk(), wait_s=5.0)
    record = dialogue.record
    assert record.result_status is dl.ResultStatus.TRANSFER_ARTIFICIAL
    assert record.hangup_by is HangupBy.US
    started = next(e for e in events if isinstance(e, TransferStarted))
    end = events[-1]
    assert isinstance(end, HungUp) and end.reason == "no agent free"
    assert (end.at - started.at).total_seconds() == pytest.approx(5.0, abs=0.5)


async def test_a_group_of_no_app_of_the_task_is_transfer_artificial_at_once() -> None:
    dialogue, events = await hand_over(None)
    record = dialogue.record
    assert record.result_status is dl.ResultStatus.TRANSFER_ARTIFICIAL
    assert not any(isinstance(e, TransferStarted) for e in events)
    end = events[-1]
    assert isinstance(end, HungUp) and (end.by, end.reason) == (HangupBy.US, "hung up by us")
