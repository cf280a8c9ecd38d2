"""The SMPP 3.4 SmsTransport: aiosmpplib's ESME bound as a transceiver to the carrier's SMSC,
with our own outbox (window, rate, throttling, resend after a rebind) and receipt matching."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import re
import struct
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiosmpplib import ESME as _LibEsme
from aiosmpplib import (
    NPI,
    TON,
    AbstractBroker,
    AbstractCorrelator,
    AbstractHook,
    AbstractRetryTimer,
    AbstractThrottleHandler,
    BindMode,
    DeliverSm,
    DeliverSmResp,
    GenericNack,
    PhoneNumber,
    SmppCommand,
    SmppCommandStatus,
    SmppMessage,
    SubmitSm,
    SubmitSmResp,
)
from aiosmpplib.correlator import SegmentStatus
from aiosmpplib.protocol import PduHeader

from voxcast.domain.smsc import SmscConfig
from voxcast.messaging.encoding import DATA_CODING_UCS2, segment
from voxcast.ports import OutgoingSms, SmsReceipt, SmsRejected, Submitted

log = logging.getLogger(__name__)

# submit_sm_resp statuses worth sending again after a pause: the SMSC is busy or hiccuping,
# the message itself is fine. Every other non-zero status refuses the message for good.
TEMPORARY_STATUSES = frozenset(
    {
        SmppCommandStatus.ESME_RSYSERR.value,  # 0x08
        SmppCommandStatus.ESME_RMSGQFUL.value,  # 0x14
        SmppCommandStatus.ESME_RTHROTTLED.value,  # 0x58
        SmppCommandStatus.ESME_RX_T_APPN.value,  # 0x64
    }
)
_SLOWDOWN = frozenset(
    {SmppCommandStatus.ESME_RTHROTTLED.value, SmppCommandStatus.ESME_RMSGQFUL.value}
)
_RECEIPTED_MESSAGE_ID = 0x001E
_KNOWN_STATUSES = frozenset(s.value for s in SmppCommandStatus)
_KNOWN_COMMANDS = frozenset(c.value for c in SmppCommand)


@dataclass(eq=False)
class _Segment:
    message: _Message
    index: int
    pdu: SubmitSm
    not_before: float = 0.0
    attempts: int = 0
    smsc_id: str | None = None


@dataclass(eq=False)
class _Message:
    message_id: str
    accepted: asyncio.Future[int]
    segments: list[_Segment] = field(default_factory=list)
    # segment index -> (stat, at) once its receipt came
    reports: dict[int, tuple[str, datetime]] = field(default_factory=dict)
    reported: bool = False


class SmppTransport:
    """An SmsTransport over SMPP 3.4 (docs/smpp.md). Binds on first use; `close()` unbinds."""

    def __init__(self, config: SmscConfig) -> None:
        self.config = config
        self._queue: collections.deque[_Segment] = collections.deque()
        self._wake = asyncio.Event()
        self._taken: dict[int, _Segment] = {}  # id(pdu) -> segment handed to the ESME
        self._by_seq: dict[int, _Segment] = {}  # this session's sequence_num -> segment
        self._by_smsc_id: dict[str, _Segment] = {}
        # receipts that came before their submit_sm_resp was read (an SMSC may send them in
        # either order): SMSC id -> receipt, the oldest dropped past _EARLY_RECEIPTS
        self._early: collections.OrderedDict[str, DeliverSm] = collections.OrderedDict()
        self._vendor_status: dict[int, int] = {}  # sequence_num -> a status aiosmpplib lacks
        self._receipts: asyncio.Queue[SmsReceipt] = asyncio.Queue()
        self._ref = 0
        self._paused_until = 0.0
        self._throttles = 0
        self._tokens = 1.0
        self._tokens_at = time.monotonic()
        self._bound = asyncio.Event()
        self._unbound = asyncio.Event()
        self._binds = 0
        self._esme = _Esme(self)
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def binds(self) -> int:
        """How many times the session was bound (1 + the rebinds)."""
        return self._binds

    async def start(self) -> None:
        """Start binding in the background (submit() does it on first use)."""
        if self._closed:
            raise RuntimeError("transport closed")
        if self._task is None:
            self._task = asyncio.create_task(self._esme.start(), name="smpp-esme")

    async def wait_bound(self) -> None:
        """Until the session is bound (tests, health checks)."""
        await self.start()
        await self._bound.wait()

    async def wait_unbound(self) -> None:
        """Until the session is lost (tests)."""
        await self._unbound.wait()

    async def submit(self, message: OutgoingSms) -> Submitted:
        """Queue every segment of `message`; once the SMSC accepted all, return their count and
        the SMSC's ids (which its receipts name: store them to match a receipt after a
        restart, see `expect`)."""
        self._ref = (self._ref + 1) % 256
        pending = _Message(message.message_id, asyncio.get_running_loop().create_future())
        try:
            pdus = self._pdus(message)
        except ValueError as e:
            # nothing a carrier could ever take: a number or sender id SMPP can't carry
            raise SmsRejected(message.message_id, str(e)) from e
        await self.start()
        for index, pdu in enumerate(pdus):
            seg = _Segment(pending, index, pdu)
            pending.segments.append(seg)
            self._queue.append(seg)
        self._wake.set()
        try:
            count = await asyncio.shield(pending.accepted)
            return Submitted(count, tuple(seg.smsc_id or "" for seg in pending.segments))
        except asyncio.CancelledError:
            # the caller gave up: segments not yet sent are withdrawn (one on the wire can't
            # be, and is not sent again after a rebind)
            pending.accepted.cancel()
            for seg in pending.segments:
                if seg in self._queue:
                    self._queue.remove(seg)
            raise

    def _pdus(self, message: OutgoingSms) -> list[SubmitSm]:
        for name, value in (("number", message.number), ("sender", message.sender)):
            if not value.isascii() or not value.isprintable() or not value:
                raise ValueError(f"the {name} {value!r} is not an SMPP address")
        pdus: list[SubmitSm] = []
        for index, part in enumerate(segment(message.text, self._ref)):
            pdu = SubmitSm(
                short_message=part.text,
                source=self._source(message.sender),
                destination=PhoneNumber(
                    message.number, TON(self.config.dest_addr_ton), NPI(self.config.dest_addr_npi)
                ),
                esm_class=part.esm_class,
                registered_delivery=1,
                encoding="ucs2" if part.data_coding == DATA_CODING_UCS2 else "gsm0338",
                log_id=message.message_id,
                extra_data=str(index),
            )
            # the bytes are ours (UDH and all); the library only frames them
            pdu.set_encoded_message(part.payload)
            pdus.append(pdu)
        return pdus

    async def receipts(self) -> AsyncIterator[SmsReceipt]:
        """Delivery reports of submitted messages, one per message (see docs/smpp.md)."""
        while True:
            yield await self._receipts.get()

    async def close(self) -> None:
        """Unbind and stop; messages not yet accepted fail with ConnectionError."""
        self._closed = True
        task, self._task = self._task, None
        if task is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._esme.stop(), self.config.response_timeout_s)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for seg in [*self._queue, *self._taken.values()]:
            if not seg.message.accepted.done():
                seg.message.accepted.set_exception(ConnectionError("SMPP transport closed"))
                seg.message.accepted.exception()  # nobody may be waiting any more
        self._queue.clear()
        self._taken.clear()

    def _source(self, sender: str) -> PhoneNumber:
        numeric = sender.lstrip("+").isdigit()
        ton = self.config.source_addr_ton
        npi = self.config.source_addr_npi
        if ton is None:
            ton = 1 if numeric else 5
        if npi is None:
            npi = 1 if numeric else 0
        return PhoneNumber(sender.lstrip("+") if numeric else sender, TON(ton), NPI(npi))

    # -- the outbox the ESME's sender task pulls from --------------------------------------

    async def _next_pdu(self) -> SubmitSm:
        while True:
            now = time.monotonic()
            wait: float | None = None
            if len(self._taken) >= self.config.window:
                wait = None  # a response or a rebind wakes us
            elif now < self._paused_until:
                wait = self._paused_until - now
            else:
                ready = next((s for s in self._queue if s.not_before <= now), None)
                if ready is not None:
                    await self._rate_limit()
                    # the window or pause may have changed while we waited for a token
                    if len(self._taken) < self.config.window and ready in self._queue:
                        self._queue.remove(ready)
                        ready.attempts += 1
                        self._taken[id(ready.pdu)] = ready
                        return ready.pdu
                    continue
                if self._queue:
                    wait = min(s.not_before for s in self._queue) - now
            self._wake.clear()
            if wait is None:
                await self._wake.wait()
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait)

    async def _rate_limit(self) -> None:
        rate = self.config.rate_per_s
        while True:
            now = time.monotonic()
            # a bucket of one second's worth, at least one token
            self._tokens = min(max(rate, 1.0), self._tokens + (now - self._tokens_at) * rate)
            self._tokens_at = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return
            await asyncio.sleep((1.0 - self._tokens) / rate)

    # -- what the ESME tells us ------------------------------------------------------------

    def _on_bound(self) -> None:
        # every previous task of the ESME has ended: a segment handed over and not answered
        # may or may not have reached the SMSC, and SMPP gives no way to ask, so it is sent
        # again on the new session (an answered one never is)
        self._binds += 1
        resend = list(self._taken.values())  # in the order they were sent
        if self._binds > 1 and resend:
            log.warning("SMPP rebound: resending %d unanswered submit_sm", len(resend))
        for seg in reversed(resend):
            if not seg.message.accepted.done():
                self._queue.appendleft(seg)
        self._taken.clear()
        self._by_seq.clear()
        self._esme.requests.forget()
        self._unbound.clear()
        self._bound.set()
        self._wake.set()

    def _on_unbound(self) -> None:
        if self._bound.is_set():
            self._unbound.set()
        self._bound.clear()

    def _on_sending(self, message: SmppMessage) -> None:
        if isinstance(message, SubmitSm) and id(message) in self._taken:
            self._by_seq[message.sequence_num] = self._taken[id(message)]

    def _on_response(self, response: SubmitSmResp | GenericNack) -> None:
        seg = self._by_seq.pop(response.sequence_num, None)
        if seg is None:
            return
        self._taken.pop(id(seg.pdu), None)
        self._wake.set()
        pending = seg.message
        status = self._vendor_status.pop(response.sequence_num, response.command_status.value)
        name = _status_name(status)
        if isinstance(response, SubmitSmResp) and status == SmppCommandStatus.ESME_ROK:
            self._throttles = 0
            seg.smsc_id = response.message_id
            self._by_smsc_id[response.message_id] = seg
            early = self._early.pop(response.message_id, None)
            if early is not None:
                self._on_deliver(early)
            if not pending.accepted.done() and all(s.smsc_id for s in pending.segments):
                pending.accepted.set_result(len(pending.segments))
            return
        if pending.accepted.done():
            return
        temporary = TEMPORARY_STATUSES | set(self.config.extra_temporary_statuses)
        slowdown = status in _SLOWDOWN
        if not (isinstance(response, GenericNack) or status in temporary):
            self._reject(pending, name)
            return
        if not slowdown and seg.attempts >= self.config.max_attempts:
            self._reject(pending, f"{name} after {seg.attempts} attempts")
            return
        delay = min(self.config.retry_max_s, self.config.retry_min_s * 2 ** (seg.attempts - 1))
        if slowdown:
            # the SMSC asks us to slow down: pause the whole session, not just this one
            self._throttles += 1
            pause = min(
                self.config.retry_max_s, self.config.retry_min_s * 2 ** (self._throttles - 1)
            )
            self._paused_until = max(self._paused_until, time.monotonic() + pause)
            delay = pause
        seg.not_before = time.monotonic() + delay
        self._queue.appendleft(seg)
        log.info("SMSC: %s to %s, retry in %.1fs", name, pending.message_id, delay)

    def _reject(self, pending: _Message, reason: str) -> None:
        # refused for good: its other segments are not sent (those the SMSC already accepted
        # can't be recalled)
        for other in pending.segments:
            if other in self._queue:
                self._queue.remove(other)
        if not pending.accepted.done():
            pending.accepted.set_exception(SmsRejected(pending.message_id, reason))

    def _on_send_error(self, message: SmppMessage, error: Exception) -> None:
        if isinstance(error, ValueError) and id(message) in self._taken:
            # the library could not build the PDU: sending it again would fail the same way
            seg = self._taken.pop(id(message))
            self._wake.set()
            self._reject(seg.message, f"unsendable: {error}")

    def _segment_of(self, deliver: DeliverSm) -> _Segment | None:
        smsc_id = parse_receipt(deliver)[0]
        seg = self._by_smsc_id.get(smsc_id)
        if seg is None:
            # an SMSC may use a different case or leading zeros in the receipt
            seg = next(
                (s for k, s in self._by_smsc_id.items() if _same_id(k, smsc_id)),
                None,
            )
        return seg

    def _on_deliver(self, deliver: DeliverSm) -> None:
        if not deliver.is_receipt():
            return  # mobile-originated texts are not handled (yet)
        seg = self._segment_of(deliver)
        if seg is None:
            smsc_id = parse_receipt(deliver)[0]
            if smsc_id and smsc_id not in self._early:
                # perhaps its submit_sm_resp is still on the way
                self._early[smsc_id] = deliver
                if len(self._early) > _EARLY_RECEIPTS:
                    _, dropped = self._early.popitem(last=False)
                    log.warning("SMPP receipt for an unknown message: %r", _receipt_text(dropped))
            return
        _, stat, at = parse_receipt(deliver)
        if stat in NOT_FINAL:
            return  # an intermediate notification; the final one follows
        pending = seg.message
        pending.reports[seg.index] = (stat, at)
        if pending.reported or len(pending.reports) < len(pending.segments):
            return
        # one report per message: delivered only when every segment was
        pending.reported = True
        for s in pending.segments:
            if s.smsc_id:
                self._by_smsc_id.pop(s.smsc_id, None)
        stats = [pending.reports[i][0] for i in range(len(pending.segments))]
        failed = next((s for s in stats if s != "DELIVRD"), None)
        self._receipts.put_nowait(
            SmsReceipt(
                message_id=pending.message_id,
                delivered=failed is None,
                stat=failed or "DELIVRD",
                at=max(r[1] for r in pending.reports.values()),
            )
        )

    # -- receipts across a restart of voxcast ----------------------------------------------

    def expect(self, message_id: str, carrier_ids: tuple[str, ...]) -> None:
        """Match receipts for a message an earlier run submitted (its `Submitted.carrier_ids`,
        as stored with the message): reported once, as for one submitted now."""
        if not carrier_ids or any(i in self._by_smsc_id for i in carrier_ids):
            return  # nothing to match, or this transport already awaits it
        loop = asyncio.get_running_loop()
        pending = _Message(message_id, loop.create_future())
        pending.accepted.set_result(len(carrier_ids))
        for index, smsc_id in enumerate(carrier_ids):
            pdu = SubmitSm(short_message="-", log_id=message_id, extra_data=str(index))
            seg = _Segment(pending, index, pdu, smsc_id=smsc_id)
            pending.segments.append(seg)
            self._by_smsc_id[smsc_id] = seg
        # a receipt may have come on the new bind before the message was re-armed
        for smsc_id in carrier_ids:
            early = next((k for k in self._early if _same_id(k, smsc_id)), None)
            if early is not None:
                self._on_deliver(self._early.pop(early))


_EARLY_RECEIPTS = 1000
# receipt states that are not a message's last word
NOT_FINAL = frozenset({"ENROUTE", "SCHEDULED", "BUFFRED", "BUFFERED"})
_RECEIPT_ID = re.compile(r"\bid:(\S+)", re.IGNORECASE)
_RECEIPT_STAT = re.compile(r"\bstat:(\w+)", re.IGNORECASE)
_RECEIPT_DONE = re.compile(r"\bdone date:(\d{10}(?:\d{2})?)", re.IGNORECASE)


def _receipt_text(deliver: DeliverSm) -> str:
    return str(deliver.short_message or deliver.message_payload or "")


def parse_receipt(deliver: DeliverSm) -> tuple[str, str, datetime]:
    """(SMSC message id, final state, when) of a delivery receipt: the receipted_message_id
    TLV or the text's `id:`, the text's `stat:` (else the message_state TLV) and its
    `done date:` (YYMMDDhhmm[ss], taken as UTC; else now). Tolerant of odd fields."""
    text = _receipt_text(deliver)
    smsc_id = ""
    state: int | None = None
    for param in deliver.optional_params or []:
        if param.tag == _RECEIPTED_MESSAGE_ID and param.value:
            smsc_id = str(param.value).rstrip("\x00")
        elif param.tag == _MESSAGE_STATE_TLV and isinstance(param.value, int):
            state = param.value
    if not smsc_id and (m := _RECEIPT_ID.search(text)):
        smsc_id = m.group(1)
    if m := _RECEIPT_STAT.search(text):
        stat = m.group(1).upper()
    else:
        stat = _MESSAGE_STATES.get(state or 7, "UNKNOWN")
    at = datetime.now(UTC)
    if m := _RECEIPT_DONE.search(text):
        digits = m.group(1)
        with contextlib.suppress(ValueError):
            at = datetime.strptime(digits, "%y%m%d%H%M%S" if len(digits) == 12 else "%y%m%d%H%M")
            at = at.replace(tzinfo=UTC)
    return smsc_id, stat, at


_MESSAGE_STATE_TLV = 0x0427
_MESSAGE_STATES = {
    1: "ENROUTE",
    2: "DELIVRD",
    3: "EXPIRED",
    4: "DELETED",
    5: "UNDELIV",
    6: "ACCEPTD",
    7: "UNKNOWN",
    8: "REJECTD",
}


def _receipt_text_from_tlvs(body: bytes) -> bytes | None:
    """A deliver_sm body whose receipt is only in TLVs (receipted_message_id, message_state)
    with the receipt text written into its empty short_message: aiosmpplib refuses a
    deliver_sm without text. None when the body needs no change or isn't understood."""
    try:
        i = body.index(0) + 1  # service_type
        for _ in range(2):  # source then destination: ton, npi, address
            i = body.index(0, i + 2) + 1
        esm_class = body[i]
        i += 3
        for _ in range(2):  # schedule_delivery_time, validity_period
            i = body.index(0, i) + 1
        sm_length_at = i + 4
        if not esm_class & 0x04 or body[sm_length_at] != 0:
            return None
        tlvs: dict[int, bytes] = {}
        j = sm_length_at + 1
        while j + 4 <= len(body):
            tag, length = struct.unpack_from("!HH", body, j)
            tlvs[tag] = body[j + 4 : j + 4 + length]
            j += 4 + length
    except (ValueError, IndexError, struct.error):
        return None
    if 0x0424 in tlvs or _RECEIPTED_MESSAGE_ID not in tlvs:  # message_payload carries text
        return None
    smsc_id = tlvs[_RECEIPTED_MESSAGE_ID].rstrip(b"\x00").decode("ascii", "replace")
    state = tlvs.get(_MESSAGE_STATE_TLV, b"\x07")
    stat = _MESSAGE_STATES.get(state[0] if state else 7, "UNKNOWN")
    text = f"id:{smsc_id} stat:{stat}".encode("ascii")
    return body[:sm_length_at] + bytes((len(text),)) + text + body[sm_length_at + 1 :]


def _status_name(status: int) -> str:
    if status in _KNOWN_STATUSES:
        return str(SmppCommandStatus(status).name)
    return f"0x{status:08X}"


def _same_id(a: str, b: str) -> bool:
    if a.lower() == b.lower():
        return True
    # some SMSCs answer submit_sm in hex and report in decimal (or the other way round)
    with contextlib.suppress(ValueError):
        return int(a, 16) == int(b) or int(a) == int(b, 16) or int(a) == int(b)
    return False


class _Esme(_LibEsme):
    """aiosmpplib's ESME, telling the transport when a session is bound."""

    def __init__(self, transport: SmppTransport) -> None:
        config = transport.config
        self.requests = _Correlator(transport)
        super().__init__(
            smsc_host=config.host,
            smsc_port=config.port,
            system_id=config.system_id,
            password=config.password,
            system_type=config.system_type,
            bind_mode=BindMode.TRANSCEIVER,
            enquire_link_interval=float(config.enquire_link_s),
            socket_timeout=float(config.response_timeout_s),
            log_handler=_Forward(),
            log_level=logging.INFO,
            hook=_Hook(transport),
            broker=_Outbox(transport),
            throttle_handler=_NoThrottle(),
            correlator=self.requests,
            retry_timer=_Backoff(config.reconnect_min_s, config.reconnect_max_s),
        )
        self._transport = transport

    async def connect(self) -> None:
        self._transport._on_unbound()
        await super().connect()
        self._transport._on_bound()

    async def _handle_request(self, pdu: bytes, header: PduHeader) -> SmppMessage | None:
        try:
            result: SmppMessage | None = await super()._handle_request(pdu, header)
            return result
        except ValueError:
            # aiosmpplib's own reading of a receipt text is strict (a non-decimal err: code
            # raises) and the error would drop the session, after which the SMSC sends the
            # same receipt again: such a receipt is read with our tolerant parser instead
            if header.smpp_command != SmppCommand.DELIVER_SM:
                raise
            deliver = DeliverSm.from_pdu(pdu, header, self.default_encoding, self.custom_codecs)
            self._transport._on_deliver(deliver)
            await self._send_data(DeliverSmResp(sequence_num=header.sequence_num))
            return None

    async def _get_pdu(self) -> tuple[bytes, PduHeader]:
        # aiosmpplib turns a command_status or command_id outside its enums (the 0x400-0x4FF
        # range is the SMSC vendors' own) into a ValueError that drops the session, after
        # which the refused submit_sm would be resent for ever: such a status is handed on
        # as ESME_RUNKNOWNERR with the real code kept aside, such a command answered with
        # generic_nack and skipped
        assert self._reader is not None
        while True:
            header = await self._reader.readexactly(16)
            length, command_id, status, sequence = struct.unpack("!IIII", header)
            if length < 16:
                raise ValueError(f"PDU length {length}")
            body = await self._reader.readexactly(length - 16)
            if command_id not in _KNOWN_COMMANDS:
                log.warning("SMSC sent unknown command 0x%08X; ignored", command_id)
                if not command_id & 0x80000000:
                    nack = GenericNack(
                        sequence_num=sequence, command_status=SmppCommandStatus.ESME_RINVCMDID
                    )
                    await self._send_data(nack)
                continue
            if command_id == SmppCommand.DELIVER_SM:
                patched = _receipt_text_from_tlvs(body)
                if patched is not None:
                    body = patched
                    header = struct.pack("!I", 16 + len(body)) + header[4:]
            if status not in _KNOWN_STATUSES:
                self._transport._vendor_status[sequence] = status
                unknown = struct.pack("!I", SmppCommandStatus.ESME_RUNKNOWNERR)
                header = header[:8] + unknown + header[12:]
            return header + body, SmppMessage.parse_header(header)


class _Forward(logging.Handler):
    """The library's structured log into ours."""

    def emit(self, record: logging.LogRecord) -> None:
        logging.getLogger("voxcast.messaging.smpp.esme").handle(record)


class _Outbox(AbstractBroker):
    def __init__(self, transport: SmppTransport) -> None:
        self._transport = transport

    async def enqueue(self, message: SmppMessage) -> None:
        # the library's own queueing path is never used: segments, window and resends are ours
        raise RuntimeError("SMPP messages are queued by SmppTransport.submit, not the library")

    async def dequeue(self) -> SmppMessage:
        return await self._transport._next_pdu()


class _Hook(AbstractHook):
    def __init__(self, transport: SmppTransport) -> None:
        self._transport = transport

    async def sending(self, smpp_message: SmppMessage, pdu: bytes, client_id: str) -> None:
        self._transport._on_sending(smpp_message)

    async def received(self, smpp_message: SmppMessage | None, pdu: bytes, client_id: str) -> None:
        if isinstance(smpp_message, SubmitSmResp | GenericNack):
            self._transport._on_response(smpp_message)
        elif isinstance(smpp_message, DeliverSm):
            self._transport._on_deliver(smpp_message)

    async def send_error(self, smpp_message: SmppMessage, error: Exception, client_id: str) -> None:
        # a transport error drops the session and the rebind resends the segment
        log.info("SMPP send error: %r", error)
        self._transport._on_send_error(smpp_message, error)


class _NoThrottle(AbstractThrottleHandler):
    # pacing after ESME_RTHROTTLED is the outbox's job
    async def throttled(self) -> None:
        return None

    async def not_throttled(self) -> None:
        return None

    async def allow_request(self) -> bool:
        return True

    async def throttle_delay(self) -> float:
        return 0.0


class _Correlator(AbstractCorrelator):
    """Requests by sequence number for the current session only; segments and receipts are
    matched by the transport itself."""

    def __init__(self, transport: SmppTransport) -> None:
        self._transport = transport
        self._store: dict[int, SmppMessage] = {}

    def forget(self) -> None:
        """A new session: the old one's sequence numbers mean nothing any more."""
        self._store.clear()

    def get_cumulated_status(self, ref_num: int) -> int:
        return 0

    async def expired(self, smpp_message: SmppMessage) -> None:
        return None

    async def put(self, smpp_message: SmppMessage) -> None:
        self._store[smpp_message.sequence_num] = smpp_message

    async def put_delivery(self, smsc_message_id: str, submit_sm: SubmitSm) -> None:
        return None

    async def put_delivery_segmented(self, deliver_sm: DeliverSm) -> DeliverSm | None:
        return deliver_sm

    async def get(self, response: SmppMessage) -> SmppMessage | None:
        return self._store.pop(response.sequence_num, None)

    async def get_segmented(
        self, smpp_seq_num: int, remove: bool = False
    ) -> tuple[SegmentStatus | None, int]:
        return None, 0

    async def get_delivery(self, receipt: DeliverSm) -> SubmitSm | None:
        seg = self._transport._segment_of(receipt)
        return seg.pdu if seg is not None else None


class _Backoff(AbstractRetryTimer):
    """Rebind at once after a drop, then double the delay up to the maximum."""

    def __init__(self, min_s: float, max_s: float) -> None:
        self._min = min_s
        self._max = max_s
        self._next = 0.0

    async def wait(self) -> None:
        if self._next == 0.0:
            self._next = self._min
            return
        await asyncio.sleep(self._next)
        self._next = min(self._max, self._next * 2)

    def reset(self) -> None:
        self._next = 0.0

    def next_delay(self) -> float:
        return self._next


__all__ = ["TEMPORARY_STATUSES", "SmppTransport", "SmscConfig"]
