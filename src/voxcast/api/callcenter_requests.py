"""The request bodies of `cc/seatGroup/addGroup` and `cc/seat/addSeatList`, apart from their
router so the console checks its forms with the very same models (and words refusals alike)."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator, Field, field_validator

from voxcast.api.base import DisplayNum, Id, VendorModel, storable_text
from voxcast.services import agents

Text = Annotated[str, BeforeValidator(storable_text)]
GroupName = Annotated[Text, Field(min_length=4, max_length=32)]
CCODE = re.compile(r"^[0-9]{1,4}$")


class AddGroup(VendorModel):
    appId: Text = Field(
        min_length=1,
        max_length=32,
        description="Application id: the app the request acts in, one of the calling account's",
    )
    groupName: GroupName = Field(
        description="Name of the new agent group, 4-32 characters, unique in the app"
    )


class AddSeats(VendorModel):
    voiceGroupId: Id = Field(description="Agent group the new agents join")
    size: int = Field(
        ge=1, le=agents.MAX_AGENTS_PER_REQUEST, description="Number of agents to create"
    )
    displayNum: DisplayNum = Field(description="Caller id of the new agents' calls")
    ccode: Text | None = Field(
        default=None, description="Country calling code of the agents' calls, e.g. 91"
    )

    @field_validator("ccode")
    @classmethod
    def _ccode(cls, value: str | None) -> str | None:
        if value and not CCODE.match(value):
            raise ValueError("must be 1-4 digits (a country calling code)")
        return value
