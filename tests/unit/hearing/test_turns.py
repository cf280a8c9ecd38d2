"""End of turn and barge-in, fed by the Silero detector on speech through G.711: a turn ends
after the configured silence (700 ms by default), counted from the end of the last word;
an interruptible prompt is stopped on the frame that brings the callee's speech to 250 ms;
backchannels and non-interruptible prompts are never stopped."""

from __future__ import annotations

import pytest

from tests.unit.hearing.speech import flags, said, silence, speech_ms, ulaw
from voxcast.audio.hearing import (
    FRAME_MS,
    BargedIn,
    BargeIn,
    Ear,
    EndOfTurn,
    SpeechStarted,
    TurnEnded,
    detector,
    frames,
)


def last_speech_end(pcm: bytes) -> int:
    """Where the detector's last speech frame ends, in ms from the start of `pcm`."""
    heard = flags(detector(), pcm)
    return (max(i for i, s in enumerate(heard) if s) + 1) * FRAME_MS


def run(ear: Ear, pcm: bytes, packet: int = 160) -> list[tuple[int, object]]:
    """Feed `pcm` to the ear as µ-law RTP payloads of `packet` bytes; (ms, event) pairs."""
    payload = ulaw(pcm)
    out: list[tuple[int, object]] = []
    for i in range(0, len(payload), packet):
        out += [(ear.now_ms, e) for e in ear.feed(payload[i : i + packet])]
    return out


@pytest.mark.parametrize("end_silence_ms", [700, 400])
def test_a_turn_ends_after_the_configured_silence_after_the_last_word(end_silence_ms: int) -> None:
    phrase = said("Yes, I can pay on Friday.")
    audio = silence(400) + phrase + silence(1500)
    ear = Ear(end_silence_ms=end_silence_ms)
    events = run(ear, audio)
    kinds = [type(e) for _, e in events]
    assert kinds == [SpeechStarted, TurnEnded]
    started, ended = events[0][1], events[1][1]
    assert isinstance(started, SpeechStarted) and isinstance(ended, TurnEnded)
    end = last_speech_end(audio)
    assert ended.ended_ms == end
    assert events[1][0] == end + end_silence_ms  # reported on the frame that completes it
    assert ended.cause == "silence"
    assert 380 <= started.at_ms <= 460  # the phrase starts at 400 ms
    # the turn's audio: 200 ms before its first speech frame to one frame after its last
    assert len(ended.pcm) == (ended.ended_ms + FRAME_MS - (started.at_ms - 200)) * 16
    assert ended.speech_ms == speech_ms(detector(), audio)


def test_a_pause_shorter_than_the_end_silence_keeps_one_turn() -> None:
    audio = said("I can pay") + silence(400) + said("next Friday.") + silence(1000)
    one = [e for _, e in run(Ear(), audio) if isinstance(e, TurnEnded)]
    two = [e for _, e in run(Ear(end_silence_ms=300), audio) if isinstance(e, TurnEnded)]
    assert len(one) == 1 and len(two) == 2


def test_a_long_talker_is_cut_at_the_longest_turn() -> None:
    turns = EndOfTurn(max_turn_ms=1000)
    events = [turns.feed(b"\0" * 320, True) for _ in range(60)]
    ended = [e for e in events if isinstance(e, TurnEnded)]
    assert [e.cause for e in ended] == ["max"]
    assert ended[0].started_ms == 0 and ended[0].ended_ms == 1000


def test_a_click_is_no_turn() -> None:
    turns = EndOfTurn()
    flags_ = [True, True] + [False] * 50  # 40 ms of "speech": under MIN_SPEECH_MS
    assert [turns.feed(b"\0" * 320, s) for s in flags_] == [None] * len(flags_)
    assert not turns.in_utterance


# --- barge-in --------------------------------------------------------------------------------


def test_barge_in_fires_on_the_frame_that_brings_speech_to_250_ms() -> None:
    barge = BargeIn()
    barge.prompt(interruptible=True)
    decisions = [barge.feed(True) for _ in range(20)]
    # 13 frames of 20 ms = 260 ms: the first frame at or past 250 ms, and only that one
    assert decisions.index(True) == 12
    assert decisions.count(True) == 1
    assert not barge.playing


def test_short_pauses_inside_speech_count_and_a_long_one_resets() -> None:
    barge = BargeIn()
    barge.prompt(interruptible=True)
    pattern = [True] * 6 + [False] * 5 + [True] * 6  # 120 ms, a 100 ms pause, 120 ms
    assert not any(barge.feed(s) for s in pattern)
    assert barge.feed(True)  # the 13th speech frame
    barge.prompt(interruptible=True)
    pattern = [True] * 10 + [False] * 15 + [True] * 10  # a 300 ms pause: two backchannels
    assert not any(barge.feed(s) for s in pattern)


def test_a_non_interruptible_prompt_is_never_stopped() -> None:
    barge = BargeIn()
    barge.prompt(interruptible=False)
    assert not any(barge.feed(True) for _ in range(500))
    assert barge.heard_ms == 500 * FRAME_MS
    barge.prompt_over()
    barge.prompt(interruptible=True)
    assert any(barge.feed(True) for _ in range(13))


@pytest.mark.parametrize(("text", "wpm"), [("uh-huh", 450), ("yeah", 450), ("right", 450)])
def test_a_backchannel_does_not_stop_an_interruptible_prompt(text: str, wpm: int) -> None:
    short = said(text, wpm)
    assert len(short) < 250 * 16  # under 250 ms of audio, all of it
    assert speech_ms(detector(), short) > 0
    stops: list[int] = []
    ear = Ear(on_barge_in=lambda: stops.append(ear.now_ms))
    ear.prompt(interruptible=True)
    events = run(ear, silence(300) + short + silence(600) + short + silence(600))
    assert stops == [] and not any(isinstance(e, BargedIn) for _, e in events)


def test_talking_over_an_interruptible_prompt_stops_it_within_the_deciding_frame() -> None:
    audio = silence(300) + said("No, I am not interested, stop calling me.") + silence(800)
    heard = flags(detector(), audio)
    # where the 250 ms mark falls: the 13th speech frame of the run (no long pause before it)
    deciding = [i for i, s in enumerate(heard) if s][12]
    stops: list[int] = []
    ear = Ear(on_barge_in=lambda: stops.append(ear.now_ms))
    ear.prompt(interruptible=True)
    events = run(ear, audio)
    # the stop is called while that frame is being heard: before it is counted as heard
    assert stops == [deciding * FRAME_MS]
    barged = [e for _, e in events if isinstance(e, BargedIn)]
    assert barged == [BargedIn((deciding + 1) * FRAME_MS)]
    # the callee's words are still a turn for the conversation to answer
    assert sum(isinstance(e, TurnEnded) for _, e in events) == 1


def test_the_same_speech_over_a_non_interruptible_prompt_stops_nothing() -> None:
    audio = said("No, I am not interested, stop calling me.") + silence(800)
    stops: list[int] = []
    ear = Ear(on_barge_in=lambda: stops.append(ear.now_ms))
    ear.prompt(interruptible=False)
    events = run(ear, audio)
    assert stops == [] and not any(isinstance(e, BargedIn) for _, e in events)


@pytest.mark.parametrize("packet", [80, 160, 240, 333])
def test_any_packet_size_is_cut_into_the_same_20_ms_frames(packet: int) -> None:
    audio = silence(200) + said("Who is this?") + silence(900)
    reference = [(t, e) for t, e in run(Ear(), audio, 160) if not isinstance(e, TurnEnded)]
    events = [(t, e) for t, e in run(Ear(), audio, packet) if not isinstance(e, TurnEnded)]
    assert [e for _, e in events] == [e for _, e in reference]
    assert len(frames(audio)) * FRAME_MS >= Ear().now_ms
