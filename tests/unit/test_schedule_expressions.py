"""Schedule expressions: AWS cron, rate and standard cron, in several time zones and across clock changes.

Fire times are written as wall-clock times with their UTC offset, so each vector states both what the clock shows
and which instant it is. Calendar facts used below: 2026-01-01 is a Thursday; Europe/Paris springs forward on
2026-03-29 (02:00 → 03:00) and falls back on 2026-10-25 (03:00 → 02:00); America/New_York on 2026-03-08 and
2026-11-01; Australia/Lord_Howe moves by half an hour (2026-04-05 back, 2026-10-04 forward).
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from croniter import croniter
from hypothesis import given, settings
from hypothesis import strategies as st

from conveyor.schedules.cron_fields import CronFields, ExpressionError
from conveyor.schedules.expressions import (
    CronExpression,
    RateExpression,
    Timing,
    UnknownTimeZone,
    parse_expression,
    time_zone,
    wall_to_utc,
)


def fire_times(expression: str, start: str, zone: str = "UTC", count: int = 5, anchor: str | None = None) -> list[str]:
    moment = datetime.fromisoformat(start)
    timing = Timing.parse(expression, zone, datetime.fromisoformat(anchor) if anchor else moment)
    return [t.astimezone(timing.zone).isoformat() for t in timing.fire_times(moment, count)]


def day(date: str, times: str, offset: str = "+00:00") -> list[str]:
    """`day("2026-01-01", "10:00 11:00")` → the ISO times of that day at each wall-clock time."""
    return [f"{date}T{t}:00{offset}" for t in times.split()]


JAN1 = "2026-01-01T00:00:00+00:00"

AWS_VECTORS = [
    ("cron(0 10 * * ? *)", JAN1, day("2026-01-01", "10:00") + day("2026-01-02", "10:00") + day("2026-01-03", "10:00")),
    ("cron(15 12 * * ? *)", JAN1, day("2026-01-01", "12:15") + day("2026-01-02", "12:15") + day("2026-01-03", "12:15")),
    (  # Thursday, Friday, then Monday
        "cron(0 18 ? * MON-FRI *)",
        JAN1,
        day("2026-01-01", "18:00") + day("2026-01-02", "18:00") + day("2026-01-05", "18:00"),
    ),
    ("cron(0 8 1 * ? *)", JAN1, day("2026-01-01", "08:00") + day("2026-02-01", "08:00") + day("2026-03-01", "08:00")),
    ("cron(0/15 * * * ? *)", JAN1, day("2026-01-01", "00:15 00:30 00:45")),
    ("cron(1/10 * * * ? *)", JAN1, day("2026-01-01", "00:01 00:11 00:21")),
    (
        "cron(0/10 * ? * MON-FRI *)",
        "2026-01-02T23:45:00+00:00",
        day("2026-01-02", "23:50") + day("2026-01-05", "00:00"),
    ),
    (
        "cron(0/5 8-17 ? * MON-FRI *)",
        "2026-01-02T17:50:00+00:00",
        day("2026-01-02", "17:55") + day("2026-01-05", "08:00 08:05"),
    ),
    ("cron(0 9 ? * 2-6 *)", "2026-01-03T00:00:00+00:00", day("2026-01-05", "09:00") + day("2026-01-06", "09:00")),
    ("cron(0 9 ? * 1 *)", JAN1, day("2026-01-04", "09:00") + day("2026-01-11", "09:00")),  # 1 is Sunday
    ("cron(0 9 ? * 7 *)", JAN1, day("2026-01-03", "09:00") + day("2026-01-10", "09:00")),  # 7 is Saturday
    ("cron(0 9 ? * sun,sat *)", JAN1, day("2026-01-03", "09:00") + day("2026-01-04", "09:00")),
    (  # a range that wraps the week
        "cron(0 9 ? * FRI-MON *)",
        JAN1,
        [*day("2026-01-02", "09:00"), *day("2026-01-03", "09:00"), *day("2026-01-04", "09:00")],
    ),
    ("cron(0 12 L * ? *)", JAN1, day("2026-01-31", "12:00") + day("2026-02-28", "12:00") + day("2026-03-31", "12:00")),
    ("cron(0 12 L * ? 2028)", JAN1, day("2028-01-31", "12:00") + day("2028-02-29", "12:00")),
    (  # the last weekday: Saturday 31 January gives Friday 30, Saturday 28 February gives Friday 27
        "cron(0 12 LW * ? *)",
        JAN1,
        [*day("2026-01-30", "12:00"), *day("2026-02-27", "12:00"), *day("2026-03-31", "12:00")],
    ),
    ("cron(0 12 LW * ? *)", "2026-05-01T00:00:00+00:00", day("2026-05-29", "12:00")),  # 31 May is a Sunday
    (  # the weekday nearest the 15th: Sunday 15 February gives Monday 16; Saturday 15 August gives Friday 14
        "cron(0 12 15W * ? *)",
        JAN1,
        [*day("2026-01-15", "12:00"), *day("2026-02-16", "12:00"), *day("2026-03-16", "12:00")],
    ),
    ("cron(0 12 15W * ? *)", "2026-08-01T00:00:00+00:00", day("2026-08-14", "12:00")),
    ("cron(0 12 1W * ? *)", "2026-07-15T00:00:00+00:00", day("2026-08-03", "12:00")),  # never back into July
    ("cron(0 12 ? * L *)", JAN1, day("2026-01-03", "12:00") + day("2026-01-10", "12:00")),  # L: Saturday
    ("cron(0 12 ? * 6L *)", JAN1, day("2026-01-30", "12:00") + day("2026-02-27", "12:00") + day("2026-03-27", "12:00")),
    ("cron(0 12 ? * FRIL *)", JAN1, day("2026-01-30", "12:00") + day("2026-02-27", "12:00")),
    (
        "cron(0 12 ? * 3#2 *)",
        JAN1,
        day("2026-01-13", "12:00") + day("2026-02-10", "12:00") + day("2026-03-10", "12:00"),
    ),
    (
        "cron(0 12 ? * 6#5 *)",
        JAN1,
        day("2026-01-30", "12:00") + day("2026-05-29", "12:00") + day("2026-07-31", "12:00"),
    ),
    ("cron(0 12 ? * MON#1 *)", JAN1, day("2026-01-05", "12:00") + day("2026-02-02", "12:00")),
    ("cron(0 0 1 JAN,JUL ? *)", JAN1, day("2026-07-01", "00:00") + day("2027-01-01", "00:00")),  # strictly after
    (
        "cron(0 0 1 NOV-FEB ? *)",
        "2026-03-01T00:00:00+00:00",
        [*day("2026-11-01", "00:00"), *day("2026-12-01", "00:00"), *day("2027-01-01", "00:00")],
    ),
    (
        "cron(0 0 1 */4 ? *)",
        "2026-02-01T00:00:00+00:00",
        day("2026-05-01", "00:00") + day("2026-09-01", "00:00") + day("2027-01-01", "00:00"),
    ),
    (
        "cron(0 0 1 1 ? 2030/5)",
        JAN1,
        day("2030-01-01", "00:00") + day("2035-01-01", "00:00") + day("2040-01-01", "00:00"),
    ),
    ("cron(0 0 1 1 ? 2027,2031)", JAN1, day("2027-01-01", "00:00") + day("2031-01-01", "00:00")),
    ("cron(0 0 29 2 ? *)", JAN1, day("2028-02-29", "00:00") + day("2032-02-29", "00:00")),
    ("  cron(0  12 *  * ?  *) ", JAN1, day("2026-01-01", "12:00") + day("2026-01-02", "12:00")),  # spaces
]


@pytest.mark.parametrize(("expression", "start", "expected"), AWS_VECTORS)
def test_aws_cron_vectors(expression: str, start: str, expected: list[str]) -> None:
    assert fire_times(expression, start, count=len(expected)) == expected


@pytest.mark.parametrize(
    ("expression", "start", "left"),
    [
        (
            "cron(0 0 1 1 ? 2027-2029)",
            JAN1,
            day("2027-01-01", "00:00") + day("2028-01-01", "00:00") + day("2029-01-01", "00:00"),
        ),
        ("cron(59 23 31 12 ? 2199)", "2199-12-01T00:00:00+00:00", day("2199-12-31", "23:59")),  # AWS's last minute
        ("cron(0 0 31 2 ? *)", JAN1, []),  # a date that never comes
        ("cron(0 12 1 1 ? 2020)", JAN1, []),  # over
        ("cron(0 12 1 1 ? 2020)", "2019-06-01T00:00:00+00:00", day("2020-01-01", "12:00")),
    ],
)
def test_an_expression_that_ends_gives_the_times_it_has_left(expression: str, start: str, left: list[str]) -> None:
    assert fire_times(expression, start, count=5) == left


STANDARD_VECTORS = [
    ("0 12 * * 1-5", JAN1, day("2026-01-01", "12:00") + day("2026-01-02", "12:00") + day("2026-01-05", "12:00")),
    ("*/5 * * * *", JAN1, day("2026-01-01", "00:05 00:10 00:15")),
    ("0 9-17/4 * * *", JAN1, day("2026-01-01", "09:00 13:00 17:00") + day("2026-01-02", "09:00")),
    ("0 0 1 * *", JAN1, day("2026-02-01", "00:00") + day("2026-03-01", "00:00")),
    ("0 12 * * 0", JAN1, day("2026-01-04", "12:00") + day("2026-01-11", "12:00")),  # 0 is Sunday
    ("0 12 * * 7", JAN1, day("2026-01-04", "12:00") + day("2026-01-11", "12:00")),  # and so is 7
    ("0 12 * * SUN", JAN1, day("2026-01-04", "12:00") + day("2026-01-11", "12:00")),
    ("0 12 * JAN-FEB Mon", JAN1, day("2026-01-05", "12:00") + day("2026-01-12", "12:00")),
    (  # day-of-month and day-of-week both restricted: either matches (Vixie's rule)
        "0 12 1 * 1",
        "2026-01-20T00:00:00+00:00",
        [*day("2026-01-26", "12:00"), *day("2026-02-01", "12:00"), *day("2026-02-02", "12:00")],
    ),
    ("@hourly", JAN1, day("2026-01-01", "01:00 02:00")),
    ("@daily", JAN1, day("2026-01-02", "00:00") + day("2026-01-03", "00:00")),
    ("@midnight", JAN1, day("2026-01-02", "00:00")),
    ("@weekly", JAN1, day("2026-01-04", "00:00") + day("2026-01-11", "00:00")),
    ("@monthly", JAN1, day("2026-02-01", "00:00") + day("2026-03-01", "00:00")),
    ("@yearly", JAN1, day("2027-01-01", "00:00") + day("2028-01-01", "00:00")),
    ("@annually", JAN1, day("2027-01-01", "00:00")),
]


@pytest.mark.parametrize(("expression", "start", "expected"), STANDARD_VECTORS)
def test_standard_cron_vectors(expression: str, start: str, expected: list[str]) -> None:
    assert fire_times(expression, start, count=len(expected)) == expected


ZONE_VECTORS = [
    (
        "cron(0 9 * * ? *)",
        "Asia/Kolkata",
        JAN1,
        day("2026-01-01", "09:00", "+05:30") + day("2026-01-02", "09:00", "+05:30"),
    ),
    (  # midnight UTC is 09:00 in Tokyo: that slot is not after the moment, so the next day's comes first
        "cron(0 9 * * ? *)",
        "Asia/Tokyo",
        JAN1,
        day("2026-01-02", "09:00", "+09:00") + day("2026-01-03", "09:00", "+09:00"),
    ),
    (  # southern summer: Sydney is on daylight time in January
        "cron(0 9 * * ? *)",
        "Australia/Sydney",
        JAN1,
        day("2026-01-02", "09:00", "+11:00") + day("2026-01-03", "09:00", "+11:00"),
    ),
    ("cron(0 9 * * ? *)", "Pacific/Chatham", JAN1, day("2026-01-02", "09:00", "+13:45")),
    ("cron(0 9 ? * MON *)", "America/Los_Angeles", JAN1, day("2026-01-05", "09:00", "-08:00")),
    ("0 9 * * 1", "America/Los_Angeles", JAN1, day("2026-01-05", "09:00", "-08:00")),
    (
        "cron(0 23 L * ? *)",
        "Asia/Tokyo",
        JAN1,
        day("2026-01-31", "23:00", "+09:00") + day("2026-02-28", "23:00", "+09:00"),
    ),
    # the zone decides the day: midnight in Tokyo is the previous day in UTC
    ("cron(0 0 ? * MON *)", "Asia/Tokyo", JAN1, day("2026-01-05", "00:00", "+09:00")),
]


@pytest.mark.parametrize(("expression", "zone", "start", "expected"), ZONE_VECTORS)
def test_cron_in_time_zones(expression: str, zone: str, start: str, expected: list[str]) -> None:
    assert fire_times(expression, start, zone, count=len(expected)) == expected


SPRING_FORWARD = [
    (  # 02:30 does not exist in Paris on 29 March: that day's slot is skipped
        "cron(30 2 * * ? *)",
        "Europe/Paris",
        "2026-03-27T12:00:00+00:00",
        [*day("2026-03-28", "02:30", "+01:00"), *day("2026-03-30", "02:30", "+02:00")],
    ),
    (  # hourly: 02:00 is skipped, 01:00 and 03:00 fire
        "cron(0 * * * ? *)",
        "Europe/Paris",
        "2026-03-28T23:30:00+00:00",
        [*day("2026-03-29", "01:00", "+01:00"), *day("2026-03-29", "03:00 04:00", "+02:00")],
    ),
    (
        "cron(*/30 1-3 * * ? *)",
        "Europe/Paris",
        "2026-03-29T00:00:00+00:00",
        [*day("2026-03-29", "01:30", "+01:00"), *day("2026-03-29", "03:00 03:30", "+02:00")],
    ),
    (  # the standard dialect follows the same rule
        "30 2 * * *",
        "Europe/Paris",
        "2026-03-27T12:00:00+00:00",
        [*day("2026-03-28", "02:30", "+01:00"), *day("2026-03-30", "02:30", "+02:00")],
    ),
    (  # a weekly Sunday 02:30 in New York skips the Sunday the clocks change
        "cron(30 2 ? * SUN *)",
        "America/New_York",
        "2026-03-01T00:00:00+00:00",
        [*day("2026-03-01", "02:30", "-05:00"), *day("2026-03-15", "02:30", "-04:00")],
    ),
    (  # Lord Howe moves by half an hour: 02:15 does not exist on 4 October
        "cron(15 2 * * ? *)",
        "Australia/Lord_Howe",
        "2026-10-02T12:00:00+00:00",
        [*day("2026-10-03", "02:15", "+10:30"), *day("2026-10-05", "02:15", "+11:00")],
    ),
    (
        "cron(45 2 * * ? *)",  # 02:45 exists there: only 02:00-02:29 is skipped
        "Australia/Lord_Howe",
        "2026-10-03T12:00:00+00:00",
        day("2026-10-04", "02:45", "+11:00"),
    ),
]


@pytest.mark.parametrize(("expression", "zone", "start", "expected"), SPRING_FORWARD)
def test_a_slot_the_clocks_skip_is_skipped(expression: str, zone: str, start: str, expected: list[str]) -> None:
    assert fire_times(expression, start, zone, count=len(expected)) == expected


FALL_BACK = [
    (  # 02:30 comes twice in Paris on 25 October: it fires once, the first time (summer time)
        "cron(30 2 * * ? *)",
        "Europe/Paris",
        "2026-10-23T12:00:00+00:00",
        [
            *day("2026-10-24", "02:30", "+02:00"),
            *day("2026-10-25", "02:30", "+02:00"),
            *day("2026-10-26", "02:30", "+01:00"),
        ],
    ),
    (  # hourly: 02:00 fires in summer time only, then 03:00 in winter time
        "cron(0 * * * ? *)",
        "Europe/Paris",
        "2026-10-24T22:30:00+00:00",
        [*day("2026-10-25", "01:00 02:00", "+02:00"), *day("2026-10-25", "03:00", "+01:00")],
    ),
    (  # counting from inside the second pass (02:10 winter time): its slots fired already in the first
        "cron(*/20 * * * ? *)",
        "Europe/Paris",
        "2026-10-25T01:10:00+00:00",
        day("2026-10-25", "03:00 03:20", "+01:00"),
    ),
    (
        "cron(*/20 * * * ? *)",
        "America/New_York",
        "2026-11-01T04:30:00+00:00",
        [*day("2026-11-01", "00:40 01:00 01:20 01:40", "-04:00"), *day("2026-11-01", "02:00", "-05:00")],
    ),
    (
        "cron(45 1 * * ? *)",
        "Australia/Lord_Howe",
        "2026-04-03T12:00:00+00:00",
        [
            *day("2026-04-04", "01:45", "+11:00"),
            *day("2026-04-05", "01:45", "+11:00"),
            *day("2026-04-06", "01:45", "+10:30"),
        ],
    ),
]


@pytest.mark.parametrize(("expression", "zone", "start", "expected"), FALL_BACK)
def test_a_slot_the_clocks_pass_twice_fires_once(expression: str, zone: str, start: str, expected: list[str]) -> None:
    assert fire_times(expression, start, zone, count=len(expected)) == expected


def test_a_rate_counts_elapsed_time_from_its_anchor_floored_to_the_minute() -> None:
    assert fire_times("rate(5 minutes)", "2026-01-01T00:00:45+00:00") == day(
        "2026-01-01", "00:05 00:10 00:15 00:20 00:25"
    )
    assert fire_times("rate(1 minute)", JAN1, count=2) == day("2026-01-01", "00:01 00:02")
    assert fire_times("rate(2 hours)", JAN1, count=2) == day("2026-01-01", "02:00 04:00")
    assert fire_times("rate(3 days)", JAN1, count=2) == day("2026-01-04", "00:00") + day("2026-01-07", "00:00")
    # later moments keep the anchor's phase; a moment before the anchor gets the first slot
    later = fire_times("rate(5 minutes)", "2026-01-01T07:07:00+00:00", count=2, anchor=JAN1)
    assert later == day("2026-01-01", "07:10 07:15")
    early = fire_times("rate(1 hour)", "2025-12-31T00:00:00+00:00", count=1, anchor=JAN1)
    assert early == day("2026-01-01", "01:00")


def test_a_rate_is_elapsed_time_across_clock_changes() -> None:
    # a day is 24 hours: across the spring change the wall-clock time moves from 13:00 to 14:00
    assert fire_times("rate(1 day)", "2026-03-28T12:00:00+00:00", "Europe/Paris", count=2) == [
        "2026-03-29T14:00:00+02:00",
        "2026-03-30T14:00:00+02:00",
    ]
    local = fire_times("rate(1 hour)", "2026-10-24T23:30:00+00:00", "Europe/Paris", count=4, anchor="2026-10-24T23:00Z")
    instants = [datetime.fromisoformat(t) for t in local]
    assert [b - a for a, b in itertools.pairwise(instants)] == [timedelta(hours=1)] * 3
    assert [t[11:] for t in local] == ["02:00:00+02:00", "02:00:00+01:00", "03:00:00+01:00", "04:00:00+01:00"]


ERRORS = [
    ("cron(60 * * * ? *)", "Minutes", "60 is out of range 0-59"),
    ("cron(0 24 * * ? *)", "Hours", "24 is out of range 0-23"),
    ("cron(0 0 32 * ? *)", "Day-of-month", "32 is out of range 1-31"),
    ("cron(0 0 0 * ? *)", "Day-of-month", "0 is out of range 1-31"),
    ("cron(0 0 * 13 ? *)", "Month", "13 is out of range 1-12"),
    ("cron(0 0 * JANUARY ? *)", "Month", "'JANUARY' is not a number from 1 to 12 or a name (JAN-DEC)"),
    ("cron(0 0 ? * 0 *)", "Day-of-week", "0 is out of range 1-7"),
    ("cron(0 0 ? * 8 *)", "Day-of-week", "8 is out of range 1-7"),
    ("cron(0 0 ? * MOON *)", "Day-of-week", "'MOON' is not a number from 1 to 7 or a name (SUN-SAT)"),
    ("cron(0 0 * * ? 1969)", "Year", "1969 is out of range 1970-2199"),
    ("cron(0 0 * * ? 2200)", "Year", "2200 is out of range 1970-2199"),
    ("cron(0 0 * * ? 2030-2027)", "Year", "the range 2030-2027 runs backwards"),
    ("cron(*/0 * * * ? *)", "Minutes", "the step after '/' must be a whole number from 1, not '0'"),
    ("cron(0/x * * * ? *)", "Minutes", "the step after '/' must be a whole number from 1, not 'x'"),
    ("cron(0 0 ? * 1/2 *)", "Day-of-week", "'/' is not allowed here"),
    ("cron(0,,5 0 * * ? *)", "Minutes", "has an empty item"),
    ("cron(0 0 ? * 3#6 *)", "Day-of-week", "the week after '#' must be 1 to 5, not '6'"),
    ("cron(0 0 ? * 3#0 *)", "Day-of-week", "the week after '#' must be 1 to 5"),
    ("cron(0 0 ? * 1#2,3 *)", "Day-of-week", "with '#' the field holds one expression"),
    ("cron(0 0 ? * 6L,1 *)", "Day-of-week", "stands alone"),
    ("cron(0 0 1,15W * ? *)", "Day-of-month", "W takes one day before it"),
    ("cron(0 0 W * ? *)", "Day-of-month", "W takes one day before it"),
    ("cron(0 0 32W * ? *)", "Day-of-month", "32 is out of range 1-31"),
    ("cron(0 0 L-2 * ? *)", "Day-of-month", "L is the month's last day and takes nothing after it"),
    ("cron(0 0 ? ? * *)", "Month", "'?' belongs in Day-of-month or Day-of-week only"),
    ("cron(0 0 1,? * ? *)", "Day-of-month", "'?' stands alone"),
    ("cron(0 0 * * * *)", None, "one of Day-of-month and Day-of-week must be '?'"),
    ("cron(0 0 1 * MON *)", None, "one of Day-of-month and Day-of-week must be '?'"),
    ("cron(0 0 ? * ? *)", None, "Day-of-month and Day-of-week cannot both be '?'"),
    ("cron(0 0 * * ?)", None, "cron() takes 6 fields (Minutes Hours Day-of-month Month Day-of-week Year), not 5"),
    ("cron(0 0 0 * * ? *)", None, "cron() takes 6 fields"),
    ("cron(0 0 * * ? *", None, "cron( is not closed with ')'"),
    ("cron 0 0 * * ? *", None, "with the parentheses"),
    ("rate(5 minute)", "rate unit", "write 5 minutes, not 5 minute"),
    ("rate(1 minutes)", "rate unit", "write 1 minute, not 1 minutes"),
    ("rate(1 days)", "rate unit", "write 1 day, not 1 days"),
    ("rate(0 minutes)", "rate value", "a whole number from 1, not '0'"),
    ("rate(-5 minutes)", "rate value", "a whole number from 1"),
    ("rate(1.5 hours)", "rate value", "a whole number from 1"),
    ("rate(5 weeks)", "rate unit", "minute(s), hour(s) or day(s), not 'weeks'"),
    ("rate(36501 days)", "rate value", "at most 36500 days"),
    ("rate(5)", None, "write rate(<value> <unit>)"),
    ("", None, "the expression is empty"),
    ("0 12 * *", None, "a standard cron expression has 5 fields"),
    ("0 12 * * ? *", None, "not 6; AWS's six fields are written cron(…)"),
    ("60 * * * *", "minute", "60 is out of range 0-59"),
    ("0 12 * * 8", "day-of-week", "8 is out of range 0-7"),
    ("0 12 L * *", "day-of-month", "'L' is AWS cron syntax, not standard cron"),
    ("0 12 15W * *", "day-of-month", "AWS cron syntax"),
    ("0 12 ? * 1", "day-of-month", "AWS cron syntax"),
    ("0 12 * * 5#2", "day-of-week", "AWS cron syntax"),
    ("0 12 * * 5L", "day-of-week", "AWS cron syntax"),
    ("@reboot", None, "unknown macro '@reboot'"),
]


@pytest.mark.parametrize(("expression", "field", "reason"), ERRORS)
def test_invalid_expressions_say_which_field_and_what_is_wrong(expression: str, field: str | None, reason: str) -> None:
    with pytest.raises(ExpressionError) as raised:
        parse_expression(expression)
    assert raised.value.field == field
    assert reason in raised.value.reason
    assert raised.value.message.startswith(f"invalid schedule expression {expression!r}: ")
    assert raised.value.status_code == 400


def test_a_month_name_or_july_is_not_mistaken_for_aws_syntax_in_standard_cron() -> None:
    assert fire_times("0 12 1 JUL *", JAN1, count=1) == day("2026-07-01", "12:00")
    assert fire_times("0 12 * * WED", JAN1, count=1) == day("2026-01-07", "12:00")


def test_the_three_forms_are_told_apart() -> None:
    assert isinstance(parse_expression("cron(0 12 * * ? *)"), CronExpression)
    assert not parse_expression("cron(0 12 * * ? *)").fields.day_or  # type: ignore[union-attr]
    assert parse_expression("0 12 * * *").fields.day_or  # type: ignore[union-attr]
    rate = parse_expression("rate(90 minutes)")
    assert isinstance(rate, RateExpression)
    assert rate.interval == timedelta(minutes=90)


def test_time_zones_are_iana_names() -> None:
    assert time_zone("Europe/Paris").key == "Europe/Paris"
    assert time_zone("UTC").key == "UTC"
    for bad in ("Mars/Olympus_Mons", "", " UTC", "../etc/passwd", "Europe"):
        with pytest.raises(UnknownTimeZone, match="unknown time zone"):
            time_zone(bad)


def test_wall_clock_times_map_to_the_first_instant_or_to_none_in_a_gap() -> None:
    paris = time_zone("Europe/Paris")
    assert wall_to_utc(datetime(2026, 3, 29, 2, 30), paris) is None
    assert wall_to_utc(datetime(2026, 3, 29, 3, 0), paris) == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    assert wall_to_utc(datetime(2026, 10, 25, 2, 30), paris) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


# An oracle: walk minute by minute in UTC; an instant fires when its wall-clock time matches the expression and it
# is the first instant to show that wall-clock time. The fire times found must be exactly those. The expressions
# below depend on the weekday, hour and minute only, so croniter's verdict is kept per (weekday, hour, minute).

ORACLE_EXPRESSIONS = ["cron(*/7 * * * ? *)", "cron(0,30 1-3 ? * SUN *)", "cron(15 * * * ? *)", "*/10 0-3 * * 0,3"]
ORACLE_ZONES = ["Europe/Paris", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "UTC"]
CLOCK_CHANGES = [datetime(2026, 3, 29, 0, 0, tzinfo=UTC), datetime(2026, 10, 24, 23, 0, tzinfo=UTC)]
CLOCK_CHANGES += [datetime(2026, 3, 8, 6, 0, tzinfo=UTC), datetime(2026, 11, 1, 4, 0, tzinfo=UTC)]
CLOCK_CHANGES += [datetime(2026, 4, 4, 14, 0, tzinfo=UTC), datetime(2026, 10, 3, 15, 0, tzinfo=UTC)]
_MATCHES: dict[tuple[str, int, int, int], bool] = {}


def _matches(fields: CronFields, wall: datetime) -> bool:
    key = (fields.croniter_fields, wall.weekday(), wall.hour, wall.minute)
    if key not in _MATCHES:
        _MATCHES[key] = croniter.match(fields.croniter_fields, wall, day_or=fields.day_or)
    return _MATCHES[key]


@settings(max_examples=60, deadline=None)
@given(
    expression=st.sampled_from(ORACLE_EXPRESSIONS),
    zone=st.sampled_from(ORACLE_ZONES),
    around=st.sampled_from(CLOCK_CHANGES),
    offset=st.integers(min_value=-180, max_value=180),
)
def test_fire_times_are_exactly_the_first_instants_showing_a_matching_time(
    expression: str, zone: str, around: datetime, offset: int
) -> None:
    start = around + timedelta(minutes=offset, seconds=17)
    timing = Timing.parse(expression, zone, start)
    assert isinstance(timing.expression, CronExpression)
    found = timing.fire_times(start, 12)
    assert len(found) == 12
    expected = []
    moment = start.replace(second=0) + timedelta(minutes=1)
    while len(expected) < 12:
        wall = moment.astimezone(timing.zone).replace(tzinfo=None)
        if _matches(timing.expression.fields, wall) and wall_to_utc(wall, timing.zone) == moment:
            expected.append(moment)
        moment += timedelta(minutes=1)
    assert found == expected
