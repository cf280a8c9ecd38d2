"""Delivers the push outbox: claims due rows with a lease, POSTs them (one object, or arrays in
batch mode), and records the outcome with retries. At least once: receivers dedupe on voiceId."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import case, or_, select, update

from voxcast import __version__, metrics
from voxcast.domain.enums import TerminationStyle, styled_termination_code
from voxcast.runtime import Runtime
from voxcast.storage import leases
from voxcast.storage.db import Outage
from voxcast.storage.models import App, Push
from voxcast.webhooks import outbox, signing

log = logging.getLogger("voxcast.push")

PENDING, DELIVERED, DEAD = 0, 1, 2
#: rows claimed per pass (at least one full batch)
CLAIM_LIMIT = 500
NO_URL = "no push URL"
#: the app's push secret was sealed with another server key: the push waits (attempts are not
#: spent) until the secret is set again or the key restored, since signing it is impossible and
#: sending it unsigned would pass it off as unsigned to a receiver that expects a signature
KEY_MISMATCH = (
    "push secret cannot be decrypted with this server's key (VOXCAST_SECRET_KEY / secret.key "
    "differ from those it was set with); set it again with `voxcast admin set-push-url "
    "--secret` or restore the key: the push waits until then"
)
#: rows per recording UPDATE (well under the bound-parameter limit of SQLite)
RECORD_CHUNK = 500
USER_AGENT = f"voxcast/{__version__}"


@dataclass
class Delivery:
    """One POST: a single row, or several rows of one app in batch mode."""

    app_id: str
    url: str | None
    secret: str | None
    batch: bool
    rows: list[Push]
    #: set when the push cannot even be attempted (no URL, undecryptable secret)
    error: str | None = None
    #: the app's terminationCode style, applied to status reports as they are sent
    style: str = TerminationStyle.SIP

    def body(self) -> bytes:
        payloads = [self._styled(r) for r in self.rows]
        payload: Any = payloads if self.batch else payloads[0]
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()

    def _styled(self, row: Push) -> Any:
        # the outbox keeps the SIP code: a style change reaches pushes not yet delivered too
        payload = row.payload
        if row.kind != outbox.VOICE_REPORT or not isinstance(payload, dict):
            return payload
        code = payload.get("terminationCode")
        if not isinstance(code, str):
            return payload
        styled = styled_termination_code(code, self.style)
        return payload if styled == code else {**payload, "terminationCode": styled}


def _url_for(app: App | None, kind: str) -> str | None:
    if app is None:
        return None
    if kind == outbox.CC_RECORD:
        return app.cc_push_url
    if kind == outbox.AGENT_RINGING:
        return app.ring_push_url
    if kind == outbox.SMS_REPORT:
        return app.sms_push_url
    return app.push_url


class PushSender:
    """Any number of senders may share one PostgreSQL; a row is never posted by two at once."""

    def __init__(
        self,
        rt: Runtime,
        *,
        worker_id: str,
        http: httpx.AsyncClient | None = None,
        concurrency: int = 32,
    ) -> None:
        self.rt = rt
        self.worker_id = worker_id
        settings = rt.settings
        self.timeout = settings.push_timeout_seconds
        self.concurrency = max(1, concurrency)
        self._http = http or httpx.AsyncClient(
            timeout=httpx.Timeout(self.timeout),
            limits=httpx.Limits(
                max_connections=self.concurrency, max_keepalive_connections=self.concurrency
            ),
            headers={"User-Agent": USER_AGENT},
            follow_redirects=False,
        )
        self._owns_http = http is None
        self._gate = asyncio.Semaphore(self.concurrency)
        # a faster sandbox makes new pushes appear sooner, so look for them more often; due
        # times and leases are wall time regardless (see deliver_due)
        self.idle_seconds = max(0.01, min(0.2, 0.5 / max(settings.sandbox_speed, 1.0)))
        self.delivered = 0
        self.failed = 0

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set, pausing briefly (wall time) after an empty pass."""
        outage = Outage(log, "pushes wait until it is back")
        try:
            while not stop.is_set():
                pause = self.idle_seconds
                try:
                    sent = await self.deliver_due()
                    outage.ok()
                except Exception as exc:
                    # e.g. the database is unreachable: claimed rows keep their lease and are
                    # taken again once it runs out; wait a little longer before the next try
                    outage.failed(exc, "push pass")
                    sent, pause = 0, max(self.idle_seconds, 1.0)
                if sent == 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=pause)
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client if this sender made it."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> PushSender:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def deliver_due(self) -> int:
        """One pass: claim what is due, post it, record the outcome. Returns rows attempted.

        Due times, retries and leases are on the wall clock (`Runtime.wall`), never the
        injected clock: a receiver is real, and a sandbox running 10x faster must not spend
        the retry budget 10x sooner. Only `created_at`/`delivered_at` use the injected clock.
        """
        claimed = await self._claim(self.rt.wall.now())
        if claimed is None:
            return 0
        lease, deliveries = claimed
        results = await asyncio.gather(*(self._post(d) for d in deliveries))
        await self._record(lease, list(zip(deliveries, results, strict=True)))
        return sum(len(d.rows) for d in deliveries)

    def _lease_for(self, rows: int) -> timedelta:
        # long enough for every POST of the pass to time out, wave after wave, plus slack for
        # the database; a crashed sender's rows are re-sent once it runs out
        waves = math.ceil(rows / self.concurrency) + 2
        return timedelta(seconds=self.timeout * waves)

    async def _claim(self, now: datetime) -> tuple[datetime, list[Delivery]] | None:
        """Lease rows due at `now` (wall time) in one short transaction; None when none are."""
        limit = max(CLAIM_LIMIT, self.rt.settings.push_batch_size)
        async with self.rt.sessions.begin() as session:
            rows = list(
                (
                    await session.scalars(
                        select(Push)
                        .where(
                            Push.state == PENDING,
                            Push.next_attempt_at <= now,
                            or_(Push.lease_until.is_(None), Push.lease_until < now),
                        )
                        .order_by(Push.id)
                        .limit(limit)
                        .with_for_update(skip_locked=True)
                    )
                ).all()
            )
            if not rows:
                return None
            lease = now + self._lease_for(len(rows))
            taken = await leases.take(
                session, Push, [r.id for r in rows], Push.state, PENDING, now, lease
            )
            rows = [r for r in rows if r.id in taken]
            if not rows:
                return None
            apps = {
                a.app_id: a
                for a in (
                    await session.scalars(
                        select(App).where(App.app_id.in_({r.app_id for r in rows}))
                    )
                ).all()
            }
        return lease, self._group(rows, apps)

    def _group(self, rows: list[Push], apps: dict[str, App]) -> list[Delivery]:
        """One delivery per row, or per batch of up to push_batch_size rows of a batch app."""
        by_app: dict[tuple[str, str], list[Push]] = {}
        for row in rows:
            by_app.setdefault((row.app_id, row.kind), []).append(row)
        size = max(1, self.rt.settings.push_batch_size)
        deliveries: list[Delivery] = []
        for (app_id, kind), app_rows in by_app.items():
            app = apps.get(app_id)
            url = _url_for(app, kind)
            secret: str | None = None
            error: str | None = None if url else NO_URL
            if app is not None and app.push_secret_enc and error is None:
                try:
                    secret = self.rt.secrets.open(app.push_secret_enc)
                except RuntimeError:
                    error = KEY_MISMATCH
            style = app.termination_style if app is not None else TerminationStyle.SIP
            if app is not None and app.push_batch and kind == outbox.VOICE_REPORT:
                for i in range(0, len(app_rows), size):
                    deliveries.append(
                        Delivery(app_id, url, secret, True, app_rows[i : i + size], error, style)
                    )
            else:
                deliveries.extend(
                    Delivery(app_id, url, secret, False, [r], error, style) for r in app_rows
                )
        return deliveries

    async def _post(self, d: Delivery) -> str | None:
        """None on success, else why it failed."""
        if d.error is not None or not d.url:
            return d.error or NO_URL
        body = d.body()
        headers = {"Content-Type": "application/json;charset=UTF-8", "User-Agent": USER_AGENT}
        if d.secret:
            # receivers compare the timestamp with their real time, not a faster sandbox clock
            stamp = int(self.rt.wall.now().timestamp())
            headers.update(signing.headers(d.secret, stamp, body))
        async with self._gate:
            try:
                # httpx timeouts are per phase; this caps the whole exchange so leases hold
                async with asyncio.timeout(self.timeout):
                    resp = await self._http.post(d.url, content=body, headers=headers)
            except TimeoutError:
                return f"no answer within {self.timeout:g} s"
            except httpx.HTTPError as exc:
                return f"{type(exc).__name__}: {exc}"[:500]
        if 200 <= resp.status_code < 300:
            return None
        return f"HTTP {resp.status_code}"

    async def _record(self, lease: datetime, outcomes: list[tuple[Delivery, str | None]]) -> None:
        """Write the outcomes, only to rows still under this pass's lease.

        One UPDATE per distinct outcome (delivered, or each error text) rather than per row,
        so recording a pass costs a few statements, not hundreds.
        """
        now = self.rt.clock.now()
        wall = self.rt.wall.now()
        attempts = self.rt.settings.push_attempts
        retry = timedelta(seconds=self.rt.settings.push_retry_seconds)
        by_outcome: dict[tuple[str | None, bool], list[tuple[Push, Delivery]]] = {}
        for d, error in outcomes:
            for row in d.rows:
                urgent = row.kind == outbox.AGENT_RINGING
                by_outcome.setdefault((error, urgent), []).append((row, d))
        async with self.rt.sessions.begin() as session:
            for (error, urgent), items in by_outcome.items():
                values: dict[str, Any] = {"attempts": Push.attempts + 1, "lease_until": None}
                if error is None:
                    values.update(state=DELIVERED, delivered_at=now, last_error="")
                elif error == KEY_MISMATCH:
                    # not the receiver's failure: no attempt spent, and not at once even when
                    # urgent (nothing changes until the operator acts)
                    values.update(
                        attempts=Push.attempts, next_attempt_at=wall + retry, last_error=error
                    )
                else:
                    # the agent ringing push is retried at once: it is only useful now
                    again = wall if urgent else wall + retry
                    values.update(
                        state=DEAD
                        if error == NO_URL
                        else case((Push.attempts + 1 >= attempts, DEAD), else_=PENDING),
                        next_attempt_at=again,
                        last_error=error,
                    )
                for start in range(0, len(items), RECORD_CHUNK):
                    chunk = {row.id: (row, d) for row, d in items[start : start + RECORD_CHUNK]}
                    written = (
                        await session.execute(
                            update(Push)
                            .where(
                                Push.id.in_(list(chunk)),
                                Push.state == PENDING,
                                Push.lease_until == lease,
                            )
                            .values(**values)
                            .returning(Push.id, Push.state, Push.attempts)
                            .execution_options(synchronize_session=False)
                        )
                    ).all()
                    if error == KEY_MISMATCH and written:
                        apps = sorted({chunk[push_id][1].app_id for push_id, _, _ in written})
                        log.error(
                            "app %s: %d push(es) not sent: %s",
                            ", ".join(apps),
                            len(written),
                            error,
                        )
                    for push_id, state, tried in written:
                        row, d = chunk.pop(push_id)
                        if error is None:
                            self.delivered += 1
                            metrics.push_delivered()
                            continue
                        if error == KEY_MISMATCH:
                            continue
                        self.failed += 1
                        metrics.push_failed()
                        dead = state == DEAD
                        log.log(
                            logging.WARNING if dead else logging.INFO,
                            "push %s (%s) to %s failed, attempt %d/%d: %s%s",
                            row.dedupe_key,
                            row.kind,
                            d.url,
                            tried,
                            attempts,
                            error,
                            "; giving up (dead)" if dead else "",
                        )
                    for row, _ in chunk.values():
                        # the lease ran out and another sender took the row: its outcome wins
                        log.warning(
                            "push %s: lease lost before the result was recorded (%s)",
                            row.dedupe_key,
                            "delivered" if error is None else error,
                        )
