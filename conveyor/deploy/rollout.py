"""Deployments that move traffic (Lambda aliases, ECS services): what comes next, decided from what was recorded. Pure.

A rollout is one target's lifecycle events in order (`conveyor.deploy.lifecycle.lambda_events` or `ecs_events`),
the hook functions its AppSpec names, the traffic plan of its deployment configuration and the time a hook function
has to report: a `RolloutPlan`. Its `Progress` is kept as JSON on the deployment (`encode` / `decode`), so a job
that resumes after its worker died carries on from what was recorded. No clock is read here: callers pass `now`,
in seconds since the epoch.

`decide(plan, progress, now)` gives the runner its next `Step`:

* BEGIN: the next event starts (InProgress, with its start time);
* SKIP: an event that runs a hook function when the AppSpec names one, and it names none, is Skipped;
* RUN: the platform does the event itself (a Lambda's Start checks the alias; ECS Install, AllowTestTraffic; End);
* INVOKE: a hook execution id is recorded (`invoked`), then the function invoked — recorded first, so a hook
  function is invoked at most once per deployment whatever happens to the worker;
* AWAIT: the function's report (`record_report`) is awaited until `until`, the event's start plus the timeout;
* FAIL: the event fails: its function did not report in time;
* SHIFT: traffic shift number `index` of the plan is made (`shifted`); the event succeeds with its last shift;
* WAIT: the wait between two shifts, until `until`;
* FINISH: the rollout has ended with `outcome` (`finish` records it).

Rules:

* a failed event ends the rollout Failed with its error code (HOOK_EXECUTION_FAILURE for a hook function that
  reported Failed or did not report in time); the events after it are Skipped;
* `halt` (a stop by request or by an alarm) takes effect at the runner's next step: the event in progress Fails
  with the halt's reason, the events not begun are Skipped, and the outcome is the halt's;
* a report is accepted only for a hook execution of this deployment whose event still waits for it; a second
  report, a late one (the event failed or the deployment stopped meanwhile) is refused
  (LifecycleEventAlreadyCompletedException), and so is an execution id never given out
  (InvalidLifecycleEventHookExecutionIdException);
* `Outcome.rollback_possible` is False when the event that failed says so (ECS BeforeInstall).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

from conveyor.deploy.aws_calls import ErrorCode, StepErrorCode
from conveyor.deploy.hook_reports import HookStatusError
from conveyor.deploy.lifecycle import HookKind, LifecycleEvent, LifecycleStep, TrafficShift
from conveyor.deploy.status import DeploymentErrorCode, DeploymentStatus, LifecycleEventStatus, TargetStatus

_FINAL_EVENT = frozenset({LifecycleEventStatus.SUCCEEDED, LifecycleEventStatus.FAILED, LifecycleEventStatus.SKIPPED})


class StepKind(str, Enum):
    BEGIN = "Begin"
    SKIP = "Skip"
    RUN = "Run"
    INVOKE = "Invoke"
    AWAIT = "Await"
    FAIL = "Fail"
    SHIFT = "Shift"
    WAIT = "Wait"
    FINISH = "Finish"


@dataclass(frozen=True)
class Outcome:
    status: DeploymentStatus  # Succeeded, Failed or Stopped
    error_code: ErrorCode | None = None
    message: str = ""
    rollback_possible: bool = True


SUCCEEDED = Outcome(DeploymentStatus.SUCCEEDED)


@dataclass(frozen=True)
class RolloutPlan:
    """What a rollout does: `steps` in order, the hook function of each hooked event, the traffic shifts."""

    steps: tuple[LifecycleStep, ...]
    hooks: Mapping[str, str] = field(default_factory=dict)  # event name -> function
    shifts: tuple[TrafficShift, ...] = (TrafficShift(100, 0),)
    hook_timeout: float = 3600.0
    traffic_event: LifecycleEvent = LifecycleEvent.ALLOW_TRAFFIC  # the event that makes the shifts

    def step(self, name: str) -> LifecycleStep:
        return next(s for s in self.steps if s.event.value == name)


@dataclass(frozen=True)
class EventRecord:
    name: str
    status: LifecycleEventStatus = LifecycleEventStatus.PENDING
    started: float | None = None
    ended: float | None = None
    hook_execution_id: str | None = None
    message: str = ""  # why it failed

    @property
    def final(self) -> bool:
        return self.status in _FINAL_EVENT


@dataclass(frozen=True)
class Progress:
    events: tuple[EventRecord, ...]
    shifts_done: int = 0
    wait_until: float | None = None
    halt: Outcome | None = None
    outcome: Outcome | None = None

    def current(self) -> EventRecord | None:
        """The first event not ended yet."""
        return next((e for e in self.events if not e.final), None)

    def event(self, name: str) -> EventRecord:
        return next(e for e in self.events if e.name == name)

    @property
    def target_status(self) -> TargetStatus:
        """The target's status as GetDeployment shows it (a stopped target counts as failed, as on hosts)."""
        if self.outcome is not None:
            return TargetStatus.SUCCEEDED if self.outcome.status is DeploymentStatus.SUCCEEDED else TargetStatus.FAILED
        begun = any(e.status is not LifecycleEventStatus.PENDING for e in self.events)
        return TargetStatus.IN_PROGRESS if begun else TargetStatus.PENDING


@dataclass(frozen=True)
class Step:
    kind: StepKind
    event: str = ""
    function: str = ""  # INVOKE
    until: float | None = None  # AWAIT, WAIT
    index: int = 0  # SHIFT
    shift: TrafficShift | None = None  # SHIFT
    outcome: Outcome | None = None  # FINISH
    message: str = ""  # FAIL


def start(plan: RolloutPlan) -> Progress:
    """A rollout not begun: every event Pending."""
    return Progress(tuple(EventRecord(step.event.value) for step in plan.steps))


def decide(plan: RolloutPlan, progress: Progress, now: float) -> Step:
    """What the runner does next (see the module's docstring)."""
    ended = progress.outcome or progress.halt
    if ended is not None:
        return Step(StepKind.FINISH, outcome=ended)
    record = progress.current()
    if record is None:
        return Step(StepKind.FINISH, outcome=SUCCEEDED)
    step = plan.step(record.name)
    if step.runs is HookKind.FUNCTION:
        return _hook_step(plan, record, now)
    if record.status is LifecycleEventStatus.PENDING:
        return Step(StepKind.BEGIN, record.name)
    if step.event is plan.traffic_event:
        if progress.wait_until is not None and now < progress.wait_until:
            return Step(StepKind.WAIT, record.name, until=progress.wait_until)
        index = progress.shifts_done
        return Step(StepKind.SHIFT, record.name, index=index, shift=plan.shifts[index])
    return Step(StepKind.RUN, record.name)


def _hook_step(plan: RolloutPlan, record: EventRecord, now: float) -> Step:
    function = plan.hooks.get(record.name)
    if function is None:
        return Step(StepKind.SKIP, record.name)
    if record.status is LifecycleEventStatus.PENDING:
        return Step(StepKind.BEGIN, record.name)
    if record.hook_execution_id is None:
        return Step(StepKind.INVOKE, record.name, function=function)
    deadline = (now if record.started is None else record.started) + plan.hook_timeout
    if now >= deadline:
        message = (
            f"the {record.name} hook function {function} did not report its status "
            f"(PutLifecycleEventHookExecutionStatus) within {plan.hook_timeout:g} s"
        )
        return Step(StepKind.FAIL, record.name, function=function, message=message)
    return Step(StepKind.AWAIT, record.name, function=function, until=deadline)


# -- transitions --------------------------------------------------------------------------------------------------


def _with_event(progress: Progress, name: str, **changes: Any) -> Progress:
    events = tuple(replace(e, **changes) if e.name == name else e for e in progress.events)
    return replace(progress, events=events)


def begin(progress: Progress, name: str, now: float) -> Progress:
    return _with_event(progress, name, status=LifecycleEventStatus.IN_PROGRESS, started=now)


def skip(progress: Progress, name: str) -> Progress:
    return _with_event(progress, name, status=LifecycleEventStatus.SKIPPED)


def succeed(progress: Progress, name: str, now: float) -> Progress:
    return _with_event(progress, name, status=LifecycleEventStatus.SUCCEEDED, ended=now)


def invoked(progress: Progress, name: str, execution_id: str) -> Progress:
    """Record the hook execution id of event `name`, before its function is invoked."""
    return _with_event(progress, name, hook_execution_id=execution_id)


def shifted(plan: RolloutPlan, progress: Progress, index: int, now: float) -> Progress:
    """Shift `index` was made: wait its wait, or end the traffic event with the last one. A repeat is ignored."""
    if index != progress.shifts_done:
        return progress
    shift = plan.shifts[index]
    progress = replace(progress, shifts_done=index + 1, wait_until=None)
    if index + 1 == len(plan.shifts):
        return succeed(progress, plan.traffic_event.value, now)
    return replace(progress, wait_until=now + shift.wait_seconds)


def fail(plan: RolloutPlan, progress: Progress, name: str, code: ErrorCode, message: str, now: float) -> Progress:
    """Event `name` failed: the rollout ends Failed with `code` and the events after it are Skipped."""
    progress = _with_event(progress, name, status=LifecycleEventStatus.FAILED, ended=now, message=message)
    outcome = Outcome(DeploymentStatus.FAILED, code, message, plan.step(name).rollback_possible)
    return finish(progress, outcome, now)


def halt(progress: Progress, status: DeploymentStatus, code: DeploymentErrorCode, message: str) -> Progress:
    """Stop the rollout at its next step (a stop by request or by an alarm); a rollout already ended stays so."""
    if progress.outcome is not None or progress.halt is not None:
        return progress
    return replace(progress, halt=Outcome(status, code, message))


def finish(progress: Progress, outcome: Outcome, now: float) -> Progress:
    """End the rollout: an event in progress fails with the outcome's reason, events not begun are Skipped."""
    if progress.outcome is not None:
        return progress
    events = tuple(_closed(record, outcome.message, now) for record in progress.events)
    return replace(progress, events=events, outcome=outcome, wait_until=None)


def _closed(record: EventRecord, message: str, now: float) -> EventRecord:
    if record.status is LifecycleEventStatus.IN_PROGRESS:
        return replace(record, status=LifecycleEventStatus.FAILED, ended=now, message=message)
    if record.status is LifecycleEventStatus.PENDING:
        return replace(record, status=LifecycleEventStatus.SKIPPED)
    return record


def record_report(
    plan: RolloutPlan, progress: Progress, execution_id: str, status: LifecycleEventStatus, now: float
) -> Progress:
    """A hook function's report: its event succeeds, or fails the rollout; HookStatusError when refused."""
    record = next((e for e in progress.events if e.hook_execution_id == execution_id), None)
    if record is None:
        raise HookStatusError(
            f"lifecycleEventHookExecutionId {execution_id} is not a hook execution of this deployment",
            "InvalidLifecycleEventHookExecutionIdException",
        )
    if record.status is not LifecycleEventStatus.IN_PROGRESS or progress.outcome is not None:
        raise HookStatusError(
            f"the {record.name} event of this hook execution is no longer waiting for a status (it is "
            f"{record.status.value})",
            "LifecycleEventAlreadyCompletedException",
        )
    if status is LifecycleEventStatus.SUCCEEDED:
        return succeed(progress, record.name, now)
    function = plan.hooks.get(record.name, "")
    message = f"the {record.name} hook function {function} reported Failed"
    return fail(plan, progress, record.name, DeploymentErrorCode.HOOK_EXECUTION_FAILURE, message, now)


# -- JSON ---------------------------------------------------------------------------------------------------------


def encode(progress: Progress) -> dict[str, Any]:
    return {
        "events": [
            {
                "name": e.name,
                "status": e.status.value,
                "started": e.started,
                "ended": e.ended,
                "hookExecutionId": e.hook_execution_id,
                "message": e.message,
            }
            for e in progress.events
        ],
        "shiftsDone": progress.shifts_done,
        "waitUntil": progress.wait_until,
        "halt": _encode_outcome(progress.halt),
        "outcome": _encode_outcome(progress.outcome),
    }


def decode(data: Mapping[str, Any]) -> Progress:
    events = tuple(
        EventRecord(
            e["name"],
            LifecycleEventStatus(e["status"]),
            e.get("started"),
            e.get("ended"),
            e.get("hookExecutionId"),
            e.get("message", ""),
        )
        for e in data["events"]
    )
    return Progress(
        events,
        int(data.get("shiftsDone", 0)),
        data.get("waitUntil"),
        _decode_outcome(data.get("halt")),
        _decode_outcome(data.get("outcome")),
    )


def _encode_outcome(outcome: Outcome | None) -> dict[str, Any] | None:
    if outcome is None:
        return None
    code = outcome.error_code.value if outcome.error_code is not None else None
    return {
        "status": outcome.status.value,
        "code": code,
        "message": outcome.message,
        "rollbackPossible": outcome.rollback_possible,
    }


def _decode_outcome(data: Mapping[str, Any] | None) -> Outcome | None:
    if data is None:
        return None
    code = data.get("code")
    return Outcome(
        DeploymentStatus(data["status"]),
        error_code_of(code) if code else None,
        data.get("message", ""),
        bool(data.get("rollbackPossible", True)),
    )


def error_code_of(value: str) -> ErrorCode:
    """A recorded `errorInformation.code` as the enum member it was."""
    if value in DeploymentErrorCode._value2member_map_:
        return DeploymentErrorCode(value)
    return StepErrorCode(value)
