"""Voice file upload and the list of uploaded files."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field, field_validator

from voxcast.api.base import Current, Size, VendorModel, page_body, storable_text
from voxcast.api.deps import CurrentAccount, Rt
from voxcast.api.envelope import Family, ok
from voxcast.api.routing import VendorRoute, envelope
from voxcast.services import files

router = APIRouter(route_class=VendorRoute, tags=["voice files"])


class FileUpload(VendorModel):
    fileName: str = Field(min_length=5, max_length=32, description="name with extension, unique")
    # no min_length: an empty file is a content error (-21, "the file is empty"), not a
    # parameter error
    file: str = Field(description="base64 of the audio file")

    _text = field_validator("fileName", mode="before")(storable_text)


@router.post("/voice/fileUpload", openapi_extra=envelope(Family.STATUS))
async def file_upload(
    req: FileUpload,
    account: CurrentAccount,
    rt: Rt,
) -> dict[str, Any]:
    """Store a voice file; `data` is its voiceFileId."""
    async with rt.sessions.begin() as session:
        file_id = await files.store_upload(
            session,
            account_id=account.id,
            file_name=req.fileName,
            content_b64=req.file,
            now=rt.clock.now(),
            max_bytes=rt.settings.max_upload_bytes,
        )
    return ok(Family.STATUS, file_id)


class FileQuery(VendorModel):
    current: Current = Field(
        default=1, description="Page number, from 1 (default 1; null is the default)"
    )
    size: Size = Field(default=25, description="Page size, 1-100 (default 25; null is the default)")
    # the file list is account-wide: the vendor's page has no params, its Java SDK sends
    # `"params":null`, and anything sent there is ignored
    params: dict[str, Any] | None = Field(
        default=None,
        description="Ignored (the vendor's SDK sends null): the list is the whole account's",
    )


@router.post("/voice/fileQuery", openapi_extra=envelope(Family.STATUS))
async def file_query(req: FileQuery, account: CurrentAccount, rt: Rt) -> dict[str, Any]:
    """The account's uploaded voice files, newest first: {fileId, fileName}."""
    async with rt.readonly() as session:
        rows, total = await files.page_files(session, account.id, req.current, req.size)
    records: list[object] = [{"fileId": fid, "fileName": name} for fid, name in rows]
    return ok(Family.STATUS, page_body(records, total, req.current, req.size, search_count=False))
