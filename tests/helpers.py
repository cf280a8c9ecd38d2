"""Small helpers for tests: signed raw headers, AiVoice calls through the HTTP app, a hostile
spreadsheet, what makes an API answer a failure for the fuzz tests."""

from __future__ import annotations

import io
import json
import logging
import re
import zipfile
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Protocol

import httpx
import pytest

from voxcast.domain.signing import sign

#: a test that runs on SQLite only (it starts the real command or server, whose database
#: backend is not what it checks)
SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def signed_headers(api_key: str, api_secret: str, timestamp: int, **extra: str) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json;charset=UTF-8",
        "Api-Key": api_key,
        "Timestamp": str(timestamp),
        "Sign": sign(api_key, api_secret, timestamp),
    }
    headers.update(extra)
    return headers


class _Clock(Protocol):
    def now(self) -> datetime: ...


AiVoiceCall = Callable[[str, dict[str, Any]], Awaitable[Any]]


def aivoice_caller(
    http: httpx.AsyncClient, clock: _Clock, api_key: str, api_secret: str, family: str = "aivoice"
) -> AiVoiceCall:
    """`call(op, body)`: a signed POST to `/v3/<family>/<op>` that must succeed; its `data`.
    Signed on `clock` (a test server's fast clock), as the SDK would be on the server's time."""

    async def call(op: str, body: dict[str, Any]) -> Any:
        headers = signed_headers(api_key, api_secret, int(clock.now().timestamp()))
        resp = await http.post(f"/v3/{family}/{op}", content=json.dumps(body), headers=headers)
        got = resp.json()
        assert got["status"] == "0", (op, got)
        return got["data"]

    return call


def reminder_job(app_id: str, script_id: int) -> dict[str, Any]:
    """`aivoice/taskAdd`'s body: the example payment-reminder script, started by hand."""
    return {
        "appId": app_id,
        "name": "reminders",
        "dialogFlowId": script_id,
        "mode": "MANUAL",
        "dailyStartDateTime": "09:00",
        "dailyEndDateTime": "20:00",
        "robotCount": 2,
        "jobPhoneNumberId": 1,
        "redial": False,
    }


NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
DOC = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PARTS = "application/vnd.openxmlformats-officedocument.spreadsheetml"


def shared_strings_bomb(megabytes: int) -> bytes:
    """A valid two-row .xlsx whose shared-strings part unpacks to `megabytes` MB (about
    3.5 KB a megabyte zipped): read in full by any reader before the first cell."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr(
            "[Content_Types].xml",
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{PARTS}.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" '
            f'ContentType="{PARTS}.worksheet+xml"/>'
            '<Override PartName="/xl/sharedStrings.xml" '
            f'ContentType="{PARTS}.sharedStrings+xml"/></Types>',
        )
        z.writestr(
            "_rels/.rels",
            f'<Relationships xmlns="{RELS}"><Relationship Id="rId1" '
            f'Type="{DOC}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        )
        z.writestr(
            "xl/workbook.xml",
            f'<workbook xmlns="{NS}" xmlns:r="{DOC}"><sheets>'
            '<sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>',
        )
        z.writestr(
            "xl/_rels/workbook.xml.rels",
            f'<Relationships xmlns="{RELS}">'
            f'<Relationship Id="rId1" Type="{DOC}/worksheet" Target="worksheets/sheet1.xml"/>'
            f'<Relationship Id="rId2" Type="{DOC}/sharedStrings" Target="sharedStrings.xml"/>'
            "</Relationships>",
        )
        z.writestr(
            "xl/worksheets/sheet1.xml",
            f'<worksheet xmlns="{NS}"><sheetData>'
            '<row r="1"><c r="A1" t="s"><v>0</v></c></row>'
            '<row r="2"><c r="A2" t="s"><v>1</v></c></row></sheetData></worksheet>',
        )
        entry = "<si><t>" + "x" * 80 + "</t></si>"
        chunk = (entry * 10_000).encode()
        with z.open("xl/sharedStrings.xml", "w") as part:
            head = f'<sst xmlns="{NS}"><si><t>Phone</t></si><si><t>8613000000000</t></si>'
            part.write(head.encode())
            for _ in range(megabytes * 2**20 // len(chunk)):
                part.write(chunk)
            part.write(b"</sst>")
    return out.getvalue()


_CODE = re.compile(r"-?[0-9]+")


def envelope_problem(status_code: int, content: bytes) -> str | None:
    """What is wrong with one API answer, or None. The vendor answers HTTP 200 with one of its
    envelopes, whatever the request: `{"status","reason"[,"data"]}` (the balance adds its
    fields) or `{"code","msg","data"}`, the code a decimal integer in a string."""
    if status_code != 200:
        return f"HTTP {status_code}"
    try:
        body = json.loads(content)
    except ValueError:
        return "the answer is not JSON"
    if not isinstance(body, dict):
        return "the answer is not a JSON object"
    for code_key, text_key in (("status", "reason"), ("code", "msg")):
        if code_key in body:
            code, text = body[code_key], body.get(text_key)
            if not isinstance(code, str) or not _CODE.fullmatch(code):
                return f"{code_key} is not a code: {code!r}"
            if not isinstance(text, str):
                return f"no {text_key} string beside {code_key}"
            if code_key == "code" and "data" not in body:
                return "no data beside code"
            return None
    return "the answer is not a vendor envelope"


class Tracebacks(logging.Handler):
    """Collects every log record that carries an exception (a traceback in the server log):
    attach it to the root logger while requests are served."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info is not None and record.exc_info[0] is not None:
            self.records.append(record)

    def take(self) -> list[str]:
        """The tracebacks logged since the last take, formatted."""
        taken, self.records = self.records, []
        formatter = logging.Formatter()
        return [formatter.format(r) for r in taken]
