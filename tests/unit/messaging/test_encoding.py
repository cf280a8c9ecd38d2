"""GSM-7 / UCS-2 choice and segmentation of SMS texts (voxcast.messaging.encoding)."""

from __future__ import annotations

import pytest

from voxcast.messaging.encoding import (
    DATA_CODING_GSM7,
    DATA_CODING_UCS2,
    ESM_CLASS_UDHI,
    gsm7_decode,
    gsm7_encode,
    is_gsm7,
    parse_udh,
    segment,
)


def _reassemble(segments: list) -> str:
    parts = sorted((parse_udh(s.payload) for s in segments), key=lambda u: u[2])
    coding = segments[0].data_coding
    return "".join(
        gsm7_decode(body) if coding == DATA_CODING_GSM7 else body.decode("utf-16-be")
        for _, _, _, body in parts
    )


def test_gsm7_alphabet() -> None:
    assert is_gsm7("Hello @£$¥ èé ΔΦ ÆØÅ {[€]}~|^\\")
    assert not is_gsm7("ç")  # lower-case c cedilla is not in GSM 03.38 (only Ç)
    assert not is_gsm7("中文")
    assert not is_gsm7("emoji 🙂")


def test_gsm7_round_trip_and_escape() -> None:
    text = "Price: 5€ {ok}"
    data = gsm7_encode(text)
    assert data.count(0x1B) == 3  # €, { and } each cost an escape
    assert len(data) == len(text) + 3
    assert gsm7_decode(data) == text
    assert gsm7_encode("@") == b"\x00"


@pytest.mark.parametrize(("length", "count"), [(1, 1), (160, 1), (161, 2), (306, 2), (307, 3)])
def test_gsm7_segment_counts(length: int, count: int) -> None:
    segs = segment("a" * length, ref=7)
    assert len(segs) == count
    assert {s.data_coding for s in segs} == {DATA_CODING_GSM7}
    if count == 1:
        assert segs[0].esm_class == 0 and segs[0].payload == b"a" * length
    else:
        assert {s.esm_class for s in segs} == {ESM_CLASS_UDHI}
        assert all(len(s.payload) <= 6 + 153 for s in segs)
        assert _reassemble(segs) == "a" * length


@pytest.mark.parametrize(("length", "count"), [(70, 1), (71, 2), (134, 2), (135, 3)])
def test_ucs2_segment_counts(length: int, count: int) -> None:
    text = "中" * length
    segs = segment(text, ref=9)
    assert len(segs) == count
    assert {s.data_coding for s in segs} == {DATA_CODING_UCS2}
    if count > 1:
        assert all(len(s.payload) <= 6 + 134 for s in segs)
        assert _reassemble(segs) == text
    else:
        assert segs[0].payload == text.encode("utf-16-be")


def test_udh_header() -> None:
    segs = segment("x" * 400, ref=300)
    assert [s.payload[:6] for s in segs] == [
        bytes([5, 0, 3, 300 % 256, 3, seq]) for seq in (1, 2, 3)
    ]


def test_extension_char_counts_two_and_never_straddles() -> None:
    # 159 septets plus a two-septet € is 161: too long for one message
    assert len(segment("a" * 159 + "€", ref=1)) == 2
    assert len(segment("a" * 158 + "€", ref=1)) == 1
    text = "a" * 152 + "€" + "b" * 10
    segs = segment(text, ref=1)
    first_body = parse_udh(segs[0].payload)[3]
    assert first_body == b"a" * 152  # the € moved whole into the second segment
    assert _reassemble(segs) == text


def test_surrogate_pairs_stay_together() -> None:
    text = "a" * 66 + "🙂" + "b" * 10
    segs = segment(text, ref=1)
    assert len(segs) == 2
    assert _reassemble(segs) == text


def test_one_non_gsm_char_makes_the_whole_text_ucs2() -> None:
    segs = segment("Hello ç", ref=1)
    assert segs[0].data_coding == DATA_CODING_UCS2


def test_empty_and_too_long() -> None:
    with pytest.raises(ValueError):
        segment("", ref=1)
    with pytest.raises(ValueError):
        segment("x" * 153 * 256, ref=1)
