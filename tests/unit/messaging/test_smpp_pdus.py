"""The SMPP client's guard against what aiosmpplib can't parse: vendor status codes and
unknown commands must not drop the session (voxcast.messaging.smpp)."""

from __future__ import annotations

import asyncio
import struct

import pytest

from voxcast.messaging.smpp import SmppTransport, SmscConfig, _status_name
from voxcast.ports import OutgoingSms, SmsRejected


def _transport() -> SmppTransport:
    return SmppTransport(SmscConfig("127.0.0.1", 1, "id", "pw"))


async def test_vendor_status_is_read_as_unknown_error_and_kept() -> None:
    t = _transport()
    reader = asyncio.StreamReader()
    body = b"abc\x00"
    # a submit_sm_resp with the vendor code 0x401, sequence 7
    reader.feed_data(struct.pack("!IIII", 16 + len(body), 0x80000004, 0x401, 7) + body)
    t._esme._reader = reader
    pdu, header = await t._esme._get_pdu()
    assert header.command_status.value == 0xFF and header.sequence_num == 7
    assert pdu.endswith(body)
    assert t._vendor_status == {7: 0x401}
    assert _status_name(0x401) == "0x00000401"
    assert _status_name(0x58) == "ESME_RTHROTTLED"


async def test_unknown_response_command_is_skipped() -> None:
    t = _transport()
    reader = asyncio.StreamReader()
    reader.feed_data(struct.pack("!IIII", 16, 0x80000999, 0, 3))  # no such response
    reader.feed_data(struct.pack("!IIII", 16, 0x80000015, 0, 4))  # enquire_link_resp
    t._esme._reader = reader
    _, header = await t._esme._get_pdu()
    assert header.sequence_num == 4


async def test_addresses_smpp_cannot_carry_are_refused() -> None:
    t = _transport()
    try:
        with pytest.raises(SmsRejected):
            await t.submit(OutgoingSms("m", "49151", "Sénder", "hi"))
        with pytest.raises(SmsRejected):
            await t.submit(OutgoingSms("m", "", "V", "hi"))
    finally:
        await t.close()


def test_config_from_url() -> None:
    c = SmscConfig.from_url(
        "smpp://voxcast:p%40ss@smsc.example:2776?window=4&rate_per_s=12.5&system_type=VMA"
        "&source_addr_ton=5&extra_temporary_statuses=0x401,0x402"
    )
    assert (c.host, c.port, c.system_id, c.password) == ("smsc.example", 2776, "voxcast", "p@ss")
    assert (c.window, c.rate_per_s, c.system_type, c.source_addr_ton) == (4, 12.5, "VMA", 5)
    assert c.extra_temporary_statuses == (0x401, 0x402)
    assert SmscConfig.from_url("smpp://a:b@h").port == 2775
    with pytest.raises(ValueError):
        SmscConfig.from_url("smpp://a:b@h?windw=3")
    with pytest.raises(ValueError):
        SmscConfig.from_url("http://a:b@h")
