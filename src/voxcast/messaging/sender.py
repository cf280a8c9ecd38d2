"""The SMS sender a worker runs: claims due texts (a lease, safe with many workers on one
database), submits them through the SMS transport, and turns receipts into final states and
delivery report pushes. At start it re-arms the transport with the texts an earlier run
submitted whose receipts have not come (their carrier ids are stored)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta

from voxcast.messaging.sandbox import SandboxSmsTransport
from voxcast.messaging.smpp import SmppTransport
from voxcast.ports import OutgoingSms, SmsReceipt, SmsRejected, SmsTransport
from voxcast.runtime import Runtime
from voxcast.services import sms, smsc
from voxcast.storage.db import Outage
from voxcast.webhooks import pushes

log = logging.getLogger("voxcast.sms")

#: messages claimed per pass
CLAIM_LIMIT = 100
#: submits in flight at once per sender (the transport's own window throttles further)
CONCURRENCY = 16
#: how long (wall time) a claimed message is held: long enough for a transport waiting
#: through a reconnect; a crashed sender's messages are taken again after it
LEASE_SECONDS = 300.0
#: a submit still waiting (an SMSC down or not reachable yet) after this share of the lease is
#: given up and the message released before its lease could lapse to another sender
SUBMIT_PATIENCE = 0.8
#: how far back (clock) a restarted sender still waits for receipts: SMSCs give up
#: delivering after their validity period, 48-72 hours by default
REARM_HOURS = 72.0


async def choose_transport(rt: Runtime) -> SmsTransport:
    """The transport this process sends through: SMPP to the first enabled SMSC
    (`voxcast admin smsc add`), else the sandbox."""
    async with rt.sessions() as session:
        configs = await smsc.enabled_configs(session, rt.secrets)
    if not configs:
        return SandboxSmsTransport(rt.clock)
    if len(configs) > 1:
        log.warning("%d SMSCs enabled: texts go to the first, %s", len(configs), configs[0].host)
    return SmppTransport(configs[0])


class SmsSender:
    """Any number of senders may share one database: a message is submitted by one of them."""

    def __init__(
        self,
        rt: Runtime,
        transport: SmsTransport,
        *,
        idle_seconds: float | None = None,
        lease_seconds: float = LEASE_SECONDS,
    ) -> None:
        self.rt = rt
        self.transport = transport
        speed = max(rt.settings.sandbox_speed, 1.0)
        # a faster sandbox makes texts due sooner: look for them more often (wall time)
        self.idle_seconds = idle_seconds or max(0.02, min(0.5, 1.0 / speed))
        self.lease_seconds = lease_seconds
        self._gate = asyncio.Semaphore(CONCURRENCY)
        self.submitted = 0
        self.settled = 0
        self.released = 0  # claims given back, the transport being down
        self.rearmed: int | None = None  # messages re-armed at start, once done

    async def rearm(self) -> int:
        """Hand the transport the messages submitted before this sender started that still
        await their receipt, so those receipts settle them. Returns how many."""
        since = self.rt.clock.now() - timedelta(hours=REARM_HOURS)
        async with self.rt.sessions() as session:
            waiting = await sms.awaiting_receipts(session, since=since)
        for msg_id, carrier_ids in waiting:
            self.transport.expect(msg_id, carrier_ids)
        if waiting:
            log.info("SMS: awaiting the receipts of %d texts submitted earlier", len(waiting))
        self.rearmed = len(waiting)
        return len(waiting)

    async def run(self, stop: asyncio.Event) -> None:
        """Send and settle until `stop` is set; the transport is closed on the way out."""
        receipts = asyncio.create_task(self._consume_receipts(), name="sms-receipts")
        outage = Outage(log, "SMS wait until it is back")
        try:
            # bind now, not at the first text: receipts of an earlier run may be waiting; an
            # SMSC that is not reachable yet is bound to in the background, texts wait
            await self.transport.start()
            while not stop.is_set():
                try:
                    if self.rearmed is None:
                        await self.rearm()
                    sent = await self.send_due()
                    outage.ok()
                except Exception as exc:
                    outage.failed(exc, "SMS pass")
                    sent = 0
                if sent == 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=self.idle_seconds)
        finally:
            await self.transport.close()
            # the transport ends its receipt stream when closed
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(receipts, timeout=5)
            receipts.cancel()

    async def send_due(self) -> int:
        """One pass: claim what is due, submit it, record each outcome. Returns the claims."""
        wall = self.rt.wall.now()
        lease = wall + timedelta(seconds=self.lease_seconds)
        now = self.rt.clock.now()
        async with self.rt.sessions.begin() as session:
            claimed, refused = await sms.claim_due(
                session, now=now, wall=wall, lease=lease, limit=CLAIM_LIMIT
            )
            await pushes.queue_sms_reports(session, refused, now, due=wall)
        await asyncio.gather(*(self._submit(m, lease) for m in claimed))
        return len(claimed) + len(refused)

    async def _submit(self, message: sms.Claimed, lease: datetime) -> None:
        outgoing = OutgoingSms(message.msg_id, message.number, message.sender, message.text)
        # the wait for the gate counts: the message must be given back while its lease holds
        patience = self.lease_seconds * SUBMIT_PATIENCE
        deadline = lease - timedelta(seconds=self.lease_seconds - patience)
        try:
            async with asyncio.timeout((deadline - self.rt.wall.now()).total_seconds()):
                async with self._gate:
                    done = await self.transport.submit(outgoing)
        except SmsRejected as exc:
            await self._settle_rejected(message.msg_id, lease, exc.reason)
            return
        except Exception as exc:
            log.warning("SMS %s not submitted, retried later: %r", message.msg_id, exc)
            async with self.rt.sessions.begin() as session:
                await sms.release(session, [message.msg_id], lease)
            self.released += 1
            return
        now = self.rt.clock.now()
        async with self.rt.sessions.begin() as session:
            kept, settled = await sms.mark_submitted(
                session, message.msg_id, lease, done.segments, now, done.carrier_ids
            )
            if settled is not None:
                await pushes.queue_sms_reports(session, [settled], now, due=self.rt.wall.now())
        self.submitted += 1
        if not kept:
            log.warning("SMS %s: lease lost before its submit was recorded", message.msg_id)

    async def _settle_rejected(self, msg_id: str, lease: datetime, reason: str) -> None:
        now = self.rt.clock.now()
        async with self.rt.sessions.begin() as session:
            outcome = await sms.settle_rejected(session, msg_id, lease, reason, now)
            if outcome is not None:
                await pushes.queue_sms_reports(session, [outcome], now, due=self.rt.wall.now())
        log.info("SMS %s refused by the carrier: %s", msg_id, reason)

    async def _consume_receipts(self) -> None:
        """Settle receipts until the transport ends its stream (it was closed); a stream that
        fails (a lost SMSC bind) is opened again a second later."""
        while True:
            try:
                async for receipt in self.transport.receipts():
                    await self._settle(receipt)
                return
            except Exception:
                log.exception("SMS receipt stream failed; reading it again")
                await asyncio.sleep(1.0)

    async def _settle(self, receipt: SmsReceipt) -> None:
        try:
            async with self.rt.sessions.begin() as session:
                outcome = await sms.settle_receipt(
                    session, receipt.message_id, receipt.delivered, receipt.stat, receipt.at
                )
                if outcome is not None:
                    await pushes.queue_sms_reports(
                        session, [outcome], self.rt.clock.now(), due=self.rt.wall.now()
                    )
        except Exception:
            # a receipt lost to a database outage leaves the message "submitted"
            log.exception("SMS receipt %s not recorded", receipt.message_id)
            return
        self.settled += 1
