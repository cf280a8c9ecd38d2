"""Delivers the push outbox: claims due rows with a lease, POSTs them (one object, or arrays in
batch mode), and records the outcome with retries. At least once: receivers dedupe on voiceId."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import or_, select, update

from voxcast import __version__
from voxcast.runtime import Runtime
from voxcast.storage.models import App, Push
from voxcast.webhooks import signing

log = logging.getLogger("voxcast.push")

PENDING, DELIVERED, DEAD = 0, 1, 2
CLAIM_LIMIT = 500


@dataclass
class Delivery:
    """One POST: a single row, or several rows of one app in batch mode."""

    app_id: str
    url: str | None
    secret: str | None
    batch: bool
    rows: list[Push]

    def body(self) -> bytes:
        payload: Any = [r.payload for r in self.rows] if self.batch else self.rows[0].payload
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


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
        self._http = http or httpx.AsyncClient(
            timeout=httpx.Timeout(settings.push_timeout_seconds),
            headers={"User-Agent": f"voxcast/{__version__}"},
        )
        self._owns_http = http is None
        self._gate = asyncio.Semaphore(concurrency)
        speed = max(settings.sandbox_speed, 1.0)
        self.idle_seconds = max(0.01, min(0.2, 0.5 / speed))
        self._lease = timedelta(seconds=settings.push_timeout_seconds * 3 * speed)
        self.delivered = 0
        self.failed = 0

    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                try:
                    sent = await self.deliver_due()
                except Exception:
                    log.exception("push pass failed; retrying")
                    sent = 0
                if sent == 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=self.idle_seconds)
        finally:
            if self._owns_http:
                await self._http.aclose()

    async def deliver_due(self) -> int:
        """One pass: claim what is due, post it, record the outcome. Returns rows attempted."""
        deliveries = await self._claim(self.rt.clock.now())
        if not deliveries:
            return 0
        results = await asyncio.gather(*(self._post(d) for d in deliveries))
        await self._record(list(zip(deliveries, results, strict=True)))
        return sum(len(d.rows) for d in deliveries)

    async def _claim(self, now: datetime) -> list[Delivery]:
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
                        .limit(CLAIM_LIMIT)
                        .with_for_update(skip_locked=True)
                    )
                ).all()
            )
            if not rows:
                return []
            # guarded, so a row another sender leased meanwhile is not taken twice
            taken = set(
                (
                    await session.scalars(
                        update(Push)
                        .where(
                            Push.id.in_([r.id for r in rows]),
                            Push.state == PENDING,
                            or_(Push.lease_until.is_(None), Push.lease_until < now),
                        )
                        .values(lease_until=now + self._lease)
                        .returning(Push.id)
                        .execution_options(synchronize_session=False)
                    )
                ).all()
            )
            rows = [r for r in rows if r.id in taken]
            if not rows:
                return []
            apps = {
                a.app_id: a
                for a in (
                    await session.scalars(
                        select(App).where(App.app_id.in_({r.app_id for r in rows}))
                    )
                ).all()
            }
        deliveries: list[Delivery] = []
        by_app: dict[str, list[Push]] = {}
        for row in rows:
            by_app.setdefault(row.app_id, []).append(row)
        size = max(1, self.rt.settings.push_batch_size)
        for app_id, app_rows in by_app.items():
            app = apps.get(app_id)
            url = app.push_url if app else None
            secret = (
                self.rt.secrets.open(app.push_secret_enc) if app and app.push_secret_enc else None
            )
            if app is not None and app.push_batch:
                for i in range(0, len(app_rows), size):
                    deliveries.append(Delivery(app_id, url, secret, True, app_rows[i : i + size]))
            else:
                deliveries.extend(Delivery(app_id, url, secret, False, [r]) for r in app_rows)
        return deliveries

    async def _post(self, d: Delivery) -> str | None:
        """None on success, else why it failed."""
        if not d.url:
            return "no push URL"
        body = d.body()
        headers = {"Content-Type": "application/json;charset=UTF-8"}
        if d.secret:
            headers.update(signing.headers(d.secret, int(self.rt.clock.now().timestamp()), body))
        async with self._gate:
            try:
                resp = await self._http.post(d.url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                return f"{type(exc).__name__}: {exc}"[:500]
        if 200 <= resp.status_code < 300:
            return None
        return f"HTTP {resp.status_code}"

    async def _record(self, outcomes: list[tuple[Delivery, str | None]]) -> None:
        now = self.rt.clock.now()
        attempts = self.rt.settings.push_attempts
        retry = timedelta(seconds=self.rt.settings.push_retry_seconds)
        async with self.rt.sessions.begin() as session:
            for d, error in outcomes:
                for row in d.rows:
                    tried = row.attempts + 1
                    values: dict[str, Any] = {"attempts": tried, "lease_until": None}
                    if error is None:
                        values.update(state=DELIVERED, delivered_at=now, last_error="")
                        self.delivered += 1
                    else:
                        dead = error == "no push URL" or tried >= attempts
                        values.update(
                            state=DEAD if dead else PENDING,
                            next_attempt_at=now + retry,
                            last_error=error,
                        )
                        self.failed += 1
                        log.log(
                            logging.WARNING if dead else logging.INFO,
                            "push %s to %s failed (attempt %d/%d): %s%s",
                            row.dedupe_key,
                            d.url,
                            tried,
                            attempts,
                            error,
                            "; giving up" if dead else "",
                        )
                    await session.execute(
                        update(Push)
                        .where(Push.id == row.id)
                        .values(**values)
                        .execution_options(synchronize_session=False)
                    )
