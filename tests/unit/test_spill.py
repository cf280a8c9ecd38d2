"""The spill file's codec and reading: every field `Recorder.write` reads survives a line, and
a line cut by a crash is never read."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from voxcast.dialer.context import AccountLimits, Claimed, TaskContext
from voxcast.dialer.recorder import Finished
from voxcast.dialer.spill import SpillFile, decode, encode
from voxcast.domain.callresult import CallFacts
from voxcast.domain.task_settings import from_params
from voxcast.ports import HangupBy, ReservedAgent

T0 = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)
SETTINGS = {
    "toSeat": 1, "sipGroupId": 4, "toSeatType": 2, "toSeatKey": "1", "delayTransfer": 3,
    "outboundControl": 1, "calloutRate": 2, "recallCount": 2, "recallInterval": 7,
    "allowSendTime": [{"strTime": "09:00", "endTime": "18:30"}], "allowSendTimeZone": "callee",
    "hangUpSms": 1, "smsContent": "bye ${text1}", "smsAppId": "s1", "senderId": "",
    "successPush": 1, "successPushTime": 30, "lan": "en", "ssmlGender": 2, "speakingRate": 1.5,
}  # fmt: skip


def finished() -> Finished:
    ctx = TaskContext(
        7, 2, "a" * 32, 1, 2, "123", 3, None, "Hello ü", 1, 60, 30, 0, 0,
        from_params(SETTINGS), T0, None, out_recall_count=1,
    )  # fmt: skip
    facts = CallFacts(
        T0,
        ringing_time=T0 + timedelta(seconds=1),
        answer_time=T0 + timedelta(seconds=3),
        hangup_time=T0 + timedelta(seconds=13.5),
        first_key="1",
        keys=["1", "2"],
        sip_code=200,
        hangup_by=HangupBy.AGENT,
        reason="normal clearing",
        transfer_time=T0 + timedelta(seconds=5),
        agent=ReservedAgent(3, "alice", "sales", "0042", None, 20.0, 1.5),
        agent_answer_time=T0 + timedelta(seconds=7),
        no_answer_agents=["bob"],
    )
    claimed = Claimed(5, 7, 1, "8613000000000", {"text1": "x"}, "v1", 2, Decimal("0.021"))
    return Finished(ctx, claimed, AccountLimits(2, 10, 30, "60+6", "Asia/Shanghai"), facts)


def test_a_result_survives_its_line() -> None:
    item = finished()
    owner, back = decode(encode(item, "host:1:abc"))
    assert owner == "host:1:abc"
    assert back == item
    assert back.facts.call_duration == 11 and back.claimed.rate == Decimal("0.021")


def test_a_line_of_the_older_layout_keeps_its_settings() -> None:
    # before typed settings, a line held the task's stored params under ctx.params: a spill
    # file left by that version is replayed by this one
    line = json.loads(encode(finished(), "w"))
    assert line["ctx"]["params"]["allowSendTimeZone"] == "callee"
    line["ctx"]["params"] = {"toSeat": "1", "sipGroupId": "9", "recallCount": 3}
    _owner, back = decode(json.dumps(line))
    assert back.ctx.transfer_group == 9
    assert back.ctx.settings.redial.count == 3
    assert back.ctx.settings.send_window.per_callee is False


def test_lines_are_read_in_order_and_a_cut_line_is_not(tmp_path: Path) -> None:
    spill = SpillFile(tmp_path / "results-w.jsonl")
    spill.append(["a", "b", "c"])
    assert spill.read(2) == ["a", "b"]
    spill.unread()  # not written: handed out again
    assert spill.read(2) == ["a", "b"]
    spill.append(["d"])
    with spill.path.open("ab") as f:
        f.write(b'{"cut by a cra')
    assert spill.read(10) == ["c", "d"]
    assert SpillFile.lines_in(spill.path) == ["a", "b", "c", "d"]
    spill.reset_if_done()
    assert not spill.path.exists()
