"""The web console (docs/console.md): server-rendered pages under /console on the API's own
app, process and runtime, calling the same services as the API. `mount` adds it to an app."""

from __future__ import annotations

import asyncio
from importlib.resources import files

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from voxcast.console import (
    admin,
    agent,
    callcenter,
    dnc,
    media,
    otp,
    playback,
    preview,
    recall,
    taskform,
)
from voxcast.console.auth import LoginThrottle
from voxcast.console.pages import STATIC, router
from voxcast.console.settings import ConsoleSettings

__all__ = ["mount"]


def mount(app: FastAPI, settings: ConsoleSettings | None = None) -> None:
    """Serve the console from `app` (made by `voxcast.api.app.create_app`)."""
    settings = settings or ConsoleSettings.from_env()
    app.state.console_settings = settings
    app.state.console_throttle = LoginThrottle(
        settings.login_failures, settings.login_window_seconds, settings.login_lockout_seconds
    )
    # before the pages: /tasks/new is no task id
    app.include_router(taskform.router)
    app.include_router(router)
    app.state.console_tts_slots = asyncio.Semaphore(media.TTS_SLOTS)
    app.include_router(dnc.router)
    app.include_router(media.router)
    app.include_router(callcenter.router)
    app.include_router(preview.router)
    app.include_router(otp.router)
    app.include_router(recall.router)
    app.include_router(admin.router)
    app.include_router(playback.router)
    app.include_router(agent.router)
    static = files("voxcast.console") / "static"
    app.mount(STATIC, StaticFiles(directory=str(static)), name="console-static")
