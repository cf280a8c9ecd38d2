"""`GET /recordings/<name>?expires=&sig=`: a call's recording, for whoever holds a link we gave
out (a push, a record query); not signed like the API, so a browser can open it. Any node
serves any recording: they are kept in the database."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Response
from fastapi.responses import FileResponse, PlainTextResponse

from voxcast.runtime import Runtime
from voxcast.services import recordings

log = logging.getLogger("voxcast.recordings")


def router(runtime: Runtime) -> APIRouter:
    served = APIRouter(include_in_schema=False)

    @served.get("/recordings/{name}")
    async def recording(name: str, expires: str = "", sig: str = "") -> Response:
        now = runtime.wall.now().timestamp()
        data_dir = runtime.settings.data_dir
        try:
            recordings.check(runtime.secrets, name, expires, sig, now)
        except recordings.Refused as refused:
            return PlainTextResponse(f"forbidden: {refused}", status_code=403)
        async with runtime.readonly() as session:
            audio = await recordings.wav(session, data_dir, name)
        if audio is None:
            return PlainTextResponse("no such recording", status_code=404)
        if isinstance(audio, bytes):
            disposition = f'attachment; filename="{name}"'
            return Response(
                audio, media_type="audio/wav", headers={"content-disposition": disposition}
            )
        return FileResponse(audio, media_type="audio/wav", filename=name)

    return served
