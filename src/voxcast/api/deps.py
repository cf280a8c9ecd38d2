"""FastAPI dependencies shared by the routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from voxcast.runtime import Runtime
from voxcast.storage.models import Account


def runtime(request: Request) -> Runtime:
    """The process runtime (database, clock, settings) the app was made with."""
    rt: Runtime = request.app.state.runtime
    return rt


def current_account(request: Request) -> Account:
    """The account the request was authenticated as (set by `VendorRoute`)."""
    account: Account = request.state.account
    return account


#: route parameter types: `account: CurrentAccount, rt: Rt`
CurrentAccount = Annotated[Account, Depends(current_account)]
Rt = Annotated[Runtime, Depends(runtime)]
