"""`GET /recordings/<name>?expires=&sig=`: a call's recording, for whoever holds a link we gave
out (a push, a record query); not signed like the API, so a browser can open it. Any node
serves any recording: they are kept in the database."""

from __future__ import annotations

import asyncio
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
        # the database first: a recording is kept there once its call is recorded, whichever
        # node made it; this node's disk has only those made before that (or before 0026)
        async with runtime.readonly() as session:
            packed = await recordings.stored(session, name)
        if packed is not None:
            wav = await asyncio.to_thread(recordings.unpack, packed.channels, packed.audio)
            disposition = f'attachment; filename="{name}"'
            return Response(
                wav, media_type="audio/wav", headers={"content-disposition": disposition}
            )
        try:
            path = await asyncio.to_thread(
                recordings.find, data_dir, runtime.secrets, name, expires, sig, now
            )
        except FileNotFoundError:
            return PlainTextResponse("no such recording", status_code=404)
        return FileResponse(path, media_type="audio/wav", filename=name)

    return served
