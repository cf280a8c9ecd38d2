"""`voxcast apps show APP_ID`: where a voice app's pushes go and how its outbox stands."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from voxcast.cli.common import DatabaseOpt, fail, with_runtime
from voxcast.domain.codes import ApiError

if TYPE_CHECKING:
    from voxcast.runtime import Runtime
    from voxcast.webhooks.review import PushSettings

apps_app = typer.Typer(help="Voice apps and their push settings.", no_args_is_help=True)


@apps_app.command("show")
def show(
    app_id: Annotated[str, typer.Argument(help="voice app id (appId)")],
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object")] = False,
    database_url: DatabaseOpt = None,
) -> None:
    """The app's push URLs, batch mode, whether pushes are signed (never the secret), its
    terminationCode style, and how many of its pushes wait, were delivered or are dead."""
    from voxcast.webhooks.review import push_settings

    async def go(rt: Runtime) -> PushSettings:
        async with rt.readonly() as session:
            return await push_settings(session, app_id)

    try:
        s = with_runtime(database_url, go)
    except ApiError as err:
        raise fail(err.detail or err.reason) from None
    out = {
        "appId": s.app.app_id,
        "accountId": s.app.account_id,
        "name": s.app.name,
        "pushUrl": s.app.push_url,
        "batch": s.app.push_batch,
        "signed": s.has_secret,
        "ccPushUrl": s.app.cc_push_url,
        "ringPushUrl": s.app.ring_push_url,
        "terminationCode": s.app.termination_style,
        "pushesWaiting": s.waiting,
        "pushesDelivered": s.delivered,
        "pushesDead": s.dead,
    }
    if as_json:
        typer.echo(json.dumps(out, ensure_ascii=False))
        return
    width = max(map(len, out))
    for key, value in out.items():
        shown = "-" if value is None else str(value).lower() if isinstance(value, bool) else value
        typer.echo(f"{key:<{width}}  {shown}")
