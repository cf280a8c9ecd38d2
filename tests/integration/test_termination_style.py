"""terminationCode styles per voice app (api-catalog §4.1, §6.1: the vendor's pages disagree):
"sip" (default, "200" answered) or "zero" ("0" answered), in recordGroup, recordGroupQuery and
the status pushes, set with `voxcast admin set-app`; sipCode always the SIP code."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select

from tests.conftest import Tenant
from tests.contract.test_records import T0, answered, insert, window
from tests.integration.receiver import Receiver
from tests.integration.server import Cli
from voxcast.runtime import Runtime
from voxcast.services import accounts
from voxcast.storage.models import App
from voxcast.webhooks import outbox, signing
from voxcast.webhooks.sender import PushSender

OK_ID = "2603020800000000801"
BUSY_ID = "2603020800000000802"


async def set_style(rt: Runtime, tenant: Tenant, style: str) -> None:
    async with rt.sessions.begin() as session:
        await accounts.set_termination_style(session, tenant.app_id, style)


async def two_calls(rt: Runtime, tenant: Tenant) -> None:
    """An answered call and a busy one."""
    await insert(
        rt,
        answered(tenant, OK_ID, T0),
        answered(
            tenant,
            BUSY_ID,
            T0 + timedelta(seconds=1),
            answer_time=None,
            termination_code="486",
            termination_reason="busy",
            sip_code="486",
        ),
    )


def codes(records: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [(r["voiceId"], r["terminationCode"], r["sipCode"]) for r in records]


# -- records API -------------------------------------------------------------------------------


async def test_records_show_sip_codes_by_default(rt: Runtime, tenant: Tenant) -> None:
    await two_calls(rt, tenant)
    env = await tenant.client.query_records(**window())
    assert codes(env.data["records"]) == [(OK_ID, "200", "200"), (BUSY_ID, "486", "486")]
    assert (await tenant.client.record(OK_ID)).data["terminationCode"] == "200"


async def test_zero_style_app_shows_0_for_an_answered_call_in_both_record_queries(
    rt: Runtime, tenant: Tenant, other_tenant: Tenant
) -> None:
    await two_calls(rt, tenant)
    await insert(rt, answered(other_tenant, "2603020800000000803", T0))
    await set_style(rt, tenant, "zero")
    env = await tenant.client.query_records(**window())
    assert codes(env.data["records"]) == [(OK_ID, "0", "200"), (BUSY_ID, "486", "486")]
    single = (await tenant.client.record(OK_ID)).data
    assert (single["terminationCode"], single["terminationReason"]) == ("0", "success")
    assert (await tenant.client.record(BUSY_ID)).data["terminationCode"] == "486"
    # the style is the app's: another account's app keeps SIP codes
    theirs = await other_tenant.client.query_records(**window())
    assert codes(theirs.data["records"]) == [("2603020800000000803", "200", "200")]


async def test_zero_style_leaves_a_queued_call_empty(rt: Runtime, tenant: Tenant) -> None:
    await set_style(rt, tenant, "zero")
    sent = await tenant.client.send_code(
        callee="932111111111", language="EN", text="hi", appId=tenant.app_id
    )
    d = (await tenant.client.record(sent.data)).data
    assert (d["terminationCode"], d["terminationReason"]) == ("", "queued")


@pytest.mark.parametrize("style", ["SIP", "Zero"])
async def test_style_names_are_case_insensitive(rt: Runtime, tenant: Tenant, style: str) -> None:
    await set_style(rt, tenant, style)
    async with rt.sessions() as session:
        app = await session.get(App, tenant.app_id)
        assert app is not None and app.termination_style == style.lower()


# -- status pushes -----------------------------------------------------------------------------


def report(voice_id: str, code: str) -> dict[str, object]:
    return {"voiceId": voice_id, "type": 1, "terminationCode": code, "sipCode": code}


async def queue_reports(rt: Runtime, tenant: Tenant) -> None:
    async with rt.sessions.begin() as session:
        await outbox.enqueue_many(
            session,
            (
                outbox.PushItem(
                    tenant.creds.account_id,
                    tenant.app_id,
                    outbox.VOICE_REPORT,
                    vid,
                    report(vid, code),
                )
                for vid, code in ((OK_ID, "200"), (BUSY_ID, "486"))
            ),
            rt.clock.now(),
            due=rt.wall.now(),
        )


@pytest.mark.parametrize(("style", "answered_code"), [(None, "200"), ("sip", "200"), ("zero", "0")])
async def test_status_pushes_carry_the_apps_style(
    rt: Runtime, tenant: Tenant, style: str | None, answered_code: str
) -> None:
    async with Receiver() as receiver:
        async with rt.sessions.begin() as session:
            await accounts.set_push(
                session, rt.secrets, tenant.app_id, url=receiver.url, batch=False, secret="s3"
            )
        if style is not None:
            await set_style(rt, tenant, style)
        await queue_reports(rt, tenant)
        async with PushSender(rt, worker_id="t") as sender:
            assert await sender.deliver_due() == 2
        got = sorted(receiver.received, key=lambda r: str(r.json()["voiceId"]))
    assert [r.json() for r in got] == [
        {**report(OK_ID, "200"), "terminationCode": answered_code},
        report(BUSY_ID, "486"),
    ]
    # the signature covers the body as sent, styled
    now = rt.clock.now().timestamp()
    for r in got:
        headers = r.headers
        assert signing.verify(
            "s3", headers["x-voxcast-timestamp"], r.body, headers["x-voxcast-signature"], now
        )


async def test_batch_pushes_of_a_zero_style_app_show_0(rt: Runtime, tenant: Tenant) -> None:
    async with Receiver() as receiver:
        async with rt.sessions.begin() as session:
            await accounts.set_push(
                session, rt.secrets, tenant.app_id, url=receiver.url, batch=True, secret=None
            )
        await queue_reports(rt, tenant)
        # set after queueing: the outbox keeps SIP codes, the style applies when sent
        await set_style(rt, tenant, "zero")
        async with PushSender(rt, worker_id="t") as sender:
            await sender.deliver_due()
        (got,) = receiver.received
    assert got.json() == [
        {**report(OK_ID, "200"), "terminationCode": "0"},
        report(BUSY_ID, "486"),
    ]


# -- CLI ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_admin_set_app_sets_the_style_and_refuses_bad_input_with_exit_2(
    db_url: str, tmp_path: Path
) -> None:
    cli = Cli.fresh(db_url, tmp_path / "var")
    app_id = str(cli.create_account(in_process=True)["appId"])
    good = cli.invoke("admin", "set-app", "--app-id", app_id, "--termination-code", "zero")
    bad = cli.invoke(
        "admin", "set-app", "--app-id", app_id, "--termination-code", "200", check=False
    )
    unknown = cli.invoke(
        "admin", "set-app", "--app-id", "nope", "--termination-code", "sip", check=False
    )
    assert good.returncode == 0 and f"app {app_id}: terminationCode style zero" in good.stdout
    assert bad.returncode == 2 and "'200' is not 'sip' or 'zero'" in bad.stderr
    assert unknown.returncode == 2 and "appId nope does not exist" in unknown.stderr
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            stored = conn.execute(
                select(App.termination_style).where(App.app_id == app_id)
            ).scalar_one()
    finally:
        engine.dispose()
    assert stored == "zero"
