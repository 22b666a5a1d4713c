"""Running the rules of a stage condition (beforeEntry, onSuccess) and reporting the result.

Rules run in a job, outside any lock, because they may wait on AWS. Every rule of the condition runs; the
condition fails if any rule fails (§3.6). Providers:

* `CloudWatchAlarm`: `AlarmName` (one name, or several separated by commas) must exist and not be in ALARM; with
  `WaitTime` (minutes) the alarms are watched that long and the rule fails as soon as one goes into ALARM.
* `DeploymentWindow`: `Cron` — CodePipeline's 6 or 7 fields (Seconds, which must be `*`, then the fields of AWS's
  cron: Minutes, Hours, Day-of-month with `L` and `W`, Month, Day-of-week 1-7 or SUN-SAT with `L` and `#`, and
  the Year, optional; read by `conveyor.schedules.cron_fields`, as schedules are) — must match the current minute
  in `TimeZone` (an IANA name, default UTC).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from botocore.exceptions import BotoCoreError, ClientError

from conveyor import aws
from conveyor.db.models import utcnow
from conveyor.dispatch import Kind, Outbox
from conveyor.pipeline.spec import PipelineDefinition
from conveyor.pipeline.stage_rules import Condition, Rule
from conveyor.queues import DEFAULT_QUEUE
from conveyor.runtime import Runtime
from conveyor.schedules.cron_fields import ExpressionError, window_fields

ALARM_POLL_SECONDS = 15.0


@dataclass(frozen=True)
class RuleResult:
    name: str
    passed: bool
    summary: str


def evaluate(rt: Runtime, condition: Condition, now: Callable[[], datetime] = utcnow) -> list[RuleResult]:
    """Run every rule of the condition and say how each went."""
    return [_RULES[rule.provider](rt, rule, now) for rule in condition.rules]


def _alarm_rule(rt: Runtime, rule: Rule, now: Callable[[], datetime]) -> RuleResult:
    names = [n.strip() for n in rule.configuration["AlarmName"].split(",") if n.strip()]
    wait = float(rule.configuration.get("WaitTime") or 0) * 60
    client = aws.client("cloudwatch", rt.settings, region=rule.region, role_arn=rule.role_arn)
    deadline = time.monotonic() + wait
    while True:
        try:
            found = client.describe_alarms(AlarmNames=names)["MetricAlarms"]
        except (BotoCoreError, ClientError) as exc:
            return RuleResult(rule.name, False, f"could not read CloudWatch alarms {', '.join(names)}: {exc}")
        states = {alarm["AlarmName"]: alarm["StateValue"] for alarm in found}
        missing = [n for n in names if n not in states]
        if missing:
            return RuleResult(rule.name, False, f"no CloudWatch alarm named {', '.join(missing)}")
        alarming = [n for n in names if states[n] == "ALARM"]
        if alarming:
            return RuleResult(rule.name, False, f"alarm {', '.join(alarming)} is in ALARM")
        if time.monotonic() >= deadline:
            watched = f" for {wait / 60:g} minutes" if wait else ""
            return RuleResult(rule.name, True, f"no alarm in ALARM{watched}: {', '.join(names)}")
        time.sleep(min(ALARM_POLL_SECONDS, max(0.0, deadline - time.monotonic())))


def _window_rule(rt: Runtime, rule: Rule, now: Callable[[], datetime]) -> RuleResult:
    zone_name = rule.configuration.get("TimeZone") or "UTC"
    try:
        zone = ZoneInfo(zone_name)
        window = window_fields(rule.configuration["Cron"])
    except (ZoneInfoNotFoundError, ValueError, ExpressionError) as exc:
        return RuleResult(rule.name, False, f"cannot use the deployment window: {exc}")
    moment = now().astimezone(zone).replace(second=0, microsecond=0)
    inside = window.matches(moment)
    when = moment.strftime("%Y-%m-%d %H:%M %Z")
    if inside:
        return RuleResult(rule.name, True, f"{when} is inside the deployment window")
    return RuleResult(rule.name, False, f"{when} is outside the deployment window {rule.configuration['Cron']!r}")


_RULES: dict[str, Callable[[Runtime, Rule, Callable[[], datetime]], RuleResult]] = {
    "CloudWatchAlarm": _alarm_rule,
    "DeploymentWindow": _window_rule,
}


def queue_check(outbox: Outbox, execution_id: str, definition: PipelineDefinition, stage: str, kind: str) -> None:
    """Hand a condition's rules to a job (`jobs.conditions`); its timeout covers the longest alarm watch."""
    declared = definition.stage(stage).rules
    waits = [
        float(rule.configuration.get("WaitTime") or 0)
        for condition in (declared.before_entry, declared.on_success)
        if condition is not None
        for rule in condition.rules
    ]
    timeout = int(max(waits, default=0) * 60) + 300
    outbox.add(Kind.CONDITION, f"{execution_id}|{stage}|{kind}", DEFAULT_QUEUE, timeout_seconds=timeout)


def describe(results: list[RuleResult]) -> dict[str, Any]:
    """The record kept on the stage: the condition's summary and each rule's."""
    failed = [r for r in results if not r.passed]
    summary = "; ".join(f"{r.name}: {r.summary}" for r in (failed or results))
    return {"summary": summary, "rules": [{"name": r.name, "passed": r.passed, "summary": r.summary} for r in results]}
