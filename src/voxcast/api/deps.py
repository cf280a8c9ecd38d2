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


# The dependencies are coroutines although they never wait: FastAPI runs a plain function
# dependency in a worker thread, two thread hand-offs per request (measured, bench/api.py).


async def runtime_dep(request: Request) -> Runtime:
    """`runtime` as a dependency."""
    return runtime(request)


async def current_account(request: Request) -> Account:
    """The account the request was authenticated as (set by `VendorRoute`)."""
    account: Account = request.state.account
    return account


#: route parameter types: `account: CurrentAccount, rt: Rt`
CurrentAccount = Annotated[Account, Depends(current_account)]
Rt = Annotated[Runtime, Depends(runtime_dep)]
