"""The `scripts` table: an account's AI robot scripts, one id space for AiVoice's
`dialogFlowId` and the group call's `scriptId`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from voxcast.storage.models import Base
from voxcast.storage.types import JSONText, UTCDateTime


class ScriptRow(Base):
    """One script: the document as last validated (docs/ai.md), and its revision."""

    __tablename__ = "scripts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    #: counts the updates: 1 when added; each update stores a whole new document
    revision: Mapped[int] = mapped_column(Integer, default=1)
    document: Mapped[dict[str, Any]] = mapped_column(JSONText)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
