"""The AI script page's node form, "try it" and the call records' playback, in a real browser
against a real `voxcast serve` on the sandbox: a node's prompt edited in its form and saved as the
API saves it, a bad next node refused with the API's reason beside the node, a node added and
removed; a script tried on a speaking sandbox callee shows the robot's and the callee's lines;
the recorded call plays from the records page, and another account's user gets 404."""

from __future__ import annotations

import json
import struct
import time
from typing import Any

import httpx
import pytest
from playwright.async_api import BrowserContext, Page, expect

from tests.console.conftest import SHARED_LOOP, Console, Tenant, sign_in
from tests.helpers import signed_headers
from voxcast.clock import SystemClock
from voxcast.config import Settings
from voxcast.domain import scripts as domain_scripts
from voxcast.runtime import open_runtime
from voxcast.services import recordings, scripts, trunks

pytestmark = [pytest.mark.timeout(180), SHARED_LOOP]

#: the sandbox callee who answers "Yes, speaking." then "I can pay on Friday." (docs/sandbox.md)
AGREES = "8613000000010"
#: how long the tried call may take to show its transcript
TRY_MS = 60_000
NEW_PROMPT = "Good morning, this is Example Energy. Is this ${name}?"


@pytest.fixture(scope="module")
def sandbox_speed() -> float:
    """Slow enough that the recognizer's real time is short on the call's clock."""
    return 5


async def _signed_in(console: Console, context: BrowserContext, username: str) -> Page:
    page = await context.new_page()
    await sign_in(page, console, username)
    await page.wait_for_url(console.url("/dashboard"))
    return page


#: a short script for trials: its three prompts are rendered before the call in moments, where
#: the example's dozen take long on a loaded machine (opt-out off: no confirmation to render)
QUICK = {
    "formatVersion": 1,
    "name": "Quick check",
    "language": "en",
    "start": "identify",
    "intents": {
        "yes": {"keywords": ["yes", "speaking"], "examples": ["yes this is me"]},
        "pay_date": {"keywords": ["friday", "tomorrow"], "examples": ["I can pay on friday"]},
    },
    "optOut": {"enabled": False},
    "nodes": {
        "identify": {
            "prompt": {"text": "Hello, am I speaking with the account holder?"},
            "branches": [{"intent": "yes", "actions": [{"type": "goto", "node": "ask_date"}]}],
            "noMatch": [{"type": "hangup"}],
            "silence": [{"type": "hangup"}],
        },
        "ask_date": {
            "prompt": {"text": "When will you pay?"},
            "branches": [
                {
                    "intent": "pay_date",
                    "actions": [
                        {"type": "say", "prompt": {"text": "Thank you. Goodbye."}},
                        {"type": "hangup"},
                    ],
                }
            ],
            "noMatch": [{"type": "hangup"}],
            "silence": [{"type": "hangup"}],
        },
    },
}


async def _add_script(
    console: Console, tenant: Tenant, document: dict[str, Any] | None = None
) -> int:
    """A script (the example by default), added through `AiVoice/dialogFlowAdd` as the SDK
    adds it."""
    headers = signed_headers(tenant.api_key, tenant.api_secret, int(time.time()))
    body = {"appId": tenant.app_id, "script": document or scripts.example_document()}
    async with httpx.AsyncClient(base_url=console.base, timeout=30) as http:
        resp = await http.post("/v3/AiVoice/dialogFlowAdd", json=body, headers=headers)
    added: dict[str, Any] = resp.json()
    assert added["status"] == "0", added
    return int(added["data"])


async def _saved(page: Page) -> dict[str, Any]:
    """The stored document, as the page's JSON editor shows it."""
    document: dict[str, Any] = json.loads(await page.locator("#edit-script textarea").input_value())
    return document


def _stored_example() -> dict[str, Any]:
    """The example as the service stores it (normalised)."""
    return domain_scripts.to_json(domain_scripts.parse(scripts.example_document()))


async def test_a_node_is_edited_added_and_removed_in_its_form(
    console: Console, context: BrowserContext
) -> None:
    script_id = await _add_script(console, console.a)
    page = await _signed_in(console, context, console.a.username)
    await page.goto(console.url(f"/scripts/{script_id}"))
    identify = page.locator("fieldset[data-node=identify]")
    assert await identify.locator("textarea[name$='.prompt']").input_value() == (
        "Hello, this is Example Energy. Am I speaking with ${name}?"
    )
    assert await identify.locator("textarea[aria-label='Key actions']").first.input_value() == (
        "goto ask_date"
    )

    # the prompt changed in the form: saved, and nothing else of the document moved
    await identify.locator("textarea[name$='.prompt']").fill(NEW_PROMPT)
    await page.click("#script-form button[type=submit]")
    await expect(page.get_by_role("status")).to_have_text("Script saved.")
    await expect(page.locator("#script-revision")).to_have_text("2")
    expected = _stored_example()
    expected["nodes"]["identify"]["prompt"] = {"text": NEW_PROMPT}
    assert await _saved(page) == expected

    # key 1 going to a node that does not exist: the API's code and reason, beside the node
    identify = page.locator("fieldset[data-node=identify]")
    await identify.locator("textarea[aria-label='Key actions']").first.fill("goto nowhere")
    await page.click("#script-form button[type=submit]")
    reason = 'script.nodes.identify.dtmf.1[0].node: node "nowhere" does not exist'
    await expect(page.get_by_role("alert")).to_have_text(f"-22 Parameter exception: {reason}")
    await expect(page.locator("fieldset[data-node=identify] .problems")).to_have_text(reason)
    assert await page.locator("fieldset[data-node=ask_date] .problems").count() == 0
    # the refused form keeps what was typed
    assert await page.locator(
        "fieldset[data-node=identify] textarea[aria-label='Key actions']"
    ).first.input_value() == ("goto nowhere")
    await page.goto(console.url(f"/scripts/{script_id}"))
    assert await _saved(page) == expected

    # a node added (the blank one) and reached from ask_date's no-match
    new = page.locator("fieldset[data-node=new]")
    await new.locator("input[name$='.id']").fill("thanks")
    await new.locator("textarea[name$='.prompt']").fill("Thank you. Goodbye.")
    assert await new.locator("textarea[name$='.silence']").input_value() == "hangup"
    ask_date = page.locator("fieldset[data-node=ask_date]")
    await ask_date.locator("textarea[name$='.noMatch']").fill(
        "tag no-date\nsay We will write to you.\ngoto thanks"
    )
    await page.click("#script-form button[type=submit]")
    await expect(page.get_by_role("status")).to_have_text("Script saved.")
    saved = await _saved(page)
    assert saved["nodes"]["thanks"] == {
        "prompt": {"text": "Thank you. Goodbye."},
        "interruptible": True,
        "listenTimeoutMs": 5000,
        "retries": 1,
        "branches": [],
        "noMatch": [{"type": "hangup"}],
        "silence": [{"type": "hangup"}],
        "grammarFirst": False,
    }
    assert saved["nodes"]["ask_date"]["noMatch"] == [
        {"type": "tag", "tag": "no-date"},
        {"type": "say", "prompt": {"text": "We will write to you."}},
        {"type": "goto", "node": "thanks"},
    ]

    # removing a node another still goes to is refused, naming the node that goes there
    await page.locator("fieldset[data-node=thanks] input[name$='.remove']").check()
    await page.click("#script-form button[type=submit]")
    reason = 'script.nodes.ask_date.noMatch[2].node: node "thanks" does not exist'
    await expect(page.get_by_role("alert")).to_have_text(f"-22 Parameter exception: {reason}")
    await expect(page.locator("fieldset[data-node=ask_date] .problems")).to_have_text(reason)
    # with the goto gone too, the node goes
    await page.goto(console.url(f"/scripts/{script_id}"))
    await page.locator("fieldset[data-node=thanks] input[name$='.remove']").check()
    await page.locator("fieldset[data-node=ask_date] textarea[name$='.noMatch']").fill(
        "goto offer_agent"
    )
    await page.click("#script-form button[type=submit]")
    await expect(page.get_by_role("status")).to_have_text("Script saved.")
    assert await _saved(page) == expected
    assert await page.locator("fieldset[data-node=thanks]").count() == 0


async def test_another_accounts_script_form_and_trial_are_not_found_and_a_bad_callee_refused(
    console: Console, context: BrowserContext
) -> None:
    script_id = await _add_script(console, console.b)
    page = await _signed_in(console, context, console.a.username)
    token = json.loads(await page.evaluate("document.body.getAttribute('hx-headers')"))
    csrf = str(token["X-CSRF-Token"])
    answer = await page.request.post(
        console.url(f"/scripts/{script_id}/form"), form={"csrf_token": csrf, "name": "Mine"}
    )
    assert answer.status == 404
    answer = await page.request.post(
        console.url(f"/scripts/{script_id}/try"), form={"csrf_token": csrf, "callee": AGREES}
    )
    assert answer.status == 404
    # a number that is none of the sandbox's speaking callees, posted by hand to one's own
    own = await _add_script(console, console.a)
    answer = await page.request.post(
        console.url(f"/scripts/{own}/try"), form={"csrf_token": csrf, "callee": "8613000000001"}
    )
    assert answer.status == 400
    assert "-22 Parameter exception: callee: &#39;8613000000001&#39; is not a sandbox test" in (
        await answer.text()
    )


def _wav_data_bytes(body: bytes) -> int:
    """The length the WAV's data chunk declares (the files are plain 44-byte-header WAVs)."""
    assert body[:4] == b"RIFF" and body[8:12] == b"WAVE" and body[36:40] == b"data"
    return int(struct.unpack("<I", body[40:44])[0])


async def test_try_it_shows_the_transcript_and_the_recorded_call_plays(
    console: Console, context: BrowserContext
) -> None:
    script_id = await _add_script(console, console.a, QUICK)
    page = await _signed_in(console, context, console.a.username)
    await page.goto(console.url(f"/scripts/{script_id}"))
    await page.select_option("#try-script select[name=callee]", AGREES)
    started = time.monotonic()
    await page.click("#try-script button[type=submit]")
    transcript = page.locator("#transcript tbody tr")
    await expect(page.locator("#try-state")).to_have_text("call ended", timeout=TRY_MS)
    assert time.monotonic() - started < TRY_MS / 1000
    lines = [
        (await row.get_attribute("data-speaker"), (await row.locator("td").nth(2).inner_text()))
        for row in await transcript.all()
    ]
    assert lines == [
        ("ROBOT", "Hello, am I speaking with the account holder?"),
        ("PERSON", "Yes speaking."),
        ("ROBOT", "When will you pay?"),
        ("PERSON", "I can pay on Friday."),
        ("ROBOT", "Thank you. Goodbye."),
    ]

    # the call's record: its recording plays from the records page, with the transcript
    await page.goto(console.url("/records"))
    row = page.locator("#records tbody tr").first
    voice_id = await row.get_attribute("data-voice")
    assert voice_id
    audio_src = await row.locator("audio.recording").get_attribute("src")
    assert audio_src == f"/console/records/{voice_id}/recording.wav"
    await row.locator("details.transcript summary").click()
    await expect(row.locator("details.transcript li")).to_have_count(len(lines))
    answer = await page.request.get(console.url(f"/records/{voice_id}/recording.wav"))
    assert answer.status == 200
    assert answer.headers["content-type"] == "audio/wav"
    body = await answer.body()
    # what the database keeps (any node serves it; the worker's file is gone once stored)
    assert await _stored_wav(console, voice_id) == body
    assert sorted(recordings.folder(console.cli.data_dir).glob("*.wav")) == []
    assert int(answer.headers["content-length"]) == len(body) == _wav_data_bytes(body) + 44
    played = await page.evaluate(
        """async (src) => {
            const audio = new Audio(src);
            await new Promise((ok, bad) => { audio.onloadedmetadata = ok; audio.onerror = bad; });
            return audio.duration;
        }""",
        audio_src,
    )
    # stereo 16-bit 8 kHz: 32,000 bytes a second
    assert played == pytest.approx(_wav_data_bytes(body) / 32_000, abs=0.01)

    # another account's user: the same recording is not found
    other = await _signed_in(console, context, console.b.username)
    answer = await other.request.get(console.url(f"/records/{voice_id}/recording.wav"))
    assert answer.status == 404, await answer.text()
    answer = await other.request.get(console.url("/records/0123456789abcdef/recording.wav"))
    assert answer.status == 404


def _settings(console: Console) -> Settings:
    settings = Settings()
    settings.database_url, settings.data_dir, settings.secret_key = (
        console.cli.database_url,
        console.cli.data_dir,
        console.cli.secret_key,
    )
    return settings


async def _stored_wav(console: Console, voice_id: str) -> bytes:
    """The call's stereo recording as the database keeps it, made a WAV."""
    rt = await open_runtime(_settings(console), SystemClock())
    try:
        async with rt.readonly() as session:
            name = await recordings.name_of_record(session, console.a.account_id, voice_id)
            assert name is not None
            packed = await recordings.stored(session, name)
        assert packed is not None and packed.channels == 2
        return recordings.unpack(packed.channels, packed.audio)
    finally:
        await rt.close()


async def _on_a_trunk(console: Console, account_id: int) -> None:
    """The account's calls go through a SIP trunk (`voxcast admin trunk add` and `use`)."""
    rt = await open_runtime(_settings(console), SystemClock())
    try:
        async with rt.sessions.begin() as session:
            spec = trunks.TrunkSpec(name="carrier", host="127.0.0.1", port=9)
            await trunks.add_trunk(session, rt.secrets, spec, rt.clock.now(), replace=False)
            await trunks.use_trunk(session, account_id, "carrier")
    finally:
        await rt.close()


async def test_an_account_on_a_trunk_cannot_try_a_script(
    console: Console, context: BrowserContext
) -> None:
    script_id = await _add_script(console, console.b, QUICK)
    await _on_a_trunk(console, console.b.account_id)
    page = await _signed_in(console, context, console.b.username)
    await page.goto(console.url(f"/scripts/{script_id}"))
    await expect(page.locator("#try")).to_be_visible()
    assert await page.locator("#try-script").count() == 0
    token = json.loads(await page.evaluate("document.body.getAttribute('hx-headers')"))
    answer = await page.request.post(
        console.url(f"/scripts/{script_id}/try"),
        form={"csrf_token": str(token["X-CSRF-Token"]), "callee": AGREES},
    )
    assert answer.status == 400
    assert (
        "-22 Parameter exception: callee: the account&#39;s calls go out through trunk "
        "&#39;carrier&#39;, not the sandbox"
    ) in await answer.text()
    tasks = await console.b.api.query_group_calls(current=1, size=10)
    assert tasks.code == "0", tasks
    assert tasks.data["records"] == []
