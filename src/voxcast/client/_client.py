"""Sync and async clients. Each endpoint is one method; both classes share the request builder."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx
from typing_extensions import Unpack

from voxcast.client import _types as t
from voxcast.client._envelope import Envelope
from voxcast.domain.signing import sign


class VoxcastError(Exception):
    """Raised by `.check()` style calls when the server answers a non-zero code."""

    def __init__(self, envelope: Envelope) -> None:
        self.envelope = envelope
        super().__init__(f"{envelope.code}: {envelope.reason}")


R = TypeVar("R")


def _drop_none(body: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if v is not None}


class _Requests:
    """Builds signed requests; `timestamp` may be injected (tests use a fixed clock)."""

    def __init__(self, api_key: str, api_secret: str, timestamp: Callable[[], int] | None) -> None:
        self.api_key = api_key
        self.api_secret = api_secret
        self._timestamp = timestamp or (lambda: int(time.time()))

    def headers(self) -> dict[str, str]:
        ts = str(self._timestamp())
        return {
            "Content-Type": "application/json;charset=UTF-8",
            "Api-Key": self.api_key,
            "Timestamp": ts,
            "Sign": sign(self.api_key, self.api_secret, ts),
        }


class _Endpoints(ABC, Generic[R]):
    """Endpoint methods, written once over an abstract `_call` (sync returns, async awaits)."""

    @abstractmethod
    def _call(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> R:
        """Send one request; the sync client returns the envelope, the async one a coroutine."""

    # -- account and files -------------------------------------------------------------
    def get_balance(self) -> R:
        return self._call("GET", "/v3/getBalance")

    def upload_file(self, file_name: str, content_b64: str) -> R:
        return self._call(
            "POST", "/v3/voice/fileUpload", {"fileName": file_name, "file": content_b64}
        )

    # -- group-call tasks ---------------------------------------------------------------
    def send_group_call(self, **fields: Unpack[t.GroupCallSend]) -> R:
        """Create an IVR group-call task; fields are the vendor's camelCase names."""
        return self._call("POST", "/v3/voice/group/call/send", _drop_none(fields))

    def send_group_call_ai(self, **fields: Unpack[t.GroupCallSendAI]) -> R:
        return self._call("POST", "/v3/voice/group/call/send/ai", _drop_none(fields))

    def update_group_call(self, **fields: Unpack[t.GroupCallUpdate]) -> R:
        return self._call("POST", "/v3/voice/group/call/update", _drop_none(fields))

    def update_group_call_ai(self, **fields: Unpack[t.GroupCallUpdateAI]) -> R:
        return self._call("POST", "/v3/voice/group/call/update/ai", _drop_none(fields))

    def resend_group_call(self, **fields: Unpack[t.GroupCallResend]) -> R:
        return self._call("POST", "/v3/voice/group/call/resend", _drop_none(fields))

    def resend_group_call_ai(self, **fields: Unpack[t.GroupCallResendAI]) -> R:
        return self._call("POST", "/v3/voice/group/call/resend/ai", _drop_none(fields))

    def query_group_calls(
        self, current: int = 1, size: int = 10, **params: Unpack[t.TaskQueryParams]
    ) -> R:
        return self._call(
            "POST",
            "/v3/voice/group/call/query",
            {"current": current, "size": size, "params": _drop_none(params)},
        )

    def group_call_detail(self, task_id: int) -> R:
        return self._call("GET", f"/v3/voice/group/call/detail/{task_id}")

    def pause_group_calls(self, task_ids: list[int]) -> R:
        return self._call("POST", "/v3/voice/group/call/provisional", {"jobIdList": task_ids})

    def resume_group_calls(self, task_ids: list[int]) -> R:
        return self._call("POST", "/v3/voice/group/call/resume", {"jobIdList": task_ids})

    def cancel_group_calls(self, task_ids: list[int]) -> R:
        return self._call("POST", "/v3/voice/group/call/cancel", {"taskIdList": task_ids})

    # -- recall flows --------------------------------------------------------------------
    def query_recall_flows(
        self, current: int = 1, size: int = 10, **params: Unpack[t.RecallQueryParams]
    ) -> R:
        return self._call(
            "POST",
            "/v3/voice/recallFlow/queryPage",
            {"current": current, "size": size, "params": _drop_none(params)},
        )

    def recall_flow_detail(self, flow_id: int) -> R:
        return self._call("POST", "/v3/voice/recallFlow/queryDetail", {"keyId": flow_id})

    def update_recall_flow(self, **fields: Unpack[t.RecallUpdate]) -> R:
        return self._call("POST", "/v3/voice/recallFlow/update", _drop_none(fields))

    def cancel_recall_flow(self, cancel_type: int, object_id: int) -> R:
        return self._call(
            "POST", "/v3/voice/recallFlow/cancel", {"type": cancel_type, "id": object_id}
        )

    # -- single sends and records ------------------------------------------------------
    def send_code(self, **fields: Unpack[t.SendCode]) -> R:
        return self._call("POST", "/v3/voice/sendCode", _drop_none(fields))

    def send_group(self, **fields: Unpack[t.SendGroup]) -> R:
        return self._call("POST", "/v3/voice/sendGroup", _drop_none(fields))

    def record(self, voice_id: str) -> R:
        return self._call("GET", f"/v3/voice/recordGroup/{voice_id}")

    def query_records(
        self, current: int = 1, size: int = 25, **params: Unpack[t.RecordQueryParams]
    ) -> R:
        return self._call(
            "POST",
            "/v3/voice/recordGroupQuery",
            {"current": current, "size": size, "params": _drop_none(params)},
        )

    def query_files(self, current: int = 1, size: int = 25) -> R:
        """fileQuery: the account's uploaded voice files, {fileId, fileName}, newest first."""
        return self._call("POST", "/v3/voice/fileQuery", {"current": current, "size": size})

    # -- SIP phones (call-center agents under the voice API's names) ----------------------
    def sip_add(
        self,
        app_id: str,
        group_name: str,
        phone_name: str,
        quantity: int,
        display_num: str | None = None,
    ) -> R:
        """Phones `<phone_name>-1`... in a new phone group; their accounts come from sip_query."""
        body = {
            "appId": app_id,
            "groupName": group_name,
            "phoneName": phone_name,
            "quantity": quantity,
            "displayNum": display_num,
        }
        return self._call("POST", "/v3/voice/sipAdd", _drop_none(body))

    def sip_query(self, app_id: str, current: int = 1, size: int = 25) -> R:
        body = {"current": current, "size": size, "params": {"appId": app_id}}
        return self._call("POST", "/v3/voice/sipQuery", body)

    def sip_reset(self, app_id: str, account: str) -> R:
        """A new password for phone `account`; `data` = {account, password}."""
        return self._call("POST", "/v3/voice/sipReset", {"appId": app_id, "account": account})

    # -- click-to-call and its records ---------------------------------------------------------
    def send_sip(self, **fields: Unpack[t.SendSip]) -> R:
        """Ring the phone `account`, then call `callee` from it; `data` is the voiceId."""
        return self._call("POST", "/v3/voice/sendSip", _drop_none(fields))

    def record_sip(self, voice_id: str) -> R:
        return self._call("GET", f"/v3/voice/recordSip/{voice_id}")

    def query_sip_records(
        self, current: int = 1, size: int = 25, **params: Unpack[t.SipRecordQueryParams]
    ) -> R:
        return self._call(
            "POST",
            "/v3/voice/recordSipQuery",
            {"current": current, "size": size, "params": _drop_none(params)},
        )

    # -- call center: agent groups and agents (field names as the vendor's) ----------------
    def add_seat_group(self, app_id: str, group_name: str) -> R:
        return self._call(
            "POST", "/v3/cc/seatGroup/addGroup", {"appId": app_id, "groupName": group_name}
        )

    def update_seat_group(self, group_id: int, group_name: str) -> R:
        body = {"voiceGroupId": group_id, "groupName": group_name}
        return self._call("POST", "/v3/cc/seatGroup/updateGroup", body)

    def delete_seat_group(self, group_id: int) -> R:
        return self._call("GET", f"/v3/cc/seatGroup/deleteGroup?voiceGroupId={group_id}")

    def query_seat_groups(
        self, current: int = 1, size: int = 10, group_name: str | None = None
    ) -> R:
        params = _drop_none({"groupName": group_name})
        body = {"current": current, "size": size, "params": params}
        return self._call("POST", "/v3/cc/seatGroup/query", body)

    def set_seat_group(self, **fields: Any) -> R:
        """basicSetting: voiceGroupId, displaySwitch and encryptNumber are required."""
        return self._call("POST", "/v3/cc/seatGroup/basicSetting", fields)

    def add_inbound_number(self, number: str, group_id: int) -> R:
        """voxcast extension: calls to `number` ring agent group `group_id`."""
        body = {"number": number, "voiceGroupId": group_id}
        return self._call("POST", "/v3/cc/number/add", body)

    def delete_inbound_number(self, number: str) -> R:
        return self._call("GET", f"/v3/cc/number/delete?number={quote(number)}")

    def query_inbound_numbers(self, current: int = 1, size: int = 10) -> R:
        return self._call("POST", "/v3/cc/number/query", {"current": current, "size": size})

    # -- do-not-call lists (voxcast extension) ------------------------------------------
    def dnc_add(self, numbers: list[str], app_id: str | None = None, **more: Any) -> R:
        """Put numbers (any spelling) on the app's list, or the account's without `app_id`."""
        return self._call(
            "POST", "/v3/voice/dnc/add", {"numbers": numbers, "appId": app_id, **more}
        )

    def dnc_remove(self, numbers: list[str], app_id: str | None = None, **more: Any) -> R:
        body = {"numbers": numbers, "appId": app_id, **more}
        return self._call("POST", "/v3/voice/dnc/remove", body)

    def dnc_query(self, current: int = 1, size: int = 10, **params: Any) -> R:
        """params: appId ("" the account's list), numbers, region."""
        return self._call(
            "POST", "/v3/voice/dnc/query", {"current": current, "size": size, **params}
        )

    def dnc_audit(self, number: str | None = None) -> R:
        return self._call("POST", "/v3/voice/dnc/audit", {"number": number})

    def seat_group_settings(self, group_id: int) -> R:
        return self._call("GET", f"/v3/cc/seatGroup/basicSettingResp?voiceGroupId={group_id}")

    def add_seats(self, **fields: Any) -> R:
        """addSeatList: voiceGroupId, size, displayNum, ccode."""
        return self._call("POST", "/v3/cc/seat/addSeatList", _drop_none(fields))

    def update_seat(self, **fields: Any) -> R:
        return self._call("POST", "/v3/cc/seat/updateSeat", _drop_none(fields))

    def create_sdk_authentication(self, account: str, expires: int) -> R:
        """The agent's browser softphone credential, valid `expires` (60-28800) seconds."""
        body = {"account": account, "expires": expires}
        return self._call("POST", "/v3/cc/seat/createSdkAuthentication", body)

    def query_seats(self, current: int = 1, size: int = 10, **params: Any) -> R:
        body = {"current": current, "size": size, "params": _drop_none(params)}
        return self._call("POST", "/v3/cc/seat/query", body)

    def query_cc_records(self, current: int = 1, size: int = 20, **params: Any) -> R:
        """/cc/record/query: params startTime and endTime ("yyyy-MM-dd HH:mm:ss") required."""
        body = {"current": current, "size": size, "params": _drop_none(params)}
        return self._call("POST", "/v3/cc/record/query", body)

    def upload_callee_list(self, file_name: str, content_b64: str) -> R:
        """/cc/preview/upload: an .xlsx, .xls or .csv callee list, base64."""
        body = {"fileName": file_name, "file": content_b64}
        return self._call("POST", "/v3/cc/preview/upload", body)

    def submit_preview_task(self, **fields: Any) -> R:
        """/cc/preview/submitTask: filePath, fileName, type, voiceGroupId[], appId..."""
        return self._call("POST", "/v3/cc/preview/submitTask", _drop_none(fields))

    def resend_preview_task(self, **fields: Any) -> R:
        return self._call("POST", "/v3/cc/preview/resendTask", _drop_none(fields))

    def edit_preview_task(self, **fields: Any) -> R:
        return self._call("POST", "/v3/cc/preview/agent/editTask", _drop_none(fields))

    def query_preview_tasks(self, current: int = 1, size: int = 10, **params: Any) -> R:
        body = {"current": current, "size": size, "params": _drop_none(params)}
        return self._call("POST", "/v3/cc/preview/query", body)


class VoxcastClient(_Endpoints[Envelope]):
    """Blocking client: `VoxcastClient(base_url, api_key, api_secret).get_balance()`."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        api_secret: str,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        timestamp: Callable[[], int] | None = None,
    ) -> None:
        self._req = _Requests(api_key, api_secret, timestamp)
        self._http = httpx.Client(base_url=base_url, timeout=timeout, transport=transport)

    def _call(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Envelope:
        resp = self._http.request(method, path, json=body, headers=self._req.headers())
        return Envelope.parse(resp.json())

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> VoxcastClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncVoxcastClient(_Endpoints[Awaitable[Envelope]]):
    """Asyncio client with the same methods as `VoxcastClient`, each awaited."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        api_secret: str,
        *,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        timestamp: Callable[[], int] | None = None,
    ) -> None:
        self._req = _Requests(api_key, api_secret, timestamp)
        self._http = httpx.AsyncClient(base_url=base_url, timeout=timeout, transport=transport)

    def _call(
        self, method: str, path: str, body: Mapping[str, Any] | None = None
    ) -> Awaitable[Envelope]:
        return self._acall(method, path, body)

    async def _acall(
        self, method: str, path: str, body: Mapping[str, Any] | None = None
    ) -> Envelope:
        resp = await self._http.request(method, path, json=body, headers=self._req.headers())
        return Envelope.parse(resp.json())

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncVoxcastClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
