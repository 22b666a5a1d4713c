"""When a schedule fires: its expression read and checked, and its fire times found, in its time zone.

Three forms are read:

* `cron(Minutes Hours Day-of-month Month Day-of-week Year)`, AWS's dialect (see `cron_fields`);
* `rate(<n> minute|minutes|hour|hours|day|days)`: the singular only for 1 and the plural only for more, as AWS has
  it; the interval is elapsed time (a day is 24 hours, whatever the clocks do);
* a standard five-field crontab line, or one of its macros (`@daily`, …).

Cron expressions are read on the wall clock of an IANA time zone (zoneinfo). Where the clocks change:

* a time the clocks skip (spring forward: 02:30 in Europe/Paris on the last Sunday of March) does not exist, and
  its slot is skipped — EventBridge Scheduler's rule, which Conveyor keeps;
* a time the clocks pass twice (fall back: 02:30 on the last Sunday of October) fires once, the first time.

Every fire time is a whole minute, and "next" means strictly after the given moment. A rate counts from an anchor
(a schedule's creation, floored to the minute): its slots are `anchor + k * interval` for k ≥ 1 — unlike AWS,
which fires a rate schedule at once when it is created, Conveyor starts nothing at creation (run-now does that).

Nothing here reads a clock: the moment to count from is always given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, croniter

from conveyor.errors import InvalidRequest
from conveyor.schedules.cron_fields import CronFields, ExpressionError, aws_fields, last_weekday, standard_fields

MAX_RATE = timedelta(days=36500)  # a hundred years: beyond, the arithmetic would leave datetime's range
CANDIDATE_LIMIT = 100_000  # wall-clock candidates looked at for one fire time before giving up
_RATE = re.compile(r"^rate\(\s*(?P<value>\S+)\s+(?P<unit>[a-z]+)\s*\)$")
_UNITS = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}


class UnknownTimeZone(InvalidRequest):
    code = "InvalidTimeZone"


@dataclass(frozen=True)
class CronExpression:
    text: str
    fields: CronFields

    def next_after(self, moment: datetime, zone: ZoneInfo, anchor: datetime) -> datetime | None:
        """The first fire time after `moment` (aware), in UTC; None when the expression never fires again."""
        wall = moment.astimezone(zone).replace(tzinfo=None)
        candidates = self._candidates(wall)
        for _ in range(CANDIDATE_LIMIT):
            try:
                candidate = candidates.get_next(datetime)
            except CroniterBadDateError:  # nothing for decades: a date that never comes (31 February)
                return None
            if not self._in_years(candidate.year):
                later = [year for year in self.fields.years or () if year > candidate.year]
                if not later:
                    return None
                candidates = self._candidates(datetime(min(later), 1, 1) - timedelta(minutes=1))
                continue
            if self.fields.last_weekday and candidate.day != last_weekday(candidate.year, candidate.month):
                candidates = self._candidates(candidate.replace(hour=23, minute=59))
                continue
            instant = wall_to_utc(candidate, zone)
            if instant is not None and instant > moment:  # None: the clocks skip it; not later: passed already
                return instant
        return None

    def _candidates(self, start: datetime) -> croniter:
        return croniter(self.fields.croniter_fields, start, day_or=self.fields.day_or)

    def _in_years(self, year: int) -> bool:
        return self.fields.years is None or year in self.fields.years


@dataclass(frozen=True)
class RateExpression:
    text: str
    interval: timedelta

    def next_after(self, moment: datetime, zone: ZoneInfo, anchor: datetime) -> datetime | None:
        """The first slot `anchor + k * interval` (k ≥ 1) after `moment`, in UTC."""
        start = floor_minute(anchor)
        elapsed = moment.astimezone(UTC) - start
        count = max(1, elapsed // self.interval + 1)
        return start + count * self.interval


Expression = CronExpression | RateExpression


def parse_expression(text: str) -> Expression:
    """Read a schedule expression; ExpressionError says which field is wrong and how."""
    stripped = text.strip()
    if not stripped:
        raise ExpressionError(text, "the expression is empty")
    if stripped.startswith("rate("):
        return RateExpression(text, _rate_interval(text, stripped))
    if stripped.startswith("cron("):
        if not stripped.endswith(")"):
            raise ExpressionError(text, "cron( is not closed with ')'")
        return CronExpression(text, aws_fields(text, stripped[len("cron(") : -1]))
    if stripped.startswith(("rate", "cron")):
        raise ExpressionError(text, "write rate(<value> <unit>) or cron(<6 fields>), with the parentheses")
    return CronExpression(text, standard_fields(text))


def _rate_interval(text: str, stripped: str) -> timedelta:
    match = _RATE.match(stripped)
    if match is None:
        raise ExpressionError(text, "write rate(<value> <unit>), e.g. rate(5 minutes) or rate(1 day)")
    value, unit = match["value"], match["unit"]
    if not value.isdigit() or int(value) == 0:
        raise ExpressionError(text, f"the value must be a whole number from 1, not {value!r}", "rate value")
    singular = unit.removesuffix("s")
    if singular not in _UNITS:
        raise ExpressionError(text, f"the unit must be minute(s), hour(s) or day(s), not {unit!r}", "rate unit")
    count = int(value)
    if count == 1 and unit != singular:
        raise ExpressionError(text, f"write 1 {singular}, not 1 {unit}", "rate unit")
    if count > 1 and unit == singular:
        raise ExpressionError(text, f"write {count} {singular}s, not {count} {unit}", "rate unit")
    if count * _UNITS[singular] > MAX_RATE:
        raise ExpressionError(text, "the interval may be at most 36500 days", "rate value")
    return count * _UNITS[singular]


def time_zone(name: str) -> ZoneInfo:
    """An IANA time zone by name (`Europe/Paris`, `UTC`)."""
    if not name or name != name.strip():
        raise UnknownTimeZone(f"unknown time zone {name!r}: use an IANA name such as Europe/Paris or UTC")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise UnknownTimeZone(f"unknown time zone {name!r}: use an IANA name such as Europe/Paris or UTC") from None


@dataclass(frozen=True)
class Timing:
    """A schedule's expression in its time zone, with the anchor its rate counts from."""

    expression: Expression
    zone: ZoneInfo
    anchor: datetime

    @classmethod
    def parse(cls, expression: str, zone: str, anchor: datetime) -> Timing:
        return cls(parse_expression(expression), time_zone(zone), anchor)

    def next_after(self, moment: datetime) -> datetime | None:
        return self.expression.next_after(moment, self.zone, self.anchor)

    def fire_times(self, after: datetime, count: int) -> list[datetime]:
        """Up to `count` fire times after `after`, in UTC (fewer when the expression ends)."""
        times: list[datetime] = []
        moment: datetime | None = after
        while len(times) < count and moment is not None:
            moment = self.next_after(moment)
            if moment is not None:
                times.append(moment)
        return times


def wall_to_utc(wall: datetime, zone: ZoneInfo) -> datetime | None:
    """The instant a naive wall-clock time names in `zone`: the first of two in a fall-back overlap, None in a
    spring-forward gap (the clocks never show it)."""
    instant = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) != wall:
        return None
    return instant


def floor_minute(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(second=0, microsecond=0)
