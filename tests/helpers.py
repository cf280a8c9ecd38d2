"""Small helpers for tests: signed raw headers, a hostile spreadsheet."""

from __future__ import annotations

import io
import zipfile

from voxcast.domain.signing import sign


def signed_headers(api_key: str, api_secret: str, timestamp: int, **extra: str) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json;charset=UTF-8",
        "Api-Key": api_key,
        "Timestamp": str(timestamp),
        "Sign": sign(api_key, api_secret, timestamp),
    }
    headers.update(extra)
    return headers


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
