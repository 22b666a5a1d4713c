"""The fields of a cron expression, AWS's dialect and the standard one, checked one by one and put in croniter's words.

AWS, `cron(Minutes Hours Day-of-month Month Day-of-week Year)` as EventBridge defines it:

    Minutes       0-59                , - * /
    Hours         0-23                , - * /
    Day-of-month  1-31                , - * ? / L W     L the last day, 15W the weekday nearest the 15th, LW the
                                                        last weekday
    Month         1-12 or JAN-DEC     , - * /
    Day-of-week   1-7 or SUN-SAT      , - * ? L #       1 is Sunday; L alone is Saturday (the week's last day),
                                                        6L the month's last Friday, 3#2 its second Tuesday
    Year          1970-2199           , - * /

Exactly one of Day-of-month and Day-of-week is `?` (AWS never combines them). `a/n` counts from `a` to the field's
end; a range may wrap (`FRI-MON`, `22-2`) except in Year. `#` and `nL` stand alone in their field, `W` takes one
day, as AWS says; `L` may join a list of days of the month (`1,L`). Names are read in any case.

Standard, the five fields of crontab(5): minute, hour, day-of-month, month, day-of-week (0-7, Sunday 0 or 7,
SUN-SAT), with `* , - /` and the macros `@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`, `@midnight` and
`@hourly`. A day-of-month and a day-of-week that are both restricted match either (Vixie cron's rule). `? L W #`
belong to AWS's dialect and are refused here, saying so.

croniter iterates what it can express; the years, and `LW` (which croniter lacks), are kept beside its fields for
the caller to apply. Every problem names its field and what is wrong with it.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from croniter import CroniterError, croniter

from conveyor.errors import InvalidRequest

T = TypeVar("T")

AWS_FIELD_NAMES = ("Minutes", "Hours", "Day-of-month", "Month", "Day-of-week", "Year")
STANDARD_FIELD_NAMES = ("minute", "hour", "day-of-month", "month", "day-of-week")
MONTH_NAMES = {name: number for number, name in enumerate("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split(), 1)}
DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
FIRST_YEAR, LAST_YEAR = 1970, 2199
LAST_WEEKDAY_DAYS = "26-31"  # the last weekday of a month always falls on one of these days
MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


class ExpressionError(InvalidRequest):
    """A schedule expression (or a deployment window's Cron) that cannot be used: which one, which field (when one
    is to blame), and why."""

    code = "InvalidScheduleExpression"

    def __init__(
        self, expression: str, reason: str, field: str | None = None, what: str = "schedule expression"
    ) -> None:
        where = f"{field}: " if field else ""
        super().__init__(f"invalid {what} {expression!r}: {where}{reason}")
        self.expression = expression
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class CronFields:
    """What a cron expression means: five fields croniter iterates (its numbering: Sunday 0), and the rest."""

    croniter_fields: str
    years: frozenset[int] | None = None  # None: every year
    last_weekday: bool = False  # AWS `LW`: only the month's last weekday among croniter's days
    day_or: bool = False  # standard cron: a restricted day-of-month and day-of-week match either

    def matches(self, wall: datetime) -> bool:
        """Whether the minute of `wall` (a wall-clock time) is one the expression names."""
        if self.years is not None and wall.year not in self.years:
            return False
        if self.last_weekday and wall.day != last_weekday(wall.year, wall.month):
            return False
        minute = wall.replace(second=0, microsecond=0, tzinfo=None)
        return bool(croniter.match(self.croniter_fields, minute, day_or=self.day_or))


@dataclass(frozen=True)
class FieldRule:
    name: str
    low: int
    high: int
    names: dict[str, int] = field(default_factory=dict)
    steps: bool = True
    to_croniter: int = 0  # added to each value: AWS days of the week count from 1, croniter's from 0


def aws_rules() -> tuple[FieldRule, ...]:
    days = {name: number for number, name in enumerate(DAY_NAMES, 1)}
    minutes, hours, dom, month, dow, year = AWS_FIELD_NAMES
    return (
        FieldRule(minutes, 0, 59),
        FieldRule(hours, 0, 23),
        FieldRule(dom, 1, 31),
        FieldRule(month, 1, 12, MONTH_NAMES),
        FieldRule(dow, 1, 7, days, steps=False, to_croniter=-1),
        FieldRule(year, FIRST_YEAR, LAST_YEAR),
    )


def standard_rules() -> tuple[FieldRule, ...]:
    days = {name: number for number, name in enumerate(DAY_NAMES)}
    minute, hour, dom, month, dow = STANDARD_FIELD_NAMES
    return (
        FieldRule(minute, 0, 59),
        FieldRule(hour, 0, 23),
        FieldRule(dom, 1, 31),
        FieldRule(month, 1, 12, MONTH_NAMES),
        FieldRule(dow, 0, 7, days),
    )


class _Problem(Exception):
    """A field's problem, before the expression and field are known to the message."""


def aws_fields(expression: str, inner: str) -> CronFields:
    """The six fields inside `cron(…)`."""
    parts = inner.split()
    if len(parts) != len(AWS_FIELD_NAMES):
        raise ExpressionError(expression, f"cron() takes 6 fields ({' '.join(AWS_FIELD_NAMES)}), not {len(parts)}")
    minutes, hours, dom, month, dow, year = rules = aws_rules()
    _check_question_marks(expression, parts, rules)
    translated = [
        _field(expression, parts[0], minutes, _plain),
        _field(expression, parts[1], hours, _plain),
        _field(expression, parts[2], dom, _aws_day_of_month),
        _field(expression, parts[3], month, _plain),
        _field(expression, parts[4], dow, _aws_day_of_week),
    ]
    years = _field(expression, parts[5], year, _years)
    fields = CronFields(
        " ".join(LAST_WEEKDAY_DAYS if t == "LW" else t for t in translated),
        years=years,
        last_weekday=translated[2] == "LW",
    )
    _check_croniter(expression, fields)
    return fields


def window_fields(expression: str) -> CronFields:
    """CodePipeline's DeploymentWindow `Cron`: a Seconds field, which only `*` fills (a window is open or shut a
    minute at a time), then AWS's six fields with the Year left optional. Where neither day field is `?` but one of
    them is `*`, that one is read as `?`: the window is the other field's days."""
    what = "deployment window Cron"
    parts = expression.split()
    if len(parts) not in (6, 7):
        fields = f"Seconds {' '.join(AWS_FIELD_NAMES)}, the Year optional"
        raise ExpressionError(expression, f"give 6 or 7 fields ({fields}), not {len(parts)}", what=what)
    if parts[0] != "*":
        raise ExpressionError(expression, f"only '*' goes here, not {parts[0]!r}", "Seconds", what)
    minutes, hours, dom, month, dow, *year = parts[1:]
    if "?" not in (dom, dow):
        if dow == "*":
            dow = "?"
        elif dom == "*":
            dom = "?"
    try:
        return aws_fields(expression, " ".join([minutes, hours, dom, month, dow, *(year or ["*"])]))
    except ExpressionError as exc:
        raise ExpressionError(expression, exc.reason, exc.field, what) from None


def standard_fields(expression: str) -> CronFields:
    """A five-field crontab line, or one of its macros."""
    text = expression.strip()
    if text.startswith("@"):
        if text.lower() not in MACROS:
            known = ", ".join(MACROS)
            raise ExpressionError(expression, f"unknown macro {text!r}: use one of {known}")
        text = MACROS[text.lower()]
    parts = text.split()
    if len(parts) != len(STANDARD_FIELD_NAMES):
        hint = "; AWS's six fields are written cron(…)" if len(parts) == len(AWS_FIELD_NAMES) else ""
        raise ExpressionError(
            expression,
            f"a standard cron expression has 5 fields ({' '.join(STANDARD_FIELD_NAMES)}), not {len(parts)}{hint}",
        )
    rules = standard_rules()
    translated = [_field(expression, part, rule, _standard) for part, rule in zip(parts, rules, strict=True)]
    fields = CronFields(" ".join(translated), day_or=True)
    _check_croniter(expression, fields)
    return fields


def _field(expression: str, text: str, rule: FieldRule, translate: Callable[[str, FieldRule], T]) -> T:
    try:
        return translate(text, rule)
    except _Problem as problem:
        raise ExpressionError(expression, str(problem), rule.name) from None


def _check_question_marks(expression: str, parts: list[str], rules: tuple[FieldRule, ...]) -> None:
    for index, (part, rule) in enumerate(zip(parts, rules, strict=True)):
        if "?" in part and (index not in (2, 4) or part != "?"):
            where = "stands alone" if index in (2, 4) else f"belongs in {rules[2].name} or {rules[4].name} only"
            raise ExpressionError(expression, f"'?' {where}, not {part!r}", rule.name)
    if parts[2] == "?" and parts[4] == "?":
        raise ExpressionError(expression, "Day-of-month and Day-of-week cannot both be '?': give one of them")
    if "?" not in (parts[2], parts[4]):
        raise ExpressionError(
            expression, "one of Day-of-month and Day-of-week must be '?' (AWS cron does not combine them)"
        )


def _plain(text: str, rule: FieldRule) -> str:
    """A list of `*`, values, ranges and steps, in croniter's numbering."""
    return ",".join(_item(item, rule) for item in _items(text))


def _items(text: str) -> list[str]:
    items = text.split(",")
    if any(not item for item in items):
        raise _Problem(f"{text!r} has an empty item in its list")
    return items


def _item(item: str, rule: FieldRule) -> str:
    base, slash, step = item.partition("/")
    if slash:
        if not rule.steps:
            raise _Problem(f"'/' is not allowed here ({item!r})")
        if not step.isdigit() or int(step) == 0:
            raise _Problem(f"the step after '/' must be a whole number from 1, not {step!r}")
    if base == "*":
        text = "*"
    elif "-" in base:
        low, _, high = base.partition("-")
        text = f"{_value(low, rule)}-{_value(high, rule)}"
    else:
        value = _value(base, rule)
        text = f"{value}-{rule.high + rule.to_croniter}" if slash else str(value)
    return f"{text}/{int(step)}" if slash else text


def _value(token: str, rule: FieldRule) -> int:
    if token.isdigit():
        number = int(token)
        if not rule.low <= number <= rule.high:
            raise _Problem(f"{token} is out of range {rule.low}-{rule.high}")
        return number + rule.to_croniter
    if token.upper() in rule.names:
        return rule.names[token.upper()] + rule.to_croniter
    names = sorted(rule.names, key=rule.names.__getitem__)
    spelled = f" or a name ({names[0]}-{names[-1]})" if names else ""
    raise _Problem(f"{token!r} is not a number from {rule.low} to {rule.high}{spelled}")


def _aws_day_of_month(text: str, rule: FieldRule) -> str:
    if text == "?":
        return "*"
    if text.upper() == "LW":
        return "LW"
    items = _items(text)
    out = []
    for item in items:
        upper = item.upper()
        if upper == "L":
            out.append("L")
        elif upper.startswith("L"):
            raise _Problem(f"{item!r}: L is the month's last day and takes nothing after it (LW excepted)")
        elif upper.endswith("W"):
            if len(items) > 1 or not upper[:-1].isdigit():
                raise _Problem(f"W takes one day before it (15W), not {text!r}")
            out.append(f"{_value(upper[:-1], rule)}W")
        else:
            out.append(_item(item, rule))
    return ",".join(out)


def _aws_day_of_week(text: str, rule: FieldRule) -> str:
    if text == "?":
        return "*"
    items = _items(text)
    upper = text.upper()
    if "#" in upper:
        if len(items) > 1:
            raise _Problem(f"with '#' the field holds one expression (3#2), not a list: {text!r}")
        day, _, week = upper.partition("#")
        if not week.isdigit() or not 1 <= int(week) <= 5:
            raise _Problem(f"the week after '#' must be 1 to 5, not {week!r}")
        return f"{_value(day, rule)}#{int(week)}"
    out = []
    for item in (i.upper() for i in items):
        if item == "L":  # the last day of the week
            out.append(str(_value("SAT", rule)))
        elif item.endswith("L"):  # no day's name ends with L: this is 6L, the month's last Friday
            if len(items) > 1:
                raise _Problem(f"the month's last such day (6L) stands alone, not in a list: {text!r}")
            out.append(f"L{_value(item[:-1], rule)}")
        else:
            out.append(_item(item, rule))
    return ",".join(out)


_AWS_ONLY = re.compile(r"^(\?|L|LW|\d*W|\w*L|\w+#\d*)$", re.IGNORECASE)


def _standard(text: str, rule: FieldRule) -> str:
    for item in text.split(","):
        if _AWS_ONLY.match(item) and item.upper() not in rule.names:
            raise _Problem(
                f"{item!r} is AWS cron syntax, not standard cron: write cron(Minutes Hours Day-of-month Month "
                "Day-of-week Year)"
            )
    return _plain(text, rule)


def _years(text: str, rule: FieldRule) -> frozenset[int] | None:
    if text == "*":
        return None
    years: set[int] = set()
    for item in _items(text):
        base, slash, step = item.partition("/")
        if slash and (not step.isdigit() or int(step) == 0):
            raise _Problem(f"the step after '/' must be a whole number from 1, not {step!r}")
        if base == "*":
            low, high = rule.low, rule.high
        elif "-" in base:
            first, _, last = base.partition("-")
            low, high = _value(first, rule), _value(last, rule)
            if low > high:
                raise _Problem(f"the range {base} runs backwards")
        else:
            low = _value(base, rule)
            high = rule.high if slash else low
        years.update(range(low, high + 1, int(step) if slash else 1))
    return frozenset(years)


def _check_croniter(expression: str, fields: CronFields) -> None:
    """croniter's own check, for what the field rules above let through."""
    try:
        croniter(fields.croniter_fields, datetime(2000, 1, 1), day_or=fields.day_or)
    except CroniterError as exc:
        raise ExpressionError(expression, f"croniter cannot use it: {exc}") from None


def last_weekday(year: int, month: int) -> int:
    """The day of the month of its last Monday-to-Friday day."""
    day = calendar.monthrange(year, month)[1]
    while calendar.weekday(year, month, day) >= calendar.SATURDAY:
        day -= 1
    return day
