"""Which voice speaks a task: the account's own voice mapping, and the check that a task's
TTS fields (lan, accent, ssmlGender, speakingRate) have an installed voice, answered -39
naming the field at submission rather than failing the task later."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from voxcast.audio.catalog import VoiceRule, parse_rule, rules_from_mapping
from voxcast.audio.errors import TtsLanguage, TtsRequired
from voxcast.audio.tts import check_address, choose_voice
from voxcast.audio.voices import Voice
from voxcast.domain.codes import ApiError, Code
from voxcast.services.accounts import get_account
from voxcast.storage.models import Account

log = logging.getLogger("voxcast.speech")


def account_rules(voices: Mapping[str, str] | None) -> list[VoiceRule]:
    """An account's stored mapping as rules (they were checked when set; one that no longer
    parses is logged and left out rather than stopping every task of the account)."""
    rules = []
    for key, address in (voices or {}).items():
        try:
            rules.extend(rules_from_mapping({key: address}))
        except ValueError as err:
            log.warning("account voice %s=%s ignored: %s", key, address, err)
    return rules


async def rules_of(session: AsyncSession, account_id: int) -> list[VoiceRule]:
    voices = await session.scalar(select(Account.voices).where(Account.id == account_id))
    return account_rules(voices)


def voice_for(
    fields: Mapping[str, Any],
    rules: list[VoiceRule],
    *,
    prefix: str = "",
    lan_field: str = "lan",
) -> Voice:
    """The voice of a TTS prompt's fields, or ApiError -39 naming the field no installed voice
    serves (-38 without a language)."""
    lan = fields.get(lan_field)
    try:
        return choose_voice(
            lan,
            fields.get("accent"),
            fields.get("ssmlGender"),
            fields.get("speakingRate"),
            rules=rules,
        )
    except TtsRequired as err:
        raise ApiError(Code.TTS_REQUIRED, f"{prefix}{lan_field}: {err.detail}") from None
    except TtsLanguage as err:
        field = lan_field if err.field == "lan" else err.field
        raise ApiError(Code.TTS_LANGUAGE, f"{prefix}{field}: {err.detail}") from None


async def check_prompt_voice(
    session: AsyncSession,
    account_id: int,
    fields: Mapping[str, Any],
    *,
    prefix: str = "",
    lan_field: str = "lan",
) -> None:
    """For a TTS prompt (source 3, or a voice OTP): its fields must have a voice."""
    voice_for(fields, await rules_of(session, account_id), prefix=prefix, lan_field=lan_field)


async def set_voice(
    session: AsyncSession, account_id: int, key: str, address: str | None
) -> tuple[dict[str, str], str | None]:
    """Map `key` (LAN[:ACCENT[:GENDER]]) to a voice address for one account, or remove it
    (address None). Returns the new mapping and, when this machine cannot speak with the
    address, why (it is stored anyway: the renderers may run elsewhere)."""
    account = await get_account(session, account_id)
    voices = dict(account.voices or {})
    if address is None:
        if voices.pop(key.strip(), None) is None:
            raise ApiError(Code.PARAMETER, f"voice: account {account_id} has no voice for {key}")
        account.voices = voices or None
        return voices, None
    try:
        rule = parse_rule(key, address)
    except ValueError as err:
        raise ApiError(Code.PARAMETER, f"voice: {err}") from None
    voices[rule.key] = str(rule.address)
    account.voices = voices
    return voices, check_address(rule.address)
