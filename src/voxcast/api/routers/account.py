"""Account endpoints: balance."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from voxcast.api.deps import CurrentAccount
from voxcast.api.envelope import Family, ok
from voxcast.api.routing import VendorRoute, envelope

router = APIRouter(route_class=VendorRoute, tags=["account"])


def _money(value: object) -> str:
    return f"{value:.6f}"


@router.get("/getBalance", openapi_extra=envelope(Family.BALANCE))
@router.post("/getBalance", openapi_extra=envelope(Family.BALANCE), include_in_schema=False)
@router.get("/sms/getBalance", openapi_extra=envelope(Family.BALANCE), include_in_schema=False)
async def get_balance(account: CurrentAccount) -> dict[str, Any]:
    """Balance, gift and credit as strings with six decimals, at the top level."""
    return ok(
        Family.BALANCE,
        {
            "balance": _money(account.balance),
            "gift": _money(account.gift),
            "credit": _money(account.credit),
        },
    )
