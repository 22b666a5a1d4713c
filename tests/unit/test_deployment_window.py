"""The Cron of a DeploymentWindow rule: CodePipeline's Seconds field, then AWS's cron fields read as schedules read
them, matched against one wall-clock minute at a time."""

from __future__ import annotations

from datetime import datetime

import pytest

from conveyor.schedules.cron_fields import ExpressionError, window_fields


def inside(cron: str, *minutes: str) -> list[bool]:
    window = window_fields(cron)
    return [window.matches(datetime.fromisoformat(minute)) for minute in minutes]


def test_office_hours_on_weekdays() -> None:
    cron = "* * 9-17 ? * MON-FRI"
    # Friday 17:59 in, Friday 18:00 out, Saturday 10:00 out, Monday 09:00 in
    assert inside(cron, "2026-11-27T17:59", "2026-11-27T18:00", "2026-11-28T10:00", "2026-11-30T09:00") == [
        True,
        False,
        False,
        True,
    ]


def test_days_of_the_week_count_from_sunday_as_one() -> None:
    assert inside("* * * ? * 1", "2026-11-29T12:00", "2026-11-30T12:00") == [True, False]  # Sunday, Monday
    assert inside("* * * ? * 2-6", "2026-11-29T12:00", "2026-11-30T12:00") == [False, True]


def test_the_last_day_last_weekday_and_nth_weekday_of_a_month() -> None:
    assert inside("* * * L * ?", "2026-02-28T08:00", "2026-02-27T08:00") == [True, False]
    # LW: the month's last Monday-to-Friday day; 2026-01-31 is a Saturday, so Friday the 30th
    assert inside("* * * LW * ?", "2026-01-30T08:00", "2026-01-31T08:00") == [True, False]
    # 15W: the weekday nearest the 15th; 2026-11-15 is a Sunday, so Monday the 16th
    assert inside("* * * 15W * ?", "2026-11-16T08:00", "2026-11-15T08:00") == [True, False]
    # 6#2: the second Friday; 6L: the last Friday
    assert inside("* * * ? * 6#2", "2026-11-13T08:00", "2026-11-06T08:00") == [True, False]
    assert inside("* * * ? * 6L", "2026-11-27T08:00", "2026-11-20T08:00") == [True, False]


def test_the_optional_year() -> None:
    assert inside("* * * ? * * 2026-2027", "2026-06-01T00:00", "2028-06-01T00:00") == [True, False]
    assert inside("* * * ? * *", "2199-06-01T00:00") == [True]


def test_a_star_beside_a_restricted_day_stands_for_question_mark() -> None:
    assert inside("* * * * * MON", "2026-11-30T00:00", "2026-12-01T00:00") == [True, False]
    assert inside("* * * 1 * *", "2026-12-01T00:00", "2026-12-02T00:00") == [True, False]
    assert inside("* * * * * *", "2026-12-02T00:00") == [True]


@pytest.mark.parametrize(
    ("cron", "message"),
    [
        ("* * * ? *", "give 6 or 7 fields (Seconds Minutes Hours Day-of-month Month Day-of-week Year, the Year"),
        ("0 * * ? * *", "Seconds: only '*' goes here, not '0'"),
        ("* 60 * ? * *", "Minutes: 60 is out of range 0-59"),
        ("* * * 1 * MON", "one of Day-of-month and Day-of-week must be '?'"),
        ("* * * ? * 8", "Day-of-week: 8 is out of range 1-7"),
        ("* * * ? * * 2200", "Year: 2200 is out of range 1970-2199"),
    ],
)
def test_a_window_that_cannot_be_read_says_which_field_and_why(cron: str, message: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        window_fields(cron)
    assert str(caught.value).startswith(f"invalid deployment window Cron {cron!r}: ")
    assert message in str(caught.value)
