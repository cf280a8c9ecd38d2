"""The call records page's recordings: a recorded call's WAV served to the signed-in user of
its account (another account's call, or one not recorded, is 404), for the page's `<audio>`."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse

from voxcast.console.pages import BASE, ConsoleRoute, Missing, _account_user, _rt
from voxcast.services import recordings

router = APIRouter(prefix=BASE, route_class=ConsoleRoute, include_in_schema=False)


@router.get("/records/{voice_id}/recording.wav")
async def recording(request: Request, voice_id: str) -> Response:
    """Both sides of the call (stereo: left the robot or prompt, right the callee); with
    `?side=customer` the callee alone."""
    who = await _account_user(request)
    assert who.account_id is not None
    rt = _rt(request)
    customer = request.query_params.get("side") == "customer"
    async with rt.readonly() as session:
        name = await recordings.name_of_record(session, who.account_id, voice_id, customer=customer)
        audio = None if name is None else await recordings.wav(session, rt.settings.data_dir, name)
    if audio is None:
        raise Missing
    if isinstance(audio, bytes):
        return Response(audio, media_type="audio/wav")
    return FileResponse(audio, media_type="audio/wav")
