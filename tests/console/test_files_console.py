"""The console's Voice files and Text to speech pages in a real browser against a real
`voxcast serve`: uploads through the API's own service (drag and drop included), durations,
playback of the 8 kHz audio, refusals with the API's reasons, deletion, a read-only user and
another account kept out; speech rendered through the tasks' renderer and heard in the page."""

from __future__ import annotations

import base64

import pytest
from playwright.async_api import BrowserContext, Page, expect

from tests.console.conftest import SHARED_LOOP, STEP_MS, Console, Shot, sign_in
from tests.unit.audio.audiofiles import encode
from voxcast.audio import duration_of
from voxcast.audio.cache import PromptCache
from voxcast.audio.engines import kokoro_installed

pytestmark = [pytest.mark.timeout(180), SHARED_LOOP]

#: waits for the audio element's metadata and answers its duration in seconds
AUDIO_DURATION = """async (audio) => {
    audio.preload = "auto";
    if (audio.readyState < 1) {
        await new Promise((ok, bad) => {
            audio.addEventListener("loadedmetadata", ok, { once: true });
            audio.addEventListener("error", () => bad(new Error("audio error")), { once: true });
            audio.load();
        });
    }
    return audio.duration;
}"""

#: drops a file (given as base64) on the upload's drop zone, as a file dragged from the desktop
DROP = """([name, b64]) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const dt = new DataTransfer();
    dt.items.add(new File([bytes], name, { type: "audio/wav" }));
    const zone = document.querySelector("#dropzone");
    const init = { dataTransfer: dt, bubbles: true, cancelable: true };
    zone.dispatchEvent(new DragEvent("dragover", init));
    zone.dispatchEvent(new DragEvent("drop", init));
}"""


async def _owner_page(console: Console, context: BrowserContext, username: str) -> Page:
    page = await context.new_page()
    await sign_in(page, console, username)
    await page.wait_for_url(console.url("/dashboard"))
    return page


async def _upload(page: Page, name: str, data: bytes, mime: str) -> None:
    await page.set_input_files("#upload input[type=file]", files=[
        {"name": name, "mimeType": mime, "buffer": data}
    ])  # fmt: skip
    await page.click("#upload button[type=submit]")


async def test_an_owner_uploads_lists_plays_and_deletes_voice_files(
    console: Console, context: BrowserContext, shot: Shot
) -> None:
    wav, mp3 = encode("wav", 2.0), encode("mp3", 1.5)
    page = await _owner_page(console, context, console.a.username)
    await page.click("nav >> text=Voice files")
    await page.wait_for_url(console.url("/files"))
    await expect(page.locator("#files tbody")).to_contain_text("No voice file yet")

    # the WAV dropped on the page, the MP3 picked with the file input
    await page.evaluate(DROP, ["greeting.wav", base64.b64encode(wav).decode()])
    await page.click("#upload button[type=submit]")
    await expect(page.get_by_role("status")).to_have_text("greeting.wav uploaded.")
    await _upload(page, "notice.mp3", mp3, "audio/mpeg")
    await expect(page.get_by_role("status")).to_have_text("notice.mp3 uploaded.")

    wav_row, mp3_row = (
        page.locator("#files tbody tr[data-name='greeting.wav']"),
        page.locator("#files tbody tr[data-name='notice.mp3']"),
    )
    await expect(wav_row.locator(".format")).to_have_text("wav")
    await expect(wav_row.locator(".duration")).to_have_text("2.0 s")
    await expect(mp3_row.locator(".format")).to_have_text("mp3")
    await expect(mp3_row.locator(".duration")).to_have_text(f"{duration_of(mp3, 'mp3'):.1f} s")
    # newest first, and the API's own list sees the same files (one service, one table)
    assert await page.locator("#files tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.name)"
    ) == ["notice.mp3", "greeting.wav"]
    await shot(page, "files")
    listed = await console.a.api.query_files(current=1, size=10)
    assert listed.code == "0", listed
    assert {r["fileName"] for r in listed.data["records"]} == {"notice.mp3", "greeting.wav"}
    file_id = await wav_row.get_attribute("data-file")
    assert file_id is not None and file_id.endswith(".wav")

    # played in the page: the element's source is the 8 kHz WAV of this file
    audio = wav_row.locator("audio")
    src = await audio.get_attribute("src")
    assert src == f"/console/files/{file_id}/audio"
    answer = await page.request.get(console.url(f"/files/{file_id}/audio"))
    assert answer.status == 200
    assert answer.headers["content-type"] == "audio/wav"
    body = await answer.body()
    assert body[:4] == b"RIFF" and int.from_bytes(body[24:28], "little") == 8000
    seconds = await audio.evaluate(AUDIO_DURATION)
    assert abs(seconds - 2.0) < 0.05

    # a file that is no audio: the API's reason, in the page, and nothing stored
    await _upload(page, "notes.txt", b"just some words\n", "text/plain")
    await expect(page.get_by_role("alert")).to_contain_text(
        "name: extension .txt is not one of .mp3"
    )
    # a second file of one name: the API's -20 reason
    await _upload(page, "notice.mp3", mp3, "audio/mpeg")
    await expect(page.get_by_role("alert")).to_contain_text(
        "name: a file named notice.mp3 already exists"
    )
    # bytes that do not decode: the decoder's reason naming the field
    await _upload(page, "broken.wav", b"RIFF" + bytes(200), "audio/wav")
    await expect(page.get_by_role("alert")).to_contain_text("file: ")
    await expect(page.locator("#files tbody tr")).to_have_count(2)

    await mp3_row.locator("button:text('Delete')").click()
    await expect(page.get_by_role("status")).to_have_text("notice.mp3 deleted.")
    await expect(page.locator("#files tbody tr")).to_have_count(1)
    listed = await console.a.api.query_files(current=1, size=10)
    assert [r["fileName"] for r in listed.data["records"]] == ["greeting.wav"]
    await page.goto(console.url("/audit"))
    await expect(page.locator("#audit tbody")).to_contain_text("voice file deleted")
    await expect(page.locator("#audit tbody")).to_contain_text("voice file uploaded")


async def test_a_file_in_use_by_a_waiting_task_is_not_deleted(
    console: Console, context: BrowserContext
) -> None:
    up = await console.a.api.upload_file("prompt.wav", base64.b64encode(encode("wav")).decode())
    assert up.code == "0", up
    sent = await console.a.api.send_group_call(
        appId=console.a.app_id, taskName="uses prompt", source=1, voiceFileId=str(up.data),
        maxRingingTime=20, maxCalls=60, loopCount=1, sendTime="2099-01-01 00:00:00",
        numberInfoList=[{"calleeNumber": "8613000000010"}],
    )  # fmt: skip
    assert sent.code == "0", sent
    page = await _owner_page(console, context, console.a.username)
    await page.goto(console.url("/files"))
    await page.locator("#files tbody tr[data-name='prompt.wav'] button:text('Delete')").click()
    await expect(page.get_by_role("alert")).to_contain_text(f"task {sent.data}")
    await expect(page.locator("#files tbody tr[data-name='prompt.wav']")).to_have_count(1)


async def test_a_readonly_user_listens_but_cannot_upload_or_delete(
    console: Console, context: BrowserContext
) -> None:
    up = await console.a.api.upload_file("hello.wav", base64.b64encode(encode("wav")).decode())
    assert up.code == "0", up
    page = await _owner_page(console, context, console.readonly_user)
    await page.goto(console.url("/files"))
    row = page.locator("#files tbody tr[data-name='hello.wav']")
    await expect(row.locator(".duration")).to_have_text("2.0 s")
    assert await page.locator("#upload").count() == 0
    assert await page.locator("#files button:text('Delete')").count() == 0
    assert await row.locator("audio").evaluate(AUDIO_DURATION) > 1.9
    token = await page.evaluate("document.body.getAttribute('hx-headers')")
    csrf = token.split('"')[3]
    refused = await page.request.post(
        console.url("/files"),
        multipart={
            "csrf_token": csrf,
            "file": {"name": "x.wav", "mimeType": "audio/wav", "buffer": encode("wav")},
        },
    )
    assert refused.status == 403
    refused = await page.request.post(
        console.url(f"/files/{up.data}/delete"), form={"csrf_token": csrf}
    )
    assert refused.status == 403
    listed = await console.a.api.query_files(current=1, size=10)
    assert [r["fileName"] for r in listed.data["records"]] == ["hello.wav"]


async def test_another_accounts_file_is_not_found(
    console: Console, context: BrowserContext
) -> None:
    theirs = await console.b.api.upload_file("secret.wav", base64.b64encode(encode("wav")).decode())
    assert theirs.code == "0", theirs
    page = await _owner_page(console, context, console.a.username)
    await page.goto(console.url("/files"))
    await expect(page.locator("#files tbody")).not_to_contain_text("secret.wav")
    answer = await page.request.get(console.url(f"/files/{theirs.data}/audio"))
    assert answer.status == 404
    token = await page.evaluate("document.body.getAttribute('hx-headers')")
    answer = await page.request.post(
        console.url(f"/files/{theirs.data}/delete"), form={"csrf_token": token.split('"')[3]}
    )
    assert answer.status == 404
    listed = await console.b.api.query_files(current=1, size=10)
    assert [r["fileName"] for r in listed.data["records"]] == ["secret.wav"]


async def test_text_to_speech_is_heard_in_the_page_and_a_bad_rate_is_named(
    console: Console, context: BrowserContext, shot: Shot
) -> None:
    page = await _owner_page(console, context, console.a.username)
    await page.click("nav >> text=Text to speech")
    await page.wait_for_url(console.url("/tts"))
    await page.fill("#tts textarea[name=text]", "Your parcel arrives tomorrow morning.")
    await page.select_option("#tts select[name=lan]", "EN")
    await page.select_option("#tts select[name=gender]", "2")
    await page.fill("#tts input[name=rate]", "1")
    await page.click("#tts button[type=submit]")
    audio = page.locator("#speech audio")
    await expect(audio).to_have_count(1, timeout=STEP_MS * 3)
    src = await audio.get_attribute("src")
    assert src is not None
    answer = await page.request.get(console.url(src.removeprefix("/console")))
    assert answer.status == 200 and answer.headers["content-type"] == "audio/wav"
    assert await audio.evaluate(AUDIO_DURATION) > 0.5
    # a node whose cache lacks it (another node rendered it) renders it again from the link
    cached = PromptCache.under(console.cli.data_dir).path(src.split("/")[-1].split("?")[0])
    spoken = await answer.body()
    assert cached.read_bytes() == spoken
    cached.unlink()
    again = await page.request.get(console.url(src.removeprefix("/console")))
    assert again.status == 200 and await again.body() == spoken
    # the link's request is signed: changed, it is nobody's
    forged = src.replace("req=", "req=e30")
    assert (await page.request.get(console.url(forged.removeprefix("/console")))).status == 404
    await shot(page, "tts")
    # the text stays in the box to change and speak again
    await expect(page.locator("#tts textarea[name=text]")).to_have_value(
        "Your parcel arrives tomorrow morning."
    )
    # the audio is this session's: another browser (signed in or not) gets nothing from it
    assert context.browser is not None
    other = await context.browser.new_context()
    try:
        stranger = await other.new_page()
        await sign_in(stranger, console, console.b.username)
        await stranger.wait_for_url(console.url("/dashboard"))
        refused = await stranger.request.get(console.url(src.removeprefix("/console")))
        assert refused.status == 404
    finally:
        await other.close()

    await page.fill("#tts input[name=rate]", "9")
    await page.click("#tts button[type=submit]")
    await expect(page.get_by_role("alert")).to_contain_text("speakingRate")
    assert await page.locator("#speech audio").count() == 0
    # a rate the API takes but the chosen voice does not speak: -39 naming the field (or,
    # where no Japanese voice is installed, naming the language)
    await page.select_option("#tts select[name=lan]", "JP")
    await page.fill("#tts input[name=rate]", "3")
    await page.click("#tts button[type=submit]")
    await expect(page.get_by_role("alert")).to_contain_text(
        "speakingRate: 3 is outside what the kokoro voice speaks"
        if kokoro_installed()
        else "lan: JP: no installed voice reads Japanese"
    )
    await page.fill("#tts input[name=rate]", "1")
    await page.select_option("#tts select[name=lan]", "EN")
    # past the textarea's maxlength (as a script or an old browser could send)
    await page.evaluate("document.querySelector('#tts textarea').value = 'x'.repeat(1001)")
    await page.click("#tts button[type=submit]")
    await expect(page.get_by_role("alert")).to_contain_text(
        "text: should have at most 1000 characters"
    )
