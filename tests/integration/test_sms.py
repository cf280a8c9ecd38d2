"""SMS end to end on SQLite and PostgreSQL: sendSms / batch / getReport / getSentRcd with
their error codes, the SMS sender over the sandbox transport, delivery report pushes to a
real HTTP receiver, and two senders on one database sending each text once."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import select

from tests.conftest import Tenant
from tests.helpers import signed_headers
from tests.integration.receiver import Receiver
from voxcast.clock import FixedClock
from voxcast.compliance import dnc
from voxcast.messaging.sandbox import SandboxSmsTransport
from voxcast.messaging.sender import SmsSender, choose_transport
from voxcast.ports import Submitted
from voxcast.runtime import Runtime
from voxcast.services import accounts, smsc
from voxcast.storage.models import Push, SmsMessage
from voxcast.webhooks.sender import PushSender


class Api:
    """Signed raw requests for one tenant, on any path and method."""

    def __init__(self, http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock) -> None:
        self.http = http
        self.tenant = tenant
        self.clock = clock

    def headers(self) -> dict[str, str]:
        creds = self.tenant.creds
        return signed_headers(creds.api_key, creds.api_secret, int(self.clock.now().timestamp()))

    async def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        resp = await self.http.post(path, json=body, headers=self.headers())
        assert resp.status_code == 200
        answer: dict[str, Any] = resp.json()
        return answer

    async def get(self, path: str, **query: str) -> dict[str, Any]:
        resp = await self.http.get(f"{path}?{urlencode(query)}", headers=self.headers())
        assert resp.status_code == 200
        answer: dict[str, Any] = resp.json()
        return answer


@pytest.fixture
def api(http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock) -> Api:
    return Api(http, tenant, clock)


async def messages(rt: Runtime) -> list[SmsMessage]:
    async with rt.sessions() as session:
        return list((await session.scalars(select(SmsMessage).order_by(SmsMessage.id))).all())


async def test_send_sms_answers_a_msg_id_per_number_with_its_order_id(
    api: Api, rt: Runtime, tenant: Tenant
) -> None:
    answer = await api.post(
        "/v3/sendSms",
        {
            "appId": tenant.app_id,
            "numbers": "8613000000001, 8613000000002",
            "content": "Your code is 1234",
            "senderId": "ACME",
            "orderId": "o-1,o-2",
        },
    )
    assert answer["status"] == "0" and answer["reason"] == "success"
    assert (answer["success"], answer["fail"]) == ("2", "0")
    assert [(a["number"], a["orderId"]) for a in answer["array"]] == [
        ("8613000000001", "o-1"),
        ("8613000000002", "o-2"),
    ]
    assert all(len(a["msgId"]) == 19 and a["msgId"].isdigit() for a in answer["array"])
    stored = await messages(rt)
    assert [(m.msg_id, m.origin, m.status, m.sender_id) for m in stored] == [
        (a["msgId"], "api", "pending", "ACME") for a in answer["array"]
    ]


async def test_send_sms_is_served_by_get_and_under_every_prefix(api: Api, tenant: Tenant) -> None:
    for path in ("/v3/sendSms", "/sendSms", "/sms/sendSms"):
        got = await api.get(
            path, appId=tenant.app_id, numbers="8613000000001", content="héllo & bye"
        )
        assert (got["status"], got["success"]) == ("0", "1"), (path, got)
        posted = await api.post(
            path, {"appId": tenant.app_id, "numbers": "8613000000001", "content": "hi"}
        )
        assert (posted["status"], posted["success"]) == ("0", "1"), (path, posted)


async def test_batch_sends_each_element_and_counts_bad_numbers_as_failed(
    api: Api, tenant: Tenant
) -> None:
    for path in ("/v3/sendSms/batch", "/sms/sendSms/batch"):
        answer = await api.post(
            path,
            {
                "appId": tenant.app_id,
                "array": [
                    {"numbers": "8613000000001,12ab", "content": "one"},
                    {"numbers": "8613000000002", "content": "two", "orderId": "x"},
                ],
            },
        )
        assert (answer["status"], answer["success"], answer["fail"]) == ("0", "2", "1")
        assert [a["orderId"] for a in answer["array"]] == ["", "x"]


async def test_a_number_on_the_do_not_call_list_is_not_sent(
    api: Api, rt: Runtime, tenant: Tenant
) -> None:
    async with rt.sessions.begin() as session:
        await dnc.add(
            session,
            tenant.creds.account_id,
            dnc.ACCOUNT_WIDE,
            ["+8613000000009"],
            source=dnc.API,
            actor="test",
            now=rt.clock.now(),
        )
    answer = await api.post(
        "/v3/sendSms",
        {"appId": tenant.app_id, "numbers": "8613000000009,8613000000001", "content": "hi"},
    )
    assert (answer["success"], answer["fail"]) == ("1", "1")
    assert [a["number"] for a in answer["array"]] == ["8613000000001"]
    assert [m.number for m in await messages(rt)] == ["8613000000001"]


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"numbers": "8613000000001", "content": ""}, "-4", "content"),
        ({"numbers": "8613000000001", "content": "x" * 1025}, "-5", "content"),
        ({"numbers": "", "content": "hi"}, "-8", "numbers"),
        ({"numbers": ",".join(["8613000000001"] * 1001), "content": "hi"}, "-7", "numbers"),
        ({"numbers": "8613000000001", "content": "hi", "senderId": "s" * 33}, "-22", "senderId"),
        ({"numbers": "8613000000001,8613000000002", "content": "hi", "orderId": "a"}, "-22",
         "orderId"),
        ({"numbers": "8613000000001", "content": "hi", "appId": "nope"}, "-32", "appId"),
        ({"numbers": "8613000000001", "content": "hi", "appId": None}, "-22", "appId"),
    ],
)  # fmt: skip
async def test_bad_send_sms_is_answered_with_its_code_naming_the_field(
    api: Api, rt: Runtime, tenant: Tenant, body: dict[str, Any], code: str, field: str
) -> None:
    full = {"appId": tenant.app_id, **body}
    if full["appId"] is None:
        del full["appId"]
    answer = await api.post("/v3/sendSms", full)
    assert answer["status"] == code, answer
    assert field in answer["reason"], answer
    assert await messages(rt) == []


async def test_get_send_sms_allows_100_numbers_and_a_bad_signature_is_minus_1(
    api: Api, http: httpx.AsyncClient, tenant: Tenant
) -> None:
    many = ",".join(["8613000000001"] * 101)
    answer = await api.get("/v3/sendSms", appId=tenant.app_id, numbers=many, content="hi")
    assert answer["status"] == "-7" and "at most 100" in answer["reason"]
    headers = api.headers() | {"Sign": "0" * 32}
    resp = await http.get(
        "/v3/sendSms?" + urlencode({"appId": tenant.app_id, "numbers": "1", "content": "x"}),
        headers=headers,
    )
    assert resp.status_code == 200 and resp.json()["status"] == "-1"


async def test_report_and_sent_records_follow_the_sandbox_receipts(
    api: Api, rt: Runtime, tenant: Tenant, other_tenant: Tenant, clock: FixedClock
) -> None:
    sent = await api.post(
        "/v3/sendSms",
        {"appId": tenant.app_id, "numbers": "8613000000001,8613000000007", "content": "hi"},
    )
    ids = [a["msgId"] for a in sent["array"]]
    before = await api.get("/v3/getReport", appId=tenant.app_id, msgIds=",".join(ids))
    assert (before["sending"], before["nofound"]) == ("2", "0")
    await run_sender_until_settled(rt, 2)
    after = await api.get("/sms/getReport", appId=tenant.app_id, msgIds=",".join([*ids, "123"]))
    assert (after["success"], after["fail"], after["sending"], after["nofound"]) == (
        "1",
        "1",
        "0",
        "1",
    )
    assert [(r["number"], r["status"]) for r in after["array"]] == [
        ("8613000000001", 0),
        ("8613000000007", 1),
    ]
    assert all(r["receiveTime"] for r in after["array"])
    # another account's app: not allowed; another account's msgIds: not found
    other = Api(api.http, other_tenant, clock)
    denied = await other.get("/v3/getReport", appId=tenant.app_id, msgIds=ids[0])
    assert denied["status"] == "-32"
    hidden = await other.get("/v3/getReport", appId=other_tenant.app_id, msgIds=ids[0])
    assert hidden["nofound"] == "1"

    start = (clock.now() - timedelta(days=1)).isoformat()
    end = (clock.now() + timedelta(days=1)).isoformat()
    page = await api.get(
        "/v3/getSentRcd", appId=tenant.app_id, startTime=start, endTime=end, startIndex="0"
    )
    assert (page["status"], page["total"], page["success"], page["fail"]) == ("0", "2", "1", "1")
    assert [(r["msgId"], r["chargeCnt"]) for r in page["array"]] == [(i, 1) for i in ids]
    rest = await api.get(
        "/sendSms".replace("sendSms", "getSentRcd"),
        appId=tenant.app_id,
        startTime=start,
        endTime=end,
        startIndex="2",
    )
    assert rest["array"] == [] and rest["total"] == "2"


@pytest.mark.parametrize(
    ("start_days", "end_days", "code"),
    [(-40, 0, "-25"), (-100, -95, "-25"), (0, -1, "-11")],
)
async def test_sent_records_window_rules(
    api: Api, tenant: Tenant, clock: FixedClock, start_days: int, end_days: int, code: str
) -> None:
    answer = await api.get(
        "/v3/getSentRcd",
        appId=tenant.app_id,
        startTime=(clock.now() + timedelta(days=start_days)).isoformat(),
        endTime=(clock.now() + timedelta(days=end_days)).isoformat(),
    )
    assert answer["status"] == code, answer


async def test_bad_report_queries_are_answered_with_codes(api: Api, tenant: Tenant) -> None:
    empty = await api.get("/v3/getReport", appId=tenant.app_id, msgIds="")
    assert empty["status"] == "-14" and "msgIds" in empty["reason"]
    many = await api.get(
        "/v3/getReport", appId=tenant.app_id, msgIds=",".join(str(i) for i in range(201))
    )
    assert many["status"] == "-23" and "msgIds" in many["reason"]
    bad_time = await api.get(
        "/v3/getSentRcd", appId=tenant.app_id, startTime="yesterday", endTime="today"
    )
    assert bad_time["status"] == "-11" and "startTime" in bad_time["reason"]
    bad_index = await api.get(
        "/v3/getSentRcd", appId=tenant.app_id, startTime="x", endTime="y", startIndex="-1"
    )
    assert bad_index["status"] == "-22" and "startIndex" in bad_index["reason"]


async def run_sender_until_settled(rt: Runtime, count: int, timeout: float = 20.0) -> None:
    """One SMS sender on the sandbox transport until `count` messages are final."""
    sender = SmsSender(rt, SandboxSmsTransport(rt.clock), idle_seconds=0.02)
    stop = asyncio.Event()
    runner = asyncio.create_task(sender.run(stop))
    try:
        async with asyncio.timeout(timeout):
            while True:
                final = [m for m in await messages(rt) if m.status not in ("pending", "submitted")]
                if len(final) >= count:
                    return
                await asyncio.sleep(0.02)
    finally:
        stop.set()
        await runner


async def test_delivery_reports_are_pushed_to_the_apps_sms_push_url(
    api: Api, rt: Runtime, tenant: Tenant
) -> None:
    async with Receiver() as receiver, Receiver() as voice_receiver:
        async with rt.sessions.begin() as session:
            await accounts.set_sms_push(session, tenant.app_id, url=receiver.url)
            await accounts.set_push(
                session, rt.secrets, tenant.app_id, url=voice_receiver.url, batch=False,
                secret=None,
            )  # fmt: skip
        sent = await api.post(
            "/v3/sendSms",
            {
                "appId": tenant.app_id,
                "numbers": "8613000000001,8613000000007",
                "content": "x" * 200,
                "orderId": "a,b",
            },
        )
        await run_sender_until_settled(rt, 2)
        async with PushSender(rt, worker_id="t") as pusher:
            async with asyncio.timeout(20):
                while len(receiver.received) < 2:
                    await pusher.deliver_due()
                    await asyncio.sleep(0.02)
        pushes = sorted((r.json() for r in receiver.received), key=lambda p: p["mobile"])
        assert voice_receiver.received == []
    ids = {a["number"]: a["msgId"] for a in sent["array"]}
    stored = {m.number: m for m in await messages(rt)}
    assert pushes[0] == {
        "appId": tenant.app_id,
        "msgid": ids["8613000000001"],
        "mobile": "8613000000001",
        "status": 0,
        "reason": "0",
        "timestamp": int(stored["8613000000001"].receive_time.timestamp() * 1000),  # type: ignore[union-attr]
        "orderId": "a",
        "mcc": "-1",
        "mnc": "-1",
        "pricedetail": {"pay": "0", "currency": "USD", "chargeCnt": 2, "price": "0"},
    }
    assert (pushes[1]["msgid"], pushes[1]["status"], pushes[1]["reason"]) == (
        ids["8613000000007"],
        1,
        "UNDELIV",
    )
    assert [(m.status, m.stat, m.segments) for m in stored.values()] == [
        ("delivered", "DELIVRD", 2),
        ("failed", "UNDELIV", 2),
    ]


async def test_two_senders_on_one_database_send_each_text_once(
    api: Api, rt: Runtime, settings: Any, clock: FixedClock, tenant: Tenant
) -> None:
    numbers = [f"86130000{i:05d}" for i in range(300)]
    for start in range(0, 300, 100):
        answer = await api.post(
            "/v3/sendSms",
            {"appId": tenant.app_id, "numbers": ",".join(numbers[start : start + 100]),
             "content": "hi"},
        )  # fmt: skip
        assert answer["success"] == "100"
    from tests.conftest import open_test_runtime

    other_rt = await open_test_runtime(settings, clock)
    a_transport, b_transport = SandboxSmsTransport(clock), SandboxSmsTransport(clock)
    a, b = SmsSender(rt, a_transport), SmsSender(other_rt, b_transport)
    try:
        for _ in range(10):
            done = await asyncio.gather(a.send_due(), b.send_due())
            if done == [0, 0]:
                break
        sent = [m.message_id for m in a_transport.submitted + b_transport.submitted]
        assert len(sent) == 300 and len(set(sent)) == 300
        assert a_transport.submitted and b_transport.submitted
        assert {m.status for m in await messages(rt)} == {"submitted"}
    finally:
        await a_transport.close()
        await b_transport.close()
        await other_rt.close()


async def test_a_claimed_message_is_not_taken_again_before_its_lease_ends(
    api: Api, rt: Runtime, tenant: Tenant
) -> None:
    await api.post(
        "/v3/sendSms", {"appId": tenant.app_id, "numbers": "8613000000001", "content": "hi"}
    )

    class Down(SandboxSmsTransport):
        async def submit(self, message: Any) -> Submitted:
            raise ConnectionError("SMSC unreachable")

    down = Down(rt.clock)
    sender = SmsSender(rt, down)
    assert await sender.send_due() == 1  # claimed, submit failed, released
    assert [m.status for m in await messages(rt)] == ["pending"]
    up = SandboxSmsTransport(rt.clock)
    assert await SmsSender(rt, up).send_due() == 1
    assert [m.number for m in up.submitted] == ["8613000000001"]
    await down.close()
    await up.close()


async def test_the_sandbox_is_chosen_until_an_smsc_is_configured(rt: Runtime) -> None:
    transport = await choose_transport(rt)
    assert isinstance(transport, SandboxSmsTransport)
    await transport.close()
    async with rt.sessions.begin() as session:
        await smsc.add(
            session, rt.secrets, host="127.0.0.1", port=2775, system_id="acme",
            password="pw", now=rt.clock.now(),
        )  # fmt: skip
    async with rt.sessions() as session:
        configs = await smsc.enabled_configs(session, rt.secrets)
    assert [(c.system_id, c.password) for c in configs] == [("acme", "pw")]


async def test_a_nul_character_is_refused_naming_the_field(api: Api, tenant: Tenant) -> None:
    posted = await api.post(
        "/v3/sendSms", {"appId": tenant.app_id, "numbers": "8613000000001", "content": "a\x00b"}
    )
    assert posted["status"] == "-22" and "content" in posted["reason"], posted
    got = await api.get("/v3/getReport", appId="x\x00", msgIds="1")
    assert got["status"] == "-22" and "appId" in got["reason"], got


async def test_a_number_put_on_the_list_after_queueing_is_refused_and_reported(
    api: Api, rt: Runtime, tenant: Tenant
) -> None:
    async with rt.sessions.begin() as session:
        await accounts.set_sms_push(session, tenant.app_id, url="http://127.0.0.1:9/sms")
    await api.post(
        "/v3/sendSms", {"appId": tenant.app_id, "numbers": "8613000000003", "content": "hi"}
    )
    async with rt.sessions.begin() as session:
        await dnc.add(
            session,
            tenant.creds.account_id,
            tenant.app_id,
            ["+8613000000003"],
            source=dnc.KEY_PRESS,
            actor="callee",
            now=rt.clock.now(),
        )
    transport = SandboxSmsTransport(rt.clock)
    assert await SmsSender(rt, transport).send_due() == 1
    await transport.close()
    assert transport.submitted == []
    [message] = await messages(rt)
    assert (message.status, message.stat) == ("rejected", "DNC")
    async with rt.sessions() as session:
        [push] = (await session.scalars(select(Push))).all()
    assert push.kind == "sms_report"
    assert (push.payload["status"], push.payload["reason"]) == (1, "DNC")  # type: ignore[index]
