"""The vendor's three response envelopes and the helpers that build them.

Families differ by endpoint (see docs/api-compat.md): most voice and call-center endpoints answer
`{"status","reason","data"}`, group-call task management answers `{"code","msg","data"}`, and the
balance puts its fields at the top level. HTTP status is always 200, as the vendor does.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from fastapi.responses import JSONResponse

from voxcast.domain.codes import ApiError, Code


class Family(StrEnum):
    STATUS = "status"  # {"status":"0","reason":"success","data":...}
    CODE = "code"  # {"code":"0","msg":"success","data":...}
    BALANCE = "balance"  # {"status":"0","reason":"success","balance":...}


def body(family: Family, code: Code, reason: str, data: Any = None) -> dict[str, Any]:
    if family is Family.CODE:
        return {"code": code.value, "msg": reason, "data": data}
    if family is Family.BALANCE:
        out: dict[str, Any] = {"status": code.value, "reason": reason}
        if isinstance(data, dict):
            out.update(data)
        return out
    return {"status": code.value, "reason": reason, "data": data}


def ok(family: Family, data: Any = None) -> dict[str, Any]:
    return body(family, Code.SUCCESS, "success", data)


def error_response(family: Family, err: ApiError) -> JSONResponse:
    return JSONResponse(body(family, err.code, err.reason), status_code=200)
