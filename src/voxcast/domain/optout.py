"""What a callee who opts out hears before the call ends (the task's optOutText, or a short
sentence in its language), and the phrases an AI script hears as an opt-out in every script."""

from __future__ import annotations

#: "You will not be called again. Goodbye." in each language of `domain.languages`; the
#: Japanese is kana only (its default voice does not read kanji)
CONFIRMATIONS: dict[str, str] = {
    "VN": "Bạn sẽ không được gọi lại nữa. Tạm biệt.",
    "EN": "You will not be called again. Goodbye.",
    "JP": "もう おでんわ しません。さようなら。",
    "ARB": "لن نتصل بك مرة أخرى. مع السلامة.",
    "DE": "Sie werden nicht mehr angerufen. Auf Wiederhören.",
    "IN": "आपको दोबारा कॉल नहीं किया जाएगा। नमस्ते।",
    "IT": "Non la chiameremo più. Arrivederci.",
    "KR": "다시는 전화드리지 않겠습니다. 안녕히 계세요.",
    "RU": "Вам больше не будут звонить. До свидания.",
    "ES": "No le volveremos a llamar. Adiós.",
    "PT": "Não voltaremos a ligar para você. Adeus.",
    "IDN": "Anda tidak akan dihubungi lagi. Selamat tinggal.",
    "BD": "আপনাকে আর কল করা হবে না। বিদায়।",
    "TH": "เราจะไม่โทรหาคุณอีก ลาก่อน",
}
DEFAULT_LANGUAGE = "EN"


def confirmation_text(given: str | None, lan: str | None) -> str:
    """The task's optOutText when it says something, else the default sentence of `lan`
    (English for a task with no TTS language, such as one playing an uploaded file)."""
    if given is not None and given.strip():
        return given
    code = (lan or DEFAULT_LANGUAGE).strip().upper()
    return CONFIRMATIONS.get(code, CONFIRMATIONS[DEFAULT_LANGUAGE])


#: a script's `language` (ISO 639-1, "en", "zh-CN", or a vendor code) → the confirmation's
#: language; Chinese has no vendor TTS code, so its sentence is kept here for scripts
SCRIPT_LANGUAGES: dict[str, str] = {
    "vi": "VN",
    "en": "EN",
    "ja": "JP",
    "ar": "ARB",
    "de": "DE",
    "hi": "IN",
    "it": "IT",
    "ko": "KR",
    "ru": "RU",
    "es": "ES",
    "pt": "PT",
    "id": "IDN",
    "bn": "BD",
    "th": "TH",
    "zh": "ZH",
}
CHINESE_CONFIRMATION = "好的，我们以后不会再给您打电话了。再见。"


def script_lan(language: str) -> str:
    """The vendor language code of a script's `language` ("en-GB" → "EN", "ja" → "JP", a
    vendor code as it is)."""
    code = language.strip()
    base = code.replace("_", "-").split("-")[0].lower()
    return SCRIPT_LANGUAGES.get(base, code.upper())


def script_confirmation(language: str | None) -> str:
    """The default confirmation of an AI script's opt-out, in the script's `language`
    (English when it has none or one without a sentence)."""
    vendor = script_lan(language or "")
    if vendor == "ZH":
        return CHINESE_CONFIRMATION
    return CONFIRMATIONS.get(vendor, CONFIRMATIONS[DEFAULT_LANGUAGE])


#: what every AI script hears as "put me on your do-not-call list" (docs/ai.md#opt-out), in
#: English and Chinese; the longest keyword heard wins, so "no, stop calling me" is an opt-out
#: and not a "no". Kept to phrases that say nothing else: "call me later" must stay a script's
OPT_OUT_KEYWORDS: tuple[str, ...] = (
    "stop calling me",
    "stop calling",
    "don't call",
    "do not call",
    "stop phoning me",
    "don't call me again",
    "don't call me anymore",
    "do not call me again",
    "don't ever call me",
    "never call me again",
    "don't call this number",
    "remove me from your list",
    "remove me from your calling list",
    "take me off your list",
    "take me off your calling list",
    "remove my number",
    "delete my number",
    "put me on your do not call list",
    "do not call list",
    "unsubscribe",
    "opt out",
    "不要再打了",
    "不要再打",
    "别再打了",
    "别再打",
    "别再给我打电话",
    "不要再给我打电话",
    "以后别打了",
    "以后不要打了",
    "不要给我打电话",
    "别给我打电话",
    "把我的号码删掉",
    "删除我的号码",
    "把我从名单里删除",
    "退订",
)
OPT_OUT_EXAMPLES: tuple[str, ...] = (
    "please stop calling me",
    "don't call me again",
    "remove me from your list",
    "take me off your list",
    "I don't want any more calls",
    "I want to unsubscribe",
    "never call this number again",
    "请不要再给我打电话了",
    "别再打电话过来了",
)
