"""Task time rules: sendTime "yyyy-MM-dd HH:mm:ss", allowSendTime "HH:mm" windows (up to 3,
crossing midnight), whether a local time is inside them, and when they next open."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from voxcast.domain import schedule
from voxcast.domain.schedule import BadWindow, Window


def w(start: str, end: str) -> dict[str, str]:
    return {"strTime": start, "endTime": end}


# -- sendTime ----------------------------------------------------------------------------------


def test_send_time_is_read_in_the_given_zone() -> None:
    at = schedule.parse_send_time("2026-03-02 18:30:00", "Asia/Shanghai")
    assert at.astimezone(UTC) == datetime(2026, 3, 2, 10, 30, tzinfo=UTC)


def test_send_time_in_utc_and_with_surrounding_spaces() -> None:
    at = schedule.parse_send_time(" 2024-06-21 00:00:00 ", "UTC")
    assert at == datetime(2024, 6, 21, tzinfo=UTC)


def test_send_time_in_an_unknown_zone_falls_back_to_utc() -> None:
    at = schedule.parse_send_time("2026-03-02 09:00:00", "Not/AZone")
    assert at.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "text",
    [
        "2026/03/02 10:00:00",
        "2026-03-02T10:00:00",
        "2026-03-02 10:00",
        "2026-3-2 10:00:00",  # Java's "MM"/"dd" need two digits
        "2026-03-02 9:00:00",
        "2026-02-30 10:00:00",  # no such day
        "2026-13-01 10:00:00",
        "2026-03-02 24:00:00",
        "2026-03-02 10:00:00.000",
        "1630468800",
        "",
    ],
)
def test_malformed_send_time_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        schedule.parse_send_time(text, "UTC")


# -- HH:mm and windows -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("00:00", time(0, 0)), ("08:05", time(8, 5)), ("8:05", time(8, 5)), ("23:59", time(23, 59))],
)
def test_hhmm_is_parsed(text: str, expected: time) -> None:
    assert schedule.parse_hhmm(text) == expected


@pytest.mark.parametrize("text", ["24:00", "12:60", "1200", "12:5", "12:00:00", "noon", ""])
def test_malformed_hhmm_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        schedule.parse_hhmm(text)


def test_windows_are_parsed_in_order() -> None:
    got = schedule.parse_windows([w("08:00", "12:00"), w("22:00", "06:00")])
    assert got == [Window(time(8), time(12)), Window(time(22), time(6))]


def test_no_windows_parse_to_an_empty_list() -> None:
    assert schedule.parse_windows(None) == [] and schedule.parse_windows([]) == []


@pytest.mark.parametrize(
    ("windows", "index", "field"),
    [
        ([w("25:00", "26:00")], 0, "strTime"),
        ([w("08:00", "09:00"), w("10:00", "1100")], 1, "endTime"),
        ([{"endTime": "09:00"}], 0, "strTime"),
        ([{"strTime": 800, "endTime": "09:00"}], 0, "strTime"),
    ],
)
def test_a_bad_window_is_named_by_index_and_field(
    windows: list[dict[str, object]], index: int, field: str
) -> None:
    with pytest.raises(BadWindow) as err:
        schedule.parse_windows(windows)
    assert (err.value.index, err.value.field) == (index, field)
    assert str(err.value) == f"allowSendTime[{index}].{field}: must be HH:mm"


def test_a_window_includes_its_start_and_excludes_its_end() -> None:
    window = Window(time(9), time(17))
    assert window.contains(time(9)) and window.contains(time(16, 59))
    assert not window.contains(time(17)) and not window.contains(time(8, 59))


def test_a_window_ending_before_it_starts_crosses_midnight() -> None:
    night = Window(time(22), time(6))
    assert night.contains(time(23, 30)) and night.contains(time(0)) and night.contains(time(5, 59))
    assert (
        not night.contains(time(6))
        and not night.contains(time(12))
        and not night.contains(time(21, 59))
    )


def test_a_window_ending_at_midnight_runs_to_the_end_of_the_day() -> None:
    evening = Window(time(18), time(0))
    assert evening.contains(time(23, 59)) and not evening.contains(time(0, 0))
    assert not evening.contains(time(17, 59))


def test_a_window_with_equal_start_and_end_is_the_whole_day() -> None:
    assert all(Window(time(8), time(8)).contains(time(h)) for h in range(24))


def test_without_windows_any_time_is_allowed() -> None:
    assert schedule.in_windows(None, time(3)) and schedule.in_windows([], time(3))


def test_time_inside_any_of_three_windows_is_allowed() -> None:
    windows = [w("08:00", "09:00"), w("12:00", "13:00"), w("23:00", "01:00")]
    allowed = [time(8, 30), time(12), time(23, 15), time(0, 30)]
    refused = [time(7, 59), time(9), time(11), time(13), time(1), time(22, 59)]
    assert all(schedule.in_windows(windows, t) for t in allowed)
    assert not any(schedule.in_windows(windows, t) for t in refused)


def test_the_sample_window_of_page_001() -> None:
    windows = [w("18:28", "19:28")]
    assert schedule.in_windows(windows, time(18, 28))
    assert not schedule.in_windows(windows, time(19, 28))


# -- next opening -------------------------------------------------------------------------------


def test_next_opening_is_later_today_or_tomorrow_in_the_zone() -> None:
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # 17:00 in Shanghai
    windows = [w("08:00", "09:00"), w("18:00", "19:00")]
    today = schedule.next_opening(windows, "Asia/Shanghai", now)
    assert today.astimezone(UTC) == datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    later = now + timedelta(hours=2)  # 19:00 in Shanghai: tomorrow 08:00
    tomorrow = schedule.next_opening(windows, "Asia/Shanghai", later)
    assert tomorrow.astimezone(UTC) == datetime(2026, 3, 3, 0, 0, tzinfo=UTC)


def test_next_opening_without_windows_is_now() -> None:
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert schedule.next_opening(None, "UTC", now) == now
