"""The AiVoice robot API's script and line lists (`aivoice/dialogFlowList`, `channelList`, spec
supplement B.1-B.2) and voxcast's extension that manages scripts (`dialogFlowAdd`, `Edit`,
`Detail`, `Del`; docs/ai.md). A script's id is its dialogFlowId and a group call's scriptId."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import Field, StringConstraints

from voxcast.api.aivoice_routing import PREFIX, AiVoiceRoute, aivoice_ok
from voxcast.api.base import STORABLE_PATTERN, Id, VendorModel
from voxcast.api.deps import CurrentAccount, Rt
from voxcast.domain.schedule import SEND_TIME_FORMAT, zone
from voxcast.services import accounts, scripts
from voxcast.storage.models import Account
from voxcast.storage.scripts import ScriptRow

router = APIRouter(route_class=AiVoiceRoute, tags=["AI voice robot"])

AppId = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=STORABLE_PATTERN)]
#: the operations, as spelled in the routes (requests may spell them in any case)
OPERATIONS = (
    "/dialogFlowList",
    "/channelList",
    "/dialogFlowAdd",
    "/dialogFlowEdit",
    "/dialogFlowDetail",
    "/dialogFlowDel",
)


class AppRequest(VendorModel):
    appId: AppId = Field(
        description="Application id: the app the request acts in, one of the calling account's"
    )


class ScriptAdd(AppRequest):
    script: dict[str, Any] = Field(
        description=(
            "The script to add: nodes, intents and actions (docs/ai.md); -27 names "
            "the node and field of a mistake"
        )
    )


class ScriptRef(AppRequest):
    dialogFlowId: Id = Field(description="Id of the speech script (dialogFlowList lists them)")


class ScriptEdit(ScriptRef):
    script: dict[str, Any] = Field(
        description="The script replacing the current one, in full (docs/ai.md)"
    )


def _time(value: datetime, account: Account) -> str:
    return value.astimezone(zone(account.timezone)).strftime(SEND_TIME_FORMAT)


def _listed(row: ScriptRow, account: Account) -> dict[str, Any]:
    return {
        "dialogFlowId": row.id,
        "name": row.name,
        "status": scripts.STATUS_PUBLISHED,
        "createTime": _time(row.created_at, account),
    }


@router.post(f"{PREFIX}/dialogFlowList")
async def dialog_flow_list(req: AppRequest, account: CurrentAccount, rt: Rt) -> dict[str, Any]:
    """The account's scripts (B.1): `dialogFlowId` is also the `scriptId` of send/ai."""
    async with rt.readonly() as session:
        await accounts.require_app(session, account.id, req.appId)
        rows = await scripts.list_scripts(session, account.id)
    return aivoice_ok([_listed(r, account) for r in rows])


@router.post(f"{PREFIX}/channelList")
async def channel_list(req: AppRequest, account: CurrentAccount, rt: Rt) -> dict[str, Any]:
    """The account's outbound line (B.2): its SIP trunk, or the sandbox carrier."""
    async with rt.readonly() as session:
        await accounts.require_app(session, account.id, req.appId)
        lines = await scripts.lines(session, account.id)
    return aivoice_ok([{"tenantPhoneNumberId": str(ln.id), "phoneNumber": ln.name} for ln in lines])


@router.post(f"{PREFIX}/dialogFlowAdd")
async def dialog_flow_add(req: ScriptAdd, account: CurrentAccount, rt: Rt) -> dict[str, Any]:
    """voxcast extension: store a script (docs/ai.md); `data` is its dialogFlowId."""
    async with rt.sessions.begin() as session:
        await accounts.require_app(session, account.id, req.appId)
        row = await scripts.add_script(
            session, account.id, req.script, rt.clock.now(), prefix="script."
        )
        script_id = row.id
    return aivoice_ok(script_id)


@router.post(f"{PREFIX}/dialogFlowEdit")
async def dialog_flow_edit(req: ScriptEdit, account: CurrentAccount, rt: Rt) -> dict[str, Any]:
    """voxcast extension: replace a script's document; its revision goes up by one."""
    async with rt.sessions.begin() as session:
        await accounts.require_app(session, account.id, req.appId)
        await scripts.update_script(
            session, account.id, req.dialogFlowId, req.script, rt.clock.now(), prefix="script."
        )
    return aivoice_ok()


@router.post(f"{PREFIX}/dialogFlowDetail")
async def dialog_flow_detail(req: ScriptRef, account: CurrentAccount, rt: Rt) -> dict[str, Any]:
    """voxcast extension: one script with its document and the variables it uses."""
    async with rt.readonly() as session:
        await accounts.require_app(session, account.id, req.appId)
        row = await scripts.get_script(session, account.id, req.dialogFlowId)
    return aivoice_ok(
        _listed(row, account)
        | {
            "revision": row.revision,
            "updateTime": _time(row.updated_at, account),
            "variables": list(scripts.variables_of(row)),
            "script": row.document,
        }
    )


@router.post(f"{PREFIX}/dialogFlowDel")
async def dialog_flow_del(req: ScriptRef, account: CurrentAccount, rt: Rt) -> dict[str, Any]:
    """voxcast extension: delete a script that no unfinished AI task uses."""
    async with rt.sessions.begin() as session:
        await accounts.require_app(session, account.id, req.appId)
        await scripts.delete_script(session, account.id, req.dialogFlowId)
    return aivoice_ok()
