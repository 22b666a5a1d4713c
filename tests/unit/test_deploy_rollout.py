"""The sequencing of Lambda and ECS rollouts, driven through the pure engine as the runner drives it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from conveyor.deploy import rollout
from conveyor.deploy.aws_calls import StepErrorCode
from conveyor.deploy.hook_reports import HookStatusError
from conveyor.deploy.lifecycle import TrafficShift, ecs_events, lambda_events
from conveyor.deploy.rollout import Progress, RolloutPlan, Step, StepKind
from conveyor.deploy.status import DeploymentErrorCode, DeploymentStatus, LifecycleEventStatus, TargetStatus

HOOKS = {"BeforeAllowTraffic": "check-before", "AfterAllowTraffic": "check-after"}
CANARY = (TrafficShift(10, 2), TrafficShift(100, 0))
OK, FAILED = LifecycleEventStatus.SUCCEEDED, LifecycleEventStatus.FAILED


def lambda_plan(hooks: dict[str, str] = HOOKS, shifts: tuple[TrafficShift, ...] = CANARY) -> RolloutPlan:
    return RolloutPlan(lambda_events(), hooks, shifts, hook_timeout=60)


def drive(
    plan: RolloutPlan,
    progress: Progress,
    *,
    now: float = 0.0,
    report: LifecycleEventStatus | None = OK,
    until: Callable[[Step], bool] = lambda step: False,
) -> tuple[Progress, list[str], float]:
    """Play the runner: every platform step succeeds, hook functions report `report` at once (None: never)."""
    seen: list[str] = []
    for _ in range(100):
        step = rollout.decide(plan, progress, now)
        seen.append(f"{step.kind.value} {step.event}".strip())
        if step.kind is StepKind.FINISH or until(step):
            assert step.outcome is not None or until(step)
            if step.outcome is not None:
                progress = rollout.finish(progress, step.outcome, now)
            return progress, seen, now
        progress, now = _apply(plan, progress, step, now, report)
    raise AssertionError("the rollout never ended")


def _apply(
    plan: RolloutPlan, progress: Progress, step: Step, now: float, report: LifecycleEventStatus | None
) -> tuple[Progress, float]:
    if step.kind is StepKind.BEGIN:
        return rollout.begin(progress, step.event, now), now
    if step.kind is StepKind.SKIP:
        return rollout.skip(progress, step.event), now
    if step.kind is StepKind.RUN:
        return rollout.succeed(progress, step.event, now), now
    if step.kind is StepKind.INVOKE:
        progress = rollout.invoked(progress, step.event, f"exec-{step.event}")
        if report is not None:
            progress = rollout.record_report(plan, progress, f"exec-{step.event}", report, now + 1)
        return progress, now + 1
    if step.kind is StepKind.SHIFT:
        return rollout.shifted(plan, progress, step.index, now), now
    if step.kind in (StepKind.AWAIT, StepKind.WAIT):
        assert step.until is not None
        return progress, step.until
    assert step.kind is StepKind.FAIL
    return rollout.fail(plan, progress, step.event, DeploymentErrorCode.HOOK_EXECUTION_FAILURE, step.message, now), now


def statuses(progress: Progress) -> list[tuple[str, str]]:
    return [(e.name, e.status.value) for e in progress.events]


def test_a_lambda_rollout_runs_its_events_in_order_with_the_shifts_and_the_wait_between_them() -> None:
    plan = lambda_plan()
    progress, seen, now = drive(plan, rollout.start(plan))

    assert seen == [
        "Begin Start",
        "Run Start",
        "Begin BeforeAllowTraffic",
        "Invoke BeforeAllowTraffic",
        "Begin AllowTraffic",
        "Shift AllowTraffic",
        "Wait AllowTraffic",
        "Shift AllowTraffic",
        "Begin AfterAllowTraffic",
        "Invoke AfterAllowTraffic",
        "Begin End",
        "Run End",
        "Finish",
    ]
    assert statuses(progress) == [
        ("Start", "Succeeded"),
        ("BeforeAllowTraffic", "Succeeded"),
        ("AllowTraffic", "Succeeded"),
        ("AfterAllowTraffic", "Succeeded"),
        ("End", "Succeeded"),
    ]
    assert progress.outcome == rollout.SUCCEEDED
    assert progress.target_status is TargetStatus.SUCCEEDED
    assert now == 4  # a second for each hook's report, two seconds of canary wait


def test_a_linear_plan_shifts_one_share_per_interval() -> None:
    shifts = (TrafficShift(34, 1), TrafficShift(68, 1), TrafficShift(100, 0))
    plan = lambda_plan({}, shifts)
    made: list[int] = []

    def note(step: Step) -> bool:
        if step.kind is StepKind.SHIFT:
            assert step.shift is not None
            made.append(step.shift.percent)
        return False

    progress, seen, _ = drive(plan, rollout.start(plan), until=note)
    assert made == [34, 68, 100]
    assert seen.count("Wait AllowTraffic") == 2
    assert ("BeforeAllowTraffic", "Skipped") in statuses(progress)  # no hook function named: Skipped


def test_a_hook_reporting_failed_fails_the_rollout_and_skips_the_rest() -> None:
    plan = lambda_plan()
    progress, seen, _ = drive(plan, rollout.start(plan), report=FAILED)

    assert seen[-1] == "Finish"
    assert "Shift AllowTraffic" not in seen
    assert statuses(progress) == [
        ("Start", "Succeeded"),
        ("BeforeAllowTraffic", "Failed"),
        ("AllowTraffic", "Skipped"),
        ("AfterAllowTraffic", "Skipped"),
        ("End", "Skipped"),
    ]
    assert progress.outcome == rollout.Outcome(
        DeploymentStatus.FAILED,
        DeploymentErrorCode.HOOK_EXECUTION_FAILURE,
        "the BeforeAllowTraffic hook function check-before reported Failed",
    )
    assert progress.target_status is TargetStatus.FAILED


def test_a_hook_that_never_reports_fails_when_its_timeout_has_passed() -> None:
    plan = lambda_plan()
    progress, seen, now = drive(plan, rollout.start(plan), report=None)

    assert seen[-3:] == ["Await BeforeAllowTraffic", "Fail BeforeAllowTraffic", "Finish"]
    assert now == 60
    assert progress.event("BeforeAllowTraffic").message == (
        "the BeforeAllowTraffic hook function check-before did not report its status "
        "(PutLifecycleEventHookExecutionStatus) within 60 s"
    )
    assert progress.outcome is not None
    assert progress.outcome.error_code is DeploymentErrorCode.HOOK_EXECUTION_FAILURE


def test_a_halt_mid_canary_ends_the_rollout_at_its_next_step() -> None:
    plan = lambda_plan()
    waiting, _, now = drive(plan, rollout.start(plan), until=lambda step: step.kind is StepKind.WAIT)
    assert waiting.shifts_done == 1

    halted = rollout.halt(waiting, DeploymentStatus.STOPPED, DeploymentErrorCode.ALARM_ACTIVE, "alarm in ALARM")
    progress, seen, _ = drive(plan, halted, now=now)

    assert seen == ["Finish"]
    assert statuses(progress)[2:] == [("AllowTraffic", "Failed"), ("AfterAllowTraffic", "Skipped"), ("End", "Skipped")]
    assert progress.event("AllowTraffic").message == "alarm in ALARM"
    assert progress.outcome == rollout.Outcome(
        DeploymentStatus.STOPPED, DeploymentErrorCode.ALARM_ACTIVE, "alarm in ALARM"
    )
    assert rollout.halt(progress, DeploymentStatus.STOPPED, DeploymentErrorCode.MANUAL_STOP, "again") is progress


def test_a_resumed_rollout_neither_invokes_a_recorded_hook_again_nor_repeats_a_recorded_shift() -> None:
    plan = lambda_plan()
    invoked, _, now = drive(plan, rollout.start(plan), report=None, until=lambda step: step.kind is StepKind.AWAIT)
    resumed = rollout.decode(rollout.encode(invoked))  # what a new attempt of the job reads
    assert rollout.decide(plan, resumed, now).kind is StepKind.AWAIT

    shifted, _, now = drive(plan, rollout.start(plan), until=lambda step: step.kind is StepKind.WAIT)
    resumed = rollout.decode(rollout.encode(shifted))
    step = rollout.decide(plan, resumed, now + 0.5)
    assert (step.kind, step.until) == (StepKind.WAIT, shifted.wait_until)
    assert rollout.shifted(plan, resumed, 0, now) == resumed  # a repeated record of the first shift changes nothing
    after = rollout.decide(plan, resumed, now + 2)
    assert (after.kind, after.index) == (StepKind.SHIFT, 1)


def test_reports_are_taken_only_for_a_waiting_hook_execution_of_the_deployment() -> None:
    plan = lambda_plan()
    waiting, _, now = drive(plan, rollout.start(plan), report=None, until=lambda step: step.kind is StepKind.AWAIT)

    with pytest.raises(HookStatusError) as unknown:
        rollout.record_report(plan, waiting, "exec-unknown", OK, now)
    assert unknown.value.code == "InvalidLifecycleEventHookExecutionIdException"

    done = rollout.record_report(plan, waiting, "exec-BeforeAllowTraffic", OK, now)
    with pytest.raises(HookStatusError) as again:
        rollout.record_report(plan, done, "exec-BeforeAllowTraffic", FAILED, now)
    assert again.value.code == "LifecycleEventAlreadyCompletedException"
    assert "no longer waiting for a status (it is Succeeded)" in again.value.message


def test_an_ecs_rollout_runs_the_eight_events_and_a_failure_before_install_cannot_roll_back() -> None:
    hooks = {"BeforeInstall": "f1", "AfterInstall": "f2", "AfterAllowTestTraffic": "f3"}
    plan = RolloutPlan(ecs_events(), hooks, (TrafficShift(100, 0),), 60)
    progress, seen, _ = drive(plan, rollout.start(plan))
    assert [s for s in seen if s.startswith(("Run", "Shift", "Invoke", "Skip"))] == [
        "Invoke BeforeInstall",
        "Run Install",
        "Invoke AfterInstall",
        "Run AllowTestTraffic",
        "Invoke AfterAllowTestTraffic",
        "Skip BeforeAllowTraffic",
        "Shift AllowTraffic",
        "Skip AfterAllowTraffic",
    ]
    assert progress.outcome == rollout.SUCCEEDED

    failed, _, _ = drive(plan, rollout.start(plan), report=FAILED)
    assert failed.outcome is not None
    assert failed.outcome.rollback_possible is False


def test_progress_survives_its_json_form() -> None:
    plan = lambda_plan()
    waiting, _, _ = drive(plan, rollout.start(plan), until=lambda step: step.kind is StepKind.WAIT)
    failed = rollout.fail(plan, waiting, "AllowTraffic", StepErrorCode.INVALID_LAMBDA_FUNCTION, "gone", 9.0)
    for progress in (waiting, failed):
        assert rollout.decode(rollout.encode(progress)) == progress
