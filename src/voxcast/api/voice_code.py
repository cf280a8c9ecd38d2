"""The voice OTP request (`voice/sendCode`) and what the API does with it, apart from its router
so the console's test form checks and sends with the very same model and code."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from voxcast.api.base import Phone, storable_text
from voxcast.api.schemas.common import (
    Accent,
    AmdFields,
    CallAppId,
    MaxDuration,
    MaxRingingTime,
    SpeakingRate,
    SsmlGender,
)
from voxcast.domain.enums import TaskKind
from voxcast.runtime import Runtime
from voxcast.services import speech, voice
from voxcast.storage.models import Account

_DIGITS = re.compile(r"^[0-9]{7,15}$")


def optional_display(value: str | None) -> str | None:
    if value in (None, ""):
        return None
    assert value is not None
    if not _DIGITS.match(value):
        raise ValueError("must be 7-15 digits")
    return value


class SendCode(AmdFields):
    callee: Phone = Field(
        description="Number to call: country code and number, 7-15 digits, no '+'"
    )
    displayNum: str | None = Field(
        default=None,
        description="Caller id shown to the callee (digits); empty or null: the line's default",
    )
    language: str | None = Field(
        default=None,
        description="Language code of the text (see the vendor's language table, e.g. EN)",
    )
    speakingRate: SpeakingRate = None
    ssmlGender: SsmlGender = None
    accent: Accent = None
    text: str | None = Field(
        default=None,
        max_length=1000,
        description=(
            "Text read to the callee (digit runs are read one digit at a time), at "
            "most 1000 characters"
        ),
    )
    appId: CallAppId
    loopCount: int = Field(
        default=1, ge=1, le=9, description="Times the prompt is played, 1-9 (default 1)"
    )
    calledInfo: str | None = Field(
        default=None,
        max_length=1000,
        description="Free text (at most 1000 characters) echoed in the call's status report",
    )
    recallCount: int = Field(
        default=0,
        ge=0,
        le=9,
        description=(
            "Times a failed call is tried again, 0-9 (default 0: never); only the "
            "last attempt is reported"
        ),
    )
    recallInterval: int | None = Field(
        default=None,
        ge=0,
        le=999,
        description="Minutes between attempts when recallCount > 0, 0-999",
    )
    maxDuration: MaxDuration = None
    maxRingingTime: MaxRingingTime = 60
    delayPlay: int = Field(
        default=0,
        ge=0,
        le=999,
        description=(
            "Seconds of silence after the answer before the prompt plays, 0-999 (default 0)"
        ),
    )
    delayHangup: int = Field(
        default=0,
        ge=0,
        le=999,
        description="Seconds to wait after the prompt before hanging up, 0-999 (default 0)",
    )

    _text = field_validator("*", mode="before")(storable_text)
    _display = field_validator("displayNum")(optional_display)


async def send(req: SendCode, account: Account, rt: Runtime) -> str:
    """Call one number and speak `req.text`; the call's voiceId."""
    lan = voice.check_language(req.text, req.language)
    params = req.model_dump(exclude_none=True)
    params["language"] = lan
    async with rt.sessions.begin() as session:
        await speech.check_prompt_voice(session, account.id, params, lan_field="language")
    params["recallInterval"] = req.recallInterval or 5
    send = voice.Send(
        kind=TaskKind.CODE,
        app_id=req.appId,
        numbers=[req.callee],
        number_field="callee",
        display_num=req.displayNum,
        params=params,
        text=req.text,
        lan=lan,
        loop_count=req.loopCount,
        max_duration=req.maxDuration,
        max_ringing_time=req.maxRingingTime,
        delay_play=req.delayPlay,
        delay_hangup=req.delayHangup,
        called_info=req.calledInfo,
    )
    async with rt.sessions.begin() as session:
        (voice_id,) = await voice.submit(session, account, send, rt.clock.now())
    return voice_id
