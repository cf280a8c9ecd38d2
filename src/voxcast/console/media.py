"""The console's Voice files page (upload, list, play, delete through `services.files`, the
upload checked exactly as `voice/fileUpload` checks it) and its Text to speech page (speech made
by the tasks' own voice choice and renderer, and played in the page)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import io
import json
import math
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse
from starlette.datastructures import UploadFile

from voxcast.api.base import storable_text
from voxcast.audio import LANGUAGES, AudioError, PromptCache, RenderedPrompt, RenderPool
from voxcast.audio.pcm import wav_bytes
from voxcast.audio.voices import MAX_RATE, MIN_RATE, Voice
from voxcast.console import auth
from voxcast.console.pages import (
    BASE,
    PAGE_SIZE,
    ConsoleRoute,
    Missing,
    _account_user,
    _page,
    _rt,
    _stamp,
    _writer_form,
    render,
)
from voxcast.domain.codes import ApiError, Code
from voxcast.runtime import Runtime
from voxcast.services import console_users, files, speech
from voxcast.services.console_users import Principal

router = APIRouter(prefix=BASE, route_class=ConsoleRoute, include_in_schema=False)

#: `voice/fileUpload`'s fileName bounds (api/routers/files.py)
NAME_MIN, NAME_MAX = 5, 32
#: a file id's longest form (the column's width)
MAX_FILE_ID = 64
#: the API's bound on a TTS text (PromptFields.text, SendCode.text)
MAX_TEXT = 1000
#: speech renders one console process runs at once: each takes a core while it lasts, and the
#: API answering next to it must not starve
TTS_SLOTS = 2
GENDERS = [(2, "female"), (1, "male")]
TTS_DEFAULTS = {"text": "", "lan": "EN", "gender": "2", "accent": "", "rate": "1"}
#: the form's fields by the API's names, which its reasons use
API_NAMES = {
    "text": "text",
    "lan": "lan",
    "gender": "ssmlGender",
    "accent": "accent",
    "rate": "speakingRate",
}


# -- voice files -------------------------------------------------------------------------------


async def _files_page(
    request: Request, who: Principal, *, status: int = 200, **extra: Any
) -> Response:
    assert who.account_id is not None
    rt = _rt(request)
    page = _page(request)
    async with rt.readonly() as session:
        rows, total = await files.page_details(session, who.account_id, page, PAGE_SIZE)
    return render(
        "files.html",
        who,
        status,
        here="files",
        files=rows,
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        extensions=files.AUDIO_EXTENSIONS,
        max_mb=rt.settings.max_upload_bytes / 1024 / 1024,
        **extra,
    )


@router.get("/files")
async def file_list(request: Request) -> Response:
    who = await _account_user(request)
    return await _files_page(request, who)


def _upload_name(given: str, upload: UploadFile) -> str:
    """The name to store: the one typed, else the uploaded file's own (without any folder),
    held to `voice/fileUpload`'s rules for fileName."""
    name = given.strip() or (upload.filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    try:
        storable_text(name)
    except ValueError as err:
        raise ApiError(Code.PARAMETER, f"name: {err}") from None
    if len(name) < NAME_MIN:
        raise ApiError(Code.PARAMETER, f"name: should have at least {NAME_MIN} characters")
    if len(name) > NAME_MAX:
        raise ApiError(Code.PARAMETER, f"name: should have at most {NAME_MAX} characters")
    return name


async def _store(request: Request, who: Principal, fields: dict[str, str]) -> str:
    """Store the posted file with the API's own upload service; its name."""
    assert who.account_id is not None
    rt = _rt(request)
    upload = (await request.form()).get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise ApiError(Code.PARAMETER, "file: choose an audio file to upload")
    name = _upload_name(fields.get("name", ""), upload)
    limit = rt.settings.max_upload_bytes
    upload.file.seek(0, io.SEEK_END)
    if upload.file.tell() > limit:
        # what store_upload answers, said before a large file is read and encoded
        raise ApiError(Code.CAPS, f"file: file is over the {limit} byte limit")
    upload.file.seek(0)
    content = base64.b64encode(await upload.read()).decode("ascii")
    async with rt.sessions.begin() as session:
        file_id = await files.store_upload(
            session,
            account_id=who.account_id,
            file_name=name,
            content_b64=content,
            now=rt.clock.now(),
            max_bytes=limit,
            name_field="name",
            file_field="file",
        )
        await console_users.audit(
            session, who, "voice file uploaded", f"{file_id} {name}", **_stamp(request)
        )
    return name


@router.post("/files")
async def file_upload(request: Request) -> Response:
    who, fields = await _writer_form(request)
    try:
        name = await _store(request, who, fields)
    except ApiError as err:
        return await _files_page(request, who, status=400, error=err.reason)
    return await _files_page(request, who, notice=f"{name} uploaded.")


def _file_id(text: str) -> str:
    if not text or len(text) > MAX_FILE_ID:
        raise Missing
    return text


@router.get("/files/{file_id}/audio")
async def file_audio(request: Request, file_id: str) -> Response:
    """The file as a call plays it (8 kHz mono) in a WAV, for the page's audio element."""
    who = await _account_user(request)
    assert who.account_id is not None
    async with _rt(request).readonly() as session:
        pcm = await files.file_pcm(session, who.account_id, _file_id(file_id))
    return Response(wav_bytes(pcm), media_type="audio/wav")


@router.post("/files/{file_id}/delete")
async def file_delete(request: Request, file_id: str) -> Response:
    who, _ = await _writer_form(request)
    assert who.account_id is not None
    rt = _rt(request)
    try:
        async with rt.sessions.begin() as session:
            name = await files.delete_file(session, who.account_id, _file_id(file_id))
            await console_users.audit(
                session, who, "voice file deleted", f"{file_id} {name}", **_stamp(request)
            )
    except ApiError as err:
        if err.code == Code.NOT_FOUND:
            raise
        return await _files_page(request, who, status=409, error=err.reason)
    return await _files_page(request, who, notice=f"{name} deleted.")


# -- text to speech ----------------------------------------------------------------------------


def _tts_page(
    request: Request,
    who: Principal,
    form: dict[str, str],
    *,
    status: int = 200,
    **extra: Any,
) -> Response:
    return render(
        "tts.html",
        who,
        status,
        here="tts",
        form=form,
        languages=list(LANGUAGES.values()),
        genders=GENDERS,
        max_text=MAX_TEXT,
        min_rate=MIN_RATE,
        max_rate=MAX_RATE,
        **extra,
    )


@router.get("/tts")
async def tts_form(request: Request) -> Response:
    who = await _account_user(request)
    return _tts_page(request, who, dict(TTS_DEFAULTS))


def _tts_fields(form: dict[str, str]) -> dict[str, Any]:
    """The form as the vendor's TTS fields, held to the API's bounds (named as the API
    names them, since its reasons name them so)."""
    text = form["text"]
    for key, value in form.items():
        try:
            storable_text(value)
        except ValueError as err:
            raise ApiError(Code.PARAMETER, f"{API_NAMES[key]}: {err}") from None
    if not text.strip():
        raise ApiError(Code.TTS_REQUIRED, "text: type a text to speak")
    if len(text) > MAX_TEXT:
        raise ApiError(Code.PARAMETER, f"text: should have at most {MAX_TEXT} characters")
    try:
        rate = float(form["rate"] or "1")
    except ValueError:
        rate = math.nan
    if not MIN_RATE <= rate <= MAX_RATE:
        raise ApiError(
            Code.PARAMETER,
            f"speakingRate: {form['rate'][:16]} is not a rate from {MIN_RATE:g} to {MAX_RATE:g}",
        )
    if form["gender"] not in ("1", "2"):
        raise ApiError(Code.PARAMETER, "ssmlGender: 1 (male) or 2 (female)")
    if len(form["lan"]) > 8:
        raise ApiError(Code.PARAMETER, "lan: should have at most 8 characters")
    if len(form["accent"]) > 16:
        raise ApiError(Code.PARAMETER, "accent: should have at most 16 characters")
    return {
        "lan": form["lan"],
        "accent": form["accent"] or None,
        "ssmlGender": int(form["gender"]),
        "speakingRate": rate,
    }


def _slots(request: Request) -> asyncio.Semaphore:
    slots: asyncio.Semaphore = request.app.state.console_tts_slots
    return slots


async def _speak(request: Request, rt: Runtime, text: str, voice: Voice) -> RenderedPrompt:
    """`text` rendered as a task's prompt is: by the renderer into the shared prompt cache
    (a text a task already spoke in this voice is not rendered again)."""
    cache = PromptCache.under(rt.settings.data_dir)
    async with _slots(request), RenderPool(cache, workers=0) as pool:
        try:
            return await pool.render(text, voice)
        except AudioError as err:
            raise ApiError(Code.PARAMETER, f"text: {err.detail}") from None


def _signature(who: Principal, key: str) -> str:
    """Ties a rendered prompt's address to the session that asked for it: the prompt cache is
    shared by all accounts, and its keys must not be fetchable from another session."""
    return hmac.new(who.csrf_token.encode(), key.encode(), hashlib.sha256).hexdigest()[:32]


@router.post("/tts")
async def tts_speak(request: Request) -> Response:
    """Speak the form's text. Any user of the account may: it changes nothing in it."""
    who = await _account_user(request)
    assert who.account_id is not None
    fields = await auth.posted_form(request, who, None)
    form = {k: fields.get(k, default).strip() for k, default in TTS_DEFAULTS.items() if k != "text"}
    form["text"] = fields.get("text", "")
    rt = _rt(request)
    try:
        wanted = _tts_fields(form)
        async with rt.readonly() as session:
            rules = await speech.rules_of(session, who.account_id)
        voice = speech.voice_for(wanted, rules)
        spoken = await _speak(request, rt, form["text"], voice)
    except ApiError as err:
        return _tts_page(request, who, form, status=400, error=err.reason)
    # the request rides in the link, so a node whose prompt cache lacks the audio (another
    # node of a cluster rendered it) renders it again instead of answering 404
    asked = _pack(form)
    sig = _signature(who, f"{spoken.key}.{asked}")
    src = f"{BASE}/tts/audio/{spoken.key}?req={asked}&sig={sig}"
    return _tts_page(
        request,
        who,
        form,
        speech={"src": src, "voice": voice.address, "seconds": spoken.duration_s},
    )


@router.get("/tts/audio/{key}")
async def tts_audio(request: Request, key: str) -> Response:
    """A spoken text's audio, for the session that asked for it: from this node's prompt cache,
    or rendered again from the request the link carries (the same voice gives the same key)."""
    who = await _account_user(request)
    assert who.account_id is not None
    sig = request.query_params.get("sig", "")
    asked = request.query_params.get("req", "")
    if len(key) != 64 or any(c not in "0123456789abcdef" for c in key):
        raise Missing
    if not hmac.compare_digest(sig.encode(), _signature(who, f"{key}.{asked}").encode()):
        raise Missing
    rt = _rt(request)
    path = PromptCache.under(rt.settings.data_dir).path(key)
    if not await asyncio.to_thread(path.is_file):
        form = _unpack(asked)
        async with rt.readonly() as session:
            rules = await speech.rules_of(session, who.account_id)
        try:
            voice = speech.voice_for(_tts_fields(form), rules)
            spoken = await _speak(request, rt, form.get("text", ""), voice)
        except ApiError:
            raise Missing from None
        if spoken.key != key:  # the voices configured here differ from the other node's
            raise Missing
    return FileResponse(path, media_type="audio/wav")


def _pack(form: dict[str, str]) -> str:
    raw = json.dumps(form, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unpack(asked: str) -> dict[str, str]:
    """A link's request (signed, so it is ours; still read defensively)."""
    try:
        form = json.loads(base64.urlsafe_b64decode(asked + "=" * (-len(asked) % 4)))
    except ValueError:
        raise Missing from None
    if not isinstance(form, dict):
        raise Missing
    return {**TTS_DEFAULTS, **{k: str(v) for k, v in form.items() if k in TTS_DEFAULTS}}
