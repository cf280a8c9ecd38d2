"""SQLAlchemy models: accounts and keys, apps, files, tasks and callees, recall flows, records."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from voxcast.storage.types import BigId, JSONText, UTCDateTime

Money = Numeric(20, 6)


class Base(DeclarativeBase):
    """Declarative base of every voxcast table."""


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128))
    balance: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    gift: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    credit: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    #: comma-separated IPs or CIDR blocks; empty means any address may call
    ip_whitelist: Mapped[str] = mapped_column(Text, default="")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    bill_period: Mapped[str] = mapped_column(String(16), default="60+60")
    max_concurrent_tasks: Mapped[int] = mapped_column(Integer, default=50)
    #: dialing limits across all of the account's tasks and all workers
    max_cps: Mapped[int] = mapped_column(Integer, default=10)
    max_channels: Mapped[int] = mapped_column(Integer, default=30)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: call-center agents the account may create (addSeatList beyond it: -36)
    max_seats: Mapped[int] = mapped_column(Integer, default=200)
    #: the SIP trunk (by name) the account's calls go through; None: the sandbox carrier
    trunk: Mapped[str | None] = mapped_column(String(64), nullable=True, default=None)
    #: the account's own voices, "LAN[:ACCENT[:GENDER]]" → voice address (docs/tts.md);
    #: None or {}: the operator's mapping and the installed defaults
    voices: Mapped[dict[str, str] | None] = mapped_column(JSONText, nullable=True, default=None)
    #: the calling-hours guard, "HH:MM-HH:MM" in each callee's local time (docs/compliance.md);
    #: None: no guard beyond the tasks' own windows
    calling_hours: Mapped[str | None] = mapped_column(String(16), nullable=True, default=None)


class Trunk(Base):
    """A SIP trunk: a carrier, a PBX or a proxy that voxcast sends calls to."""

    __tablename__ = "trunks"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    port: Mapped[int] = mapped_column(Integer, default=5060)
    transport: Mapped[str] = mapped_column(String(8), default="udp")
    username: Mapped[str | None] = mapped_column(String(128), nullable=True)
    #: encrypted with the server key, like API secrets (digest needs the password itself)
    password_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    realm: Mapped[str | None] = mapped_column(String(255), nullable=True)
    caller_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    max_channels: Mapped[int] = mapped_column(Integer, default=0)
    max_cps: Mapped[int] = mapped_column(Integer, default=0)
    codecs: Mapped[str] = mapped_column(String(32), default="pcmu,pcma")
    register: Mapped[bool] = mapped_column(Boolean, default=False)
    #: TLS trunks: paths on the worker's host (the CA to trust, our client certificate and key)
    tls_ca: Mapped[str | None] = mapped_column(Text, nullable=True)
    tls_insecure: Mapped[bool] = mapped_column(Boolean, default=False)
    tls_cert: Mapped[str | None] = mapped_column(Text, nullable=True)
    tls_key: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: SRTP with SDES keys: off, optional or mandatory
    srtp: Mapped[str] = mapped_column(String(16), default="off")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AgentGroup(Base):
    """A call-center agent group of one app (the vendor's voiceGroupId / seatGroupId)."""

    __tablename__ = "seat_groups"
    __table_args__ = (UniqueConstraint("app_id", "group_name", name="uq_seat_group_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    app_id: Mapped[str] = mapped_column(String(32))
    group_name: Mapped[str] = mapped_column(String(32))
    #: 1 longest idle, 2 fewest calls, 3 agent priority, 4 round robin
    callin_strategy: Mapped[int] = mapped_column(SmallInteger, default=4)
    #: the agent round robin (4) last offered a call to; the next call starts after it
    last_offered_seat_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: the rest of basicSetting, as given (an empty value clears a setting)
    settings: Mapped[dict[str, Any]] = mapped_column(JSONText, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Agent(Base):
    """An agent: a SIP account agents' softphones register with, and its status."""

    __tablename__ = "seats"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)  # keyId
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    app_id: Mapped[str] = mapped_column(String(32))
    group_id: Mapped[int] = mapped_column(ForeignKey("seat_groups.id"), index=True)
    #: the agent account and SIP user name, `<appId>_001`
    name: Mapped[str] = mapped_column(String(64), unique=True)
    emp_no: Mapped[str | None] = mapped_column(String(32), nullable=True)
    pet_name: Mapped[str | None] = mapped_column(String(64), nullable=True)
    display_num: Mapped[str | None] = mapped_column(String(20), nullable=True)
    ccode: Mapped[str | None] = mapped_column(String(8), nullable=True)
    #: the SIP digest password, encrypted with the server key
    password_enc: Mapped[str] = mapped_column(Text)
    enable: Mapped[bool] = mapped_column(Boolean, default=True)
    #: callinStrategy 3 offers the lower number first
    priority: Mapped[int] = mapped_column(Integer, default=1)
    #: calls the agent took on `calls_day` (a day in UTC+8), for callinStrategy 2
    calls_today: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    calls_day: Mapped[date | None] = mapped_column(Date, nullable=True)
    #: 1 offline, 2 idle, 3 busy, 4 wrap-up, 5 break
    status: Mapped[int] = mapped_column(SmallInteger, default=1)
    contact: Mapped[str | None] = mapped_column(Text, nullable=True)
    contact_expires: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: the Path (RFC 3327) of a registration through a proxy, one header value a line: the
    #: Route set of INVITEs to the agent; None for an agent registered directly
    contact_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    status_changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: the worker holding the seat busy or in wrap-up (None: free, or reserved by sendSip's
    #: intake, whose call's lease covers it), and until when unless it renews the lease
    held_by: Mapped[str | None] = mapped_column(String(96), nullable=True)
    held_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: the browser softphone's credential (cc/seat/createSdkAuthentication): SHA-256 of its
    #: secret part, and when it stops being valid; a new one replaces it
    sdk_token_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    sdk_token_expires: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: the call offered to the agent's browser softphone (services.browser_agents): written by
    #: the worker ringing it, answered or hung up by the page, wherever each runs
    browser_call: Mapped[dict[str, Any] | None] = mapped_column(JSONText, nullable=True)
    #: 0 none, 1 ringing, 2 answered, 3 hung up by the agent
    browser_state: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")


class InboundNumber(Base):
    """A number callers dial (a DID) and the agent group its calls go to (issue 11): matched
    against the user part of an inbound INVITE's Request-URI, else its To URI."""

    __tablename__ = "inbound_numbers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    app_id: Mapped[str] = mapped_column(String(32))
    group_id: Mapped[int] = mapped_column(ForeignKey("seat_groups.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CcRecord(Base):
    """A call-center call record (§4.3): a group call handed (or meant to be handed) to an
    agent. `call_session_id` is the record's id; `voice_id` ties it to the voice record."""

    __tablename__ = "cc_records"
    __table_args__ = (Index("ix_cc_records_account_start", "account_id", "call_start_time"),)

    call_session_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    app_id: Mapped[str] = mapped_column(String(32))
    task_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    voice_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    group_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    seat_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    called: Mapped[str] = mapped_column(String(20))
    called_info: Mapped[str | None] = mapped_column(Text, nullable=True)
    caller: Mapped[str | None] = mapped_column(String(32), nullable=True)
    ccode: Mapped[str | None] = mapped_column(String(8), nullable=True)
    agent_name: Mapped[str | None] = mapped_column(String(64), nullable=True)
    agent_group_name: Mapped[str | None] = mapped_column(String(32), nullable=True)
    call_duration: Mapped[int] = mapped_column(Integer, default=0)
    call_type: Mapped[int] = mapped_column(SmallInteger, default=1)
    hangup_code: Mapped[int] = mapped_column(Integer, default=0)
    hangup_reason: Mapped[int] = mapped_column(SmallInteger, default=0)
    hanging_direction: Mapped[int] = mapped_column(SmallInteger, default=3)
    no_answer_agents: Mapped[list[str]] = mapped_column(JSONText, default=list)
    base_cost: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    cost: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    abandoned: Mapped[bool] = mapped_column(Boolean, default=False)
    call_start_time: Mapped[datetime] = mapped_column(UTCDateTime)
    answer_time: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    transfer_time: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    agent_answer_time: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    call_end_time: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class PreviewFile(Base):
    """A callee list uploaded for call-center preview tasks, parsed (`/cc/preview/upload`)."""

    __tablename__ = "preview_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    #: the vendor's filePath: what submitTask names the list by
    file_path: Mapped[str] = mapped_column(String(128), unique=True)
    file_name: Mapped[str] = mapped_column(String(64))
    #: [[number, {header: value}], ...] in sheet order
    rows: Mapped[list[Any]] = mapped_column(JSONText, default=list)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[list[Any]] = mapped_column(JSONText, default=list)
    #: indexed for the sweep of expired lists (VOXCAST_PREVIEW_FILE_DAYS)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class ApiKey(Base):
    __tablename__ = "api_keys"

    api_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    #: the secret, encrypted with the server key (MD5 signing needs the secret itself)
    secret_enc: Mapped[str] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class App(Base):
    __tablename__ = "apps"

    app_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    push_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    push_secret_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    push_batch: Mapped[bool] = mapped_column(Boolean, default=False)
    #: the call center's pushes: call records (§4.3) and agent ringing events (§4.2)
    cc_push_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    ring_push_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: SMS delivery reports (§4.6) of the app's texts, sendSms and hangUpSms alike
    sms_push_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: how records and pushes show terminationCode: "sip" ("200" answered) or "zero" ("0")
    termination_style: Mapped[str] = mapped_column(String(8), default="sip", server_default="sip")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class VoiceFile(Base):
    __tablename__ = "voice_files"
    __table_args__ = (UniqueConstraint("account_id", "file_name", name="uq_voice_file_name"),)

    file_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    file_name: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: exact length of the decoded audio (voxcast.audio.normalize), in milliseconds
    duration_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: the audio as played: 8 kHz 16-bit mono PCM, decoded and resampled once at upload
    pcm: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True, nullable=True)


class StoredRecording(Base):
    """A finished call recording's audio, so any node can serve it (docs/deployment.md): its
    samples as G.711 mu-law (the call's own precision), deflated; served as a 16-bit WAV."""

    __tablename__ = "recordings"

    #: the file name links carry (`<hex id>-full.wav` or `<hex id>-customer.wav`)
    name: Mapped[str] = mapped_column(String(120), primary_key=True)
    channels: Mapped[int] = mapped_column(SmallInteger)
    audio: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class Rate(Base):
    """Price per minute by destination prefix; account_id NULL is the platform list."""

    __tablename__ = "rates"
    __table_args__ = (UniqueConstraint("account_id", "prefix", name="uq_rate_prefix"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), nullable=True)
    prefix: Mapped[str] = mapped_column(String(18))
    rate: Mapped[Decimal] = mapped_column(Money)
    description: Mapped[str] = mapped_column(String(128), default="")


class Task(Base):
    """A group-call task, an AI task, or a single API send (sendCode / sendGroup)."""

    __tablename__ = "tasks"
    __table_args__ = (
        UniqueConstraint("account_id", "task_name", name="uq_task_name"),
        Index("ix_tasks_account_created", "account_id", "created_at"),
        Index("ix_tasks_status", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    app_id: Mapped[str] = mapped_column(String(32))
    kind: Mapped[int] = mapped_column(SmallInteger)
    task_name: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[int] = mapped_column(SmallInteger, default=0)
    status_reason: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)
    voice_file_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    text: Mapped[str | None] = mapped_column(Text, nullable=True)
    lan: Mapped[str | None] = mapped_column(String(8), nullable=True)
    display_num: Mapped[str | None] = mapped_column(String(32), nullable=True)
    send_time: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    loop_count: Mapped[int] = mapped_column(Integer, default=1)
    max_calls: Mapped[int] = mapped_column(Integer, default=60)
    max_ringing_time: Mapped[int] = mapped_column(Integer, default=60)
    delay_play: Mapped[int] = mapped_column(Integer, default=0)
    delay_hangup: Mapped[int] = mapped_column(Integer, default=0)
    script_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    num_cnt: Mapped[int] = mapped_column(Integer, default=0)
    #: the validated request (camelCase), without the numbers and the base64 file
    params: Mapped[dict[str, Any]] = mapped_column(JSONText, default=dict)
    parent_task_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    recall_node_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: numbers left out at submission because a do-not-call list holds them
    dnc_skipped: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Callee(Base):
    """One number of a task: the unit the dialer claims, dials and records."""

    __tablename__ = "callees"
    __table_args__ = (
        #: `success` too: a task's counters (tasks.py `_counters`) read this index alone
        Index("ix_callees_task_state", "task_id", "state", "success"),
        Index("ix_callees_dialed_at", "dialed_at"),
        Index("ix_callees_lease", "state", "lease_until"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    #: on PostgreSQL this key is enforced by triggers instead (migration 0015): its foreign key
    #: checked each inserted row by itself, half the time of a 100,000-number COPY
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"))
    seq: Mapped[int] = mapped_column(Integer)
    callee: Mapped[str] = mapped_column(String(20))
    #: text1..text10 of numberInfoList, or calledInfo, as a JSON object
    info: Mapped[dict[str, Any] | None] = mapped_column(JSONText, nullable=True)
    state: Mapped[int] = mapped_column(SmallInteger, default=0)
    voice_id: Mapped[str | None] = mapped_column(String(32), nullable=True, unique=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    success: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    #: when the current attempt was placed; the pacing window counts these
    dialed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    sip_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    feedback: Mapped[str | None] = mapped_column(String(8), nullable=True)
    #: USD per minute, frozen at submission; NULL only on rows made before it was stored
    rate: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    #: when an agent answered the current attempt (a transfer); a DIALING callee without it is
    #: one still waiting or ringing, which proportional dialing counts across all workers
    agent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


#: the Core table, for bulk statements (an ORM insert or update of many rows is much slower,
#: and an ORM update with many parameter sets means "by primary key")
CALLEES = cast(Table, Callee.__table__)


class RecallFlow(Base):
    __tablename__ = "recall_flows"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"), index=True)
    recall_type: Mapped[int] = mapped_column(SmallInteger)
    recall_interval: Mapped[int] = mapped_column(Integer)
    recall_num: Mapped[int] = mapped_column(Integer)
    finish_num: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[int] = mapped_column(SmallInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: AI recall flows' recallIntent: a round calls again only the callees whose last call
    #: ended on one of these intent levels (None: by recallType alone)
    recall_intents: Mapped[list[str] | None] = mapped_column(JSONText, nullable=True)


class RecallNode(Base):
    __tablename__ = "recall_nodes"
    __table_args__ = (UniqueConstraint("flow_id", "seq", name="uq_recall_node_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    flow_id: Mapped[int] = mapped_column(ForeignKey("recall_flows.id"))
    seq: Mapped[int] = mapped_column(Integer)
    task_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status: Mapped[int] = mapped_column(SmallInteger, default=0)
    #: per-node overrides (source, prompt, hang-up SMS, seat transfer) in camelCase
    params: Mapped[dict[str, Any]] = mapped_column(JSONText, default=dict)
    run_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class CallRecord(Base):
    """A call detail record with every field of the vendor's voice status report."""

    __tablename__ = "call_records"
    __table_args__ = (
        # newest first, ties by voice_id: the console's records pages walk these in order, and
        # a deep page skips its offset in the index alone (overview.record_page); with the
        # number and the answer time, the number and outcome filters and their counts read
        # the index without the rows
        Index(
            "ix_records_account_submit",
            "account_id",
            "submit_time",
            "voice_id",
            "callee",
            "answer_time",
        ),
        Index("ix_records_task_submit", "task_id", "submit_time", "voice_id"),
    )

    voice_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    app_id: Mapped[str] = mapped_column(String(32))
    task_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    callee_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    type: Mapped[int] = mapped_column(SmallInteger)
    callee: Mapped[str] = mapped_column(String(20))
    display_num: Mapped[str | None] = mapped_column(String(32), nullable=True)
    code: Mapped[str] = mapped_column(String(128), default="")
    submit_time: Mapped[datetime] = mapped_column(UTCDateTime)
    call_time: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ringing_time: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    answer_time: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    hangup_time: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    call_duration: Mapped[int] = mapped_column(Integer, default=0)
    ring_duration: Mapped[int] = mapped_column(Integer, default=0)
    charged_duration: Mapped[int] = mapped_column(Integer, default=0)
    bill_period: Mapped[str] = mapped_column(String(16), default="")
    rate: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    base_cost: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    cost: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    termination_code: Mapped[str] = mapped_column(String(8), default="")
    termination_reason: Mapped[str] = mapped_column(String(128), default="")
    sip_code: Mapped[str] = mapped_column(String(8), default="")
    feedback_value: Mapped[str] = mapped_column(String(8), default="-1")
    called_info: Mapped[str | None] = mapped_column(Text, nullable=True)
    voice_file_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    out_recall_count: Mapped[int] = mapped_column(Integer, default=0)
    #: a click-to-call's (voice/sendSip) phone: its group and name when the call was made
    sip_group_name: Mapped[str | None] = mapped_column(String(32), nullable=True)
    phone_name: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: answering-machine detection (a task's amd=1): HUMAN, MACHINE or NOTSURE, and its cause
    amd_result: Mapped[str | None] = mapped_column(String(8), nullable=True)
    amd_cause: Mapped[str | None] = mapped_column(String(40), nullable=True)
    #: a robot's call: its conversation (docs/ai.md), what the AI call-record push reports
    conversation: Mapped[dict[str, Any] | None] = mapped_column(JSONText, nullable=True)
    #: a recorded call (enableRecording=1): its WAV files' names under `<data dir>/recordings`,
    #: both sides (stereo) and the callee's alone (docs/recordings.md)
    recording_full: Mapped[str | None] = mapped_column(String(120), nullable=True)
    recording_customer: Mapped[str | None] = mapped_column(String(120), nullable=True)
    #: which attempt at its callee's number the call was (1 the first; an AiVoice task records
    #: every attempt); None in rows written before 0025
    attempt: Mapped[int | None] = mapped_column(Integer, nullable=True)


class Push(Base):
    """The durable outbox: one row per push to deliver, retried until delivered or dead."""

    __tablename__ = "pushes"
    __table_args__ = (Index("ix_pushes_due", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(Integer)
    app_id: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(32))
    #: what receivers dedupe on (the voiceId of a call record)
    dedupe_key: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONText)
    state: Mapped[int] = mapped_column(SmallInteger, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class SmsMessage(Base):
    """A text to a callee: sent through the API (sendSms) or after a call (hangUpSms, a robot
    script's texts), then claimed by an SMS sender, submitted through the SMS transport and
    settled by its receipt."""

    __tablename__ = "sms_messages"
    __table_args__ = (
        Index("ix_sms_account_created", "account_id", "created_at"),
        Index("ix_sms_status_send_at", "status", "send_at"),
        UniqueConstraint("msg_id", name="uq_sms_messages_msg_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    #: the msgId callers see (19 digits, the vendor's shape)
    msg_id: Mapped[str] = mapped_column(String(32))
    account_id: Mapped[int] = mapped_column(Integer)
    #: the app whose SMS push URL gets the delivery report
    app_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    #: api (sendSms), hangup (a task's hangUpSms) or script (a robot script's sms action)
    origin: Mapped[str] = mapped_column(String(8), default="hangup", server_default="hangup")
    order_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    task_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    voice_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    sms_app_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    sender_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    number: Mapped[str] = mapped_column(String(20))
    content: Mapped[str] = mapped_column(Text)
    trigger: Mapped[str] = mapped_column(String(16))
    send_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: pending, submitted, delivered, failed (the receipt said so), rejected (refused at submit)
    status: Mapped[str] = mapped_column(String(12), default="pending", server_default="pending")
    segments: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: the carrier's id of each segment (the SMSC's message_id), as its receipts name them:
    #: how a sender started after a restart matches receipts of texts submitted before
    carrier_ids: Mapped[list[str] | None] = mapped_column(JSONText, nullable=True)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: when the receipt's final state was reached (the carrier's time)
    receive_time: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: the final state in SMPP's words (DELIVRD, UNDELIV, ...) or why it was refused
    stat: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: wall time until which one sender holds the message (claim/lease, like the push outbox)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SmscConnection(Base):
    """An SMSC the SMPP transport binds to (`voxcast admin smsc add`); none: the sandbox."""

    __tablename__ = "smsc_connections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    host: Mapped[str] = mapped_column(String(255))
    port: Mapped[int] = mapped_column(Integer)
    system_id: Mapped[str] = mapped_column(String(16))
    #: encrypted with the server key, like trunk passwords
    password_enc: Mapped[str] = mapped_column(Text)
    system_type: Mapped[str] = mapped_column(String(13), default="", server_default="")
    #: submit_sm PDUs in flight at once
    window: Mapped[int] = mapped_column(Integer, default=10, server_default="10")
    #: submit_sm per second at most
    rate: Mapped[int] = mapped_column(Integer, default=50, server_default="50")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DncNumber(Base):
    """A number on a do-not-call list: an app's (app_id) or the whole account's (app_id "")."""

    __tablename__ = "dnc_numbers"
    __table_args__ = (UniqueConstraint("account_id", "app_id", "number", name="uq_dnc_number"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    app_id: Mapped[str] = mapped_column(String(32), default="")
    #: E.164, with its plus sign
    number: Mapped[str] = mapped_column(String(20))
    #: how it got there: api, import, key
    source: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DncAudit(Base):
    """Every change of a do-not-call list: who, when, from where."""

    __tablename__ = "dnc_audit"
    __table_args__ = (Index("ix_dnc_audit_account_at", "account_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(Integer)
    app_id: Mapped[str] = mapped_column(String(32), default="")
    number: Mapped[str] = mapped_column(String(20))
    #: add or remove
    action: Mapped[str] = mapped_column(String(8))
    source: Mapped[str] = mapped_column(String(16))
    #: the API key, the operator's CLI user, or the task and call of a key press
    actor: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
