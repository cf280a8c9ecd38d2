"""`voxcast pushes ...`: the push outbox's failed and dead pushes, and sending them again."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from voxcast.cli.common import DatabaseOpt, columns, fail, with_runtime
from voxcast.domain.codes import ApiError

if TYPE_CHECKING:
    from voxcast.runtime import Runtime
    from voxcast.storage.models import Push

pushes_app = typer.Typer(
    help="Pushes that failed or were given up on (dead), and sending them again.",
    no_args_is_help=True,
)
STATES = {0: "failed", 1: "delivered", 2: "dead"}


def _row(p: Push) -> dict[str, object]:
    return {
        "id": p.id,
        "state": STATES.get(p.state, str(p.state)),
        "accountId": p.account_id,
        "appId": p.app_id,
        "kind": p.kind,
        "key": p.dedupe_key,
        "attempts": p.attempts,
        "nextAttempt": p.next_attempt_at.isoformat(timespec="seconds"),
        "lastError": p.last_error,
    }


@pushes_app.command("list")
def list_pushes(
    state: Annotated[
        str, typer.Option(help="failed (waiting for a retry), dead (given up on) or all")
    ] = "all",
    account_id: Annotated[int | None, typer.Option(help="only this account's")] = None,
    app_id: Annotated[str | None, typer.Option(help="only this app's")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000, help="at most this many")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
    database_url: DatabaseOpt = None,
) -> None:
    """Failed and dead pushes, newest first, with their attempts and last error."""
    from voxcast.webhooks.review import Trouble, troubled_pushes

    try:
        which = Trouble(state)
    except ValueError:
        raise fail(f"--state {state!r}: give failed, dead or all") from None

    async def go(rt: Runtime) -> list[Push]:
        async with rt.readonly() as session:
            return await troubled_pushes(
                session, which=which, account_id=account_id, app_id=app_id, limit=limit
            )

    rows = with_runtime(database_url, go)
    if as_json:
        for p in rows:
            typer.echo(json.dumps(_row(p), ensure_ascii=False))
        return
    if not rows:
        typer.echo(f"no {'failed or dead' if which == Trouble.ALL else which.value} pushes")
        return
    headings = (
        "id",
        "state",
        "accountId",
        "appId",
        "kind",
        "key",
        "attempts",
        "nextAttempt",
        "lastError",
    )
    for line in columns(headings, [[str(_row(p)[c]) for c in headings] for p in rows]):
        typer.echo(line)


@pushes_app.command("retry")
def retry(
    push_ids: Annotated[
        list[int] | None, typer.Argument(help="push ids (`pushes list`)", show_default=False)
    ] = None,
    all_dead: Annotated[bool, typer.Option("--all-dead", help="every dead push")] = False,
    account_id: Annotated[
        int | None, typer.Option(help="with --all-dead: only this account's")
    ] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Make pushes due now, with a full set of attempts again; a running push sender (serve or
    worker) sends them within a second."""
    from voxcast.clock import SystemClock
    from voxcast.webhooks.review import retry_pushes

    if bool(push_ids) == all_dead:
        raise fail("give push ids or --all-dead (one of the two)")

    async def go(rt: Runtime) -> list[int]:
        # due times are wall time (the sender's), whatever the sandbox speed
        async with rt.sessions.begin() as session:
            return await retry_pushes(
                session,
                SystemClock().now(),
                ids=push_ids or (),
                all_dead=all_dead,
                account_id=account_id,
            )

    try:
        done = with_runtime(database_url, go)
    except ApiError as err:
        raise fail(err.detail or err.reason) from None
    typer.echo(f"{len(done)} push(es) due now" + (f": {', '.join(map(str, done))}" if done else ""))
