"""Watching a deployment group's CloudWatch alarms (§2.6 of the AWS semantics): the poll and the decision.

A group's `alarmConfiguration` is `{enabled, ignorePollAlarmFailure, alarms: [{name}, …]}` with at most 10 alarms.
While a deployment runs, and while its traffic shifts, the orchestration calls `check_alarms` between steps:

1. `poll_alarms` asks CloudWatch for the named alarms (one `describe_alarms`, metric and composite alarms alike)
   and returns what it answered: each found alarm's state and reason, and why the poll failed, if it did;
2. `decide_alarms` (pure) turns that into an `AlarmDecision`: go on, stop because an alarm is in ALARM (naming
   every such alarm, with CloudWatch's reason), or stop because the alarms' states could not be read.

Rules, as CodeDeploy has them, and Conveyor's choices where it is silent:

* a configuration that is disabled, or names no alarm, is never polled: the deployment goes on;
* only the ALARM state stops a deployment; OK and INSUFFICIENT_DATA let it go on;
* an alarm in ALARM stops the deployment even when `ignorePollAlarmFailure` is set and other alarms could not be
  read; the decision's error code is `ALARM_ACTIVE`;
* a poll that fails (AWS refused or could not be reached), and an alarm CloudWatch does not know, are poll
  failures: they stop the deployment unless `ignorePollAlarmFailure` is set. CodeDeploy gives such a stop no code
  of its own; Conveyor records it as `ALARM_ACTIVE` too (rollback on DEPLOYMENT_STOP_ON_ALARM covers both), with a
  message saying the states could not be read, and `AlarmDecision.poll_failed` tells the two apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from conveyor.deploy.aws_calls import AWS_ERRORS, aws_error_text
from conveyor.deploy.status import DeploymentErrorCode
from conveyor.errors import InvalidRequest

MAX_ALARMS = 10  # describe_alarms takes up to 100 names; CodeDeploy allows 10 per group
ALARM_STATE = "ALARM"


@dataclass(frozen=True)
class AlarmConfiguration:
    """A group's `alarmConfiguration`: whether alarms are watched, and which."""

    enabled: bool = False
    ignore_poll_alarm_failure: bool = False
    alarms: tuple[str, ...] = ()

    @property
    def watched(self) -> bool:
        """Whether a deployment polls these alarms at all."""
        return self.enabled and bool(self.alarms)

    @classmethod
    def from_group(cls, group: Mapping[str, Any]) -> AlarmConfiguration:
        """The configuration of a deployment group in its request shape (absent: nothing watched)."""
        section = group.get("alarmConfiguration") or {}
        names = tuple(dict.fromkeys(str(alarm["name"]) for alarm in section.get("alarms") or []))
        if len(names) > MAX_ALARMS:
            raise InvalidRequest(f"alarmConfiguration.alarms: at most {MAX_ALARMS} alarms, not {len(names)}")
        return cls(bool(section.get("enabled", False)), bool(section.get("ignorePollAlarmFailure", False)), names)


@dataclass(frozen=True)
class AlarmState:
    name: str
    state: str  # OK | ALARM | INSUFFICIENT_DATA
    reason: str = ""


@dataclass(frozen=True)
class AlarmPoll:
    """What CloudWatch answered: the alarms it knows, by name; `failure` says why it answered nothing."""

    states: Mapping[str, AlarmState] = field(default_factory=dict)
    failure: str | None = None


@dataclass(frozen=True)
class AlarmDecision:
    """Whether the deployment goes on; when it stops, why (`reason`, `error_code`) and which alarms fired."""

    stop: bool
    reason: str = ""
    error_code: DeploymentErrorCode | None = None
    firing: tuple[str, ...] = ()
    poll_failed: bool = False


GO_ON = AlarmDecision(stop=False)


def decide_alarms(config: AlarmConfiguration, poll: AlarmPoll) -> AlarmDecision:
    """Go on, or stop: on an alarm in ALARM, or on a poll failure unless `ignorePollAlarmFailure` is set."""
    if not config.watched:
        return GO_ON
    firing = [poll.states[name] for name in config.alarms if _firing(poll.states.get(name))]
    if firing:
        return AlarmDecision(
            True, _firing_reason(firing), DeploymentErrorCode.ALARM_ACTIVE, tuple(a.name for a in firing)
        )
    failure = poll.failure or _missing_reason(config, poll)
    if failure is None or config.ignore_poll_alarm_failure:
        return GO_ON
    reason = f"the states of the alarms could not be read: {failure} (set ignorePollAlarmFailure to go on regardless)"
    return AlarmDecision(True, reason, DeploymentErrorCode.ALARM_ACTIVE, poll_failed=True)


def _firing(alarm: AlarmState | None) -> bool:
    return alarm is not None and alarm.state == ALARM_STATE


def _firing_reason(firing: list[AlarmState]) -> str:
    described = "; ".join(f"{a.name}" + (f" ({a.reason})" if a.reason else "") for a in firing)
    return f"alarm{'s' if len(firing) > 1 else ''} in ALARM state: {described}"


def _missing_reason(config: AlarmConfiguration, poll: AlarmPoll) -> str | None:
    missing = [name for name in config.alarms if name not in poll.states]
    if not missing:
        return None
    return f"CloudWatch has no alarm named {', '.join(missing)}"


def poll_alarms(cloudwatch: Any, names: tuple[str, ...]) -> AlarmPoll:
    """The states of the named alarms, through one `describe_alarms`; a failed call is a poll failure, not an error."""
    try:
        answer = cloudwatch.describe_alarms(AlarmNames=list(names), AlarmTypes=["MetricAlarm", "CompositeAlarm"])
    except AWS_ERRORS as exc:
        return AlarmPoll(failure=f"CloudWatch describe_alarms failed: {aws_error_text(exc)}")
    found = [*answer.get("MetricAlarms", []), *answer.get("CompositeAlarms", [])]
    states = {a["AlarmName"]: AlarmState(a["AlarmName"], a["StateValue"], a.get("StateReason", "")) for a in found}
    return AlarmPoll(states)


def check_alarms(cloudwatch: Any, config: AlarmConfiguration) -> AlarmDecision:
    """Poll the group's alarms (unless none are watched) and decide whether the deployment goes on."""
    if not config.watched:
        return GO_ON
    return decide_alarms(config, poll_alarms(cloudwatch, config.alarms))
