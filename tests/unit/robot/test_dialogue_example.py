"""The shipped payment reminder walked through each path docs/ai.md names, with the exact
commands the dialogue gives and the record the AI call-record push is built from."""

from __future__ import annotations

from tests.unit.robot.reminder import ASK_DATE, CUSTOMER, IDENTIFY, IDENTIFY_AGAIN, SCRIPT, WHO
from voxcast.domain import scripts as s
from voxcast.ports import HangupBy
from voxcast.robot.dialogue import (
    CallAnswered,
    CallEnded,
    Dialogue,
    HangUp,
    Listen,
    MachineDetected,
    OptOut,
    PlayPrompt,
    PromptFinished,
    ResultStatus,
    SendSms,
    SetIntentLevel,
    SilenceTimeout,
    Speaker,
    SpeechEnded,
    SpeechStarted,
    State,
    StopPlayback,
    TagCustomer,
    Turn,
)

NOTED = "Thank you, we have noted your payment date. We will text you the payment details. Goodbye."
LATER = "No problem, we will call you back later. Goodbye."
STOP = "Understood. We will not call you again. Goodbye."
UNHEARD = "We could not hear you. We will try again later. Goodbye."


def play(text: str, interruptible: bool = True) -> PlayPrompt:
    return PlayPrompt(text, None, interruptible)


def robot(text: str, start: int, end: int | None, node: str) -> Turn:
    return Turn(Speaker.ROBOT, text, start, end, node)


def person(text: str, start: int, end: int, node: str, intent: str | None) -> Turn:
    return Turn(Speaker.PERSON, text, start, end, node, intent)


def answered() -> Dialogue:
    """A call answered at t=1000 ms on the dialer's clock; offsets count from there."""
    dialogue = Dialogue(SCRIPT, CUSTOMER)
    assert dialogue.handle(CallAnswered(1000)) == [play(IDENTIFY)]
    return dialogue


def test_identity_confirmed_then_a_date_given() -> None:
    d = answered()
    assert d.handle(PromptFinished(4000)) == [Listen(5000)]
    assert d.handle(SpeechStarted(4400)) == []
    assert d.handle(SpeechEnded(5200, "Yes, speaking.")) == [play(ASK_DATE)]
    assert d.handle(PromptFinished(10000)) == [Listen(7000)]
    assert d.handle(SpeechStarted(10500)) == []
    assert d.handle(SpeechEnded(11600, "I will pay on Friday")) == [play(NOTED, False)]
    assert d.handle(PromptFinished(16000)) == [
        TagCustomer("promised-to-pay"),
        SetIntentLevel("A"),
        SendSms("Dear Jack, thank you. Amount due: $120. Pay at example.com/pay. Example Energy"),
        HangUp(),
    ]
    assert d.state is State.ENDED
    r = d.record
    assert r.turns == [
        robot(IDENTIFY, 0, 3000, "identify"),
        person("Yes, speaking.", 3400, 4200, "identify", "yes"),
        robot(ASK_DATE, 4200, 9000, "ask_date"),
        person("I will pay on Friday", 9500, 10600, "ask_date", "pay_date"),
        robot(NOTED, 10600, 15000, "ask_date"),
    ]
    assert (r.chat_rounds, r.intent_level, r.tags) == (2, "A", ["promised-to-pay"])
    assert (r.result_status, r.hangup_by, r.chat_duration_ms) == (
        ResultStatus.ANSWERED,
        HangupBy.US,
        15000,
    )
    assert r.sms == [
        "Dear Jack, thank you. Amount due: $120. Pay at example.com/pay. Example Energy"
    ]
    assert not r.voicemail
    # the driver's own report of the hang-up changes nothing
    assert d.handle(CallEnded(16100, HangupBy.US)) == []
    assert d.record.hangup_by is HangupBy.US


def test_who_is_this_is_answered_and_the_question_asked_again() -> None:
    d = answered()
    d.handle(PromptFinished(4000))
    d.handle(SpeechStarted(4500))
    assert d.handle(SpeechEnded(5000, "Who is this?")) == [play(WHO, False)]
    assert d.handle(PromptFinished(9000)) == [play(IDENTIFY)]
    assert d.handle(PromptFinished(12000)) == [Listen(5000)]
    d.handle(SpeechStarted(12500))
    assert d.handle(SpeechEnded(13000, "yeah that's me")) == [play(ASK_DATE)]
    r = d.record
    assert [(t.speaker, t.text, t.intent) for t in r.turns] == [
        (Speaker.ROBOT, IDENTIFY, None),
        (Speaker.PERSON, "Who is this?", "who_is_this"),
        (Speaker.ROBOT, WHO, None),
        (Speaker.ROBOT, IDENTIFY, None),
        (Speaker.PERSON, "yeah that's me", "yes"),
        (Speaker.ROBOT, ASK_DATE, None),
    ]
    assert r.chat_rounds == 2
    assert r.intent_level is None and r.tags == []


def test_call_me_later_is_tagged_level_d_and_ends_the_call() -> None:
    d = answered()
    d.handle(PromptFinished(4000))
    d.handle(SpeechEnded(5000, "yes"))
    d.handle(PromptFinished(10000))
    d.handle(SpeechStarted(10200))
    assert d.handle(SpeechEnded(11000, "Sorry, can you call me later?")) == [play(LATER, False)]
    assert d.handle(PromptFinished(14000)) == [
        TagCustomer("call-later"),
        SetIntentLevel("D"),
        HangUp(),
    ]
    r = d.record
    assert r.turns[-2] == person(
        "Sorry, can you call me later?", 9200, 10000, "ask_date", "call_later"
    )
    assert r.turns[-1] == robot(LATER, 10000, 13000, "ask_date")
    assert (r.intent_level, r.tags, r.chat_rounds) == ("D", ["call-later"], 2)
    assert (r.result_status, r.hangup_by) == (ResultStatus.ANSWERED, HangupBy.US)


def test_stop_calling_me_lists_the_number_confirms_and_hangs_up() -> None:
    d = answered()
    d.handle(PromptFinished(4000))
    d.handle(SpeechStarted(4300))
    assert d.handle(SpeechEnded(5100, "No. Stop calling me!")) == [OptOut(), play(STOP, False)]
    assert d.handle(PromptFinished(8000)) == [HangUp()]
    r = d.record
    assert r.turns[1] == person("No. Stop calling me!", 3300, 4100, "identify", s.OPT_OUT)
    assert r.turns[2] == robot(STOP, 4100, 7000, "identify")
    assert (r.opted_out, r.result_status, r.hangup_by) == (True, ResultStatus.ANSWERED, HangupBy.US)
    assert (r.intent_level, r.tags, r.sms, r.chat_rounds, r.chat_duration_ms) == (
        None,
        [],
        [],
        1,
        7000,
    )


def test_silence_twice_asks_again_then_says_goodbye() -> None:
    d = answered()
    assert d.handle(PromptFinished(4000)) == [Listen(5000)]
    assert d.handle(SilenceTimeout(9000)) == [play(IDENTIFY_AGAIN)]
    assert d.handle(PromptFinished(14000)) == [Listen(5000)]
    assert d.handle(SilenceTimeout(19000)) == [play(UNHEARD, False)]
    assert d.handle(PromptFinished(22000)) == [
        TagCustomer("no-response"),
        SetIntentLevel("E"),
        HangUp(),
    ]
    r = d.record
    assert r.turns == [
        robot(IDENTIFY, 0, 3000, "identify"),
        robot(IDENTIFY_AGAIN, 8000, 13000, "identify"),
        robot(UNHEARD, 18000, 21000, "identify"),
    ]
    assert (r.chat_rounds, r.intent_level, r.tags) == (0, "E", ["no-response"])
    assert (r.result_status, r.hangup_by) == (ResultStatus.ANSWERED, HangupBy.US)


def test_a_voicemail_greeting_stops_the_prompt_and_takes_the_voicemail_branch() -> None:
    d = answered()
    assert d.handle(MachineDetected(3500)) == [
        StopPlayback(),
        TagCustomer("voicemail"),
        SetIntentLevel("E"),
        SendSms(
            "Hello Jack, a payment of $120 was due on March 1. Please call us back. Example Energy"
        ),
        HangUp(),
    ]
    r = d.record
    assert r.voicemail
    assert r.turns == [robot(IDENTIFY, 0, 2500, "identify")]
    assert (r.chat_rounds, r.intent_level, r.tags) == (0, "E", ["voicemail"])
    assert (r.result_status, r.hangup_by, r.chat_duration_ms) == (
        ResultStatus.ANSWERED,
        HangupBy.US,
        2500,
    )
    # the greeting's words and its beep come after the robot has gone
    assert d.handle(SpeechEnded(5000, "leave a message after the tone")) == []
    assert d.record.turns == [robot(IDENTIFY, 0, 2500, "identify")]
