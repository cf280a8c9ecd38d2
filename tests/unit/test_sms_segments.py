"""How many SMS a text takes: GSM 7-bit (160, 153 per part) or UCS-2 (70, 67 per part)."""

from __future__ import annotations

import pytest

from voxcast.domain.sms import segment_count


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        ("", 1),
        ("x" * 160, 1),
        ("x" * 161, 2),
        ("x" * 306, 2),
        ("x" * 307, 3),
        ("€" * 80, 1),  # an extension character counts twice
        ("€" * 81, 2),
        ("é" * 160, 1),  # in the GSM alphabet
        ("你" * 70, 1),
        ("你" * 71, 2),
        ("你" * 134, 2),
        ("你" * 135, 3),
        ("😀" * 35, 1),  # outside the BMP: two UCS-2 units each
        ("😀" * 36, 2),
    ],
)
def test_segments(text: str, segments: int) -> None:
    assert segment_count(text) == segments
