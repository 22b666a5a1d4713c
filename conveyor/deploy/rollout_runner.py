"""The job of a Lambda (or ECS) deployment: its rollout run step by step, each step recorded before the next.

`run_rollout` loops until the rollout ends or `keep_going` says stop (the job's lease was taken by another
attempt). Each turn:

1. under the deployment's row lock, `conveyor.deploy.rollout.decide` says what comes next; bookkeeping steps
   (BEGIN, SKIP, FAIL, and FINISH when the rollout failed or was halted) are recorded at once, FINISH ending the
   deployment (`traffic_deployments.finish`, which may start its rollback). A rollout whose every event succeeded
   first lets the platform `complete` (ECS: the replacement task set becomes primary); if that fails, the deployment
   fails with the platform's error instead;
2. with no lock held, the platform acts (`PlatformActions`: run an event, make a shift, invoke a hook function),
   and its result is recorded in a new transaction; an AWS step that fails fails its event with the step's error
   code (INVALID_LAMBDA_CONFIGURATION, INVALID_LAMBDA_FUNCTION, …) and its message;
3. waiting (for a hook's report, or between shifts) is a sleep of at most `TICK_SECONDS` before looking again, so a
   report, a stop or the end of a wait is seen within that time.

A job that starts again after its worker died finds the recorded progress and resumes: a hook execution already
recorded is not invoked again, only awaited; a shift recorded is not made again, and a shift made but not recorded
is made again with the same absolute weights; a wait goes on until the recorded time.

Alarms (a deployment that is not a rollback, whose group watches CloudWatch alarms): polled before every shift and
before End, and every `ALARM_POLL_SECONDS` while the rollout waits; one in ALARM halts the deployment with
ALARM_ACTIVE (see `conveyor.deploy.fleet_alarms` for the poll and its failures).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.orm import Session

from conveyor import aws
from conveyor.db import lock
from conveyor.db.deploy_models import Deployment
from conveyor.deploy import ecs_rollout, lambda_rollout, rollout
from conveyor.deploy.aws_calls import AwsStepFailed
from conveyor.deploy.fleet_alarms import alarm_decision
from conveyor.deploy.lifecycle import LifecycleEvent, TrafficShift
from conveyor.deploy.orchestration import ROLLBACK_CREATOR
from conveyor.deploy.platforms import ComputePlatform
from conveyor.deploy.rollout import Outcome, Progress, RolloutPlan, Step, StepKind
from conveyor.deploy.status import DeploymentErrorCode, DeploymentStatus, LifecycleEventStatus
from conveyor.deploy.traffic_deployments import finish, is_rollout, plan_of, progress_of, save, stop
from conveyor.dispatch import Outbox
from conveyor.runtime import Runtime

TICK_SECONDS = 0.5
ALARM_POLL_SECONDS = 5.0
Transition = Callable[[Progress, float], Progress]


class PlatformActions(Protocol):
    """What a compute platform does in a rollout; each raises AwsStepFailed when its AWS step fails."""

    def run_event(self, event: LifecycleEvent) -> None:
        """Do an event the platform runs itself (Start, Install, AllowTestTraffic, End, …)."""

    def shift(self, shift: TrafficShift) -> None:
        """Put `shift.percent` % of the traffic on the new version."""

    def invoke_hook(self, function: str, event: str, deployment_id: str, execution_id: str) -> None:
        """Invoke a hook function asynchronously with the deployment id and the hook execution id."""

    def complete(self) -> None:
        """What is left once every event has succeeded (done again harmlessly by a resumed job)."""


@dataclass
class _Run:
    rt: Runtime
    deployment_id: str
    plan: RolloutPlan
    actions: PlatformActions
    watched_group: dict[str, Any] | None  # the group whose alarms are watched; None: none are
    clock: Callable[[], float]
    sleep: Callable[[float], None]
    alarms_polled_at: float | None = None


def actions_for(rt: Runtime, deployment_id: str, fleet: dict[str, Any]) -> PlatformActions:
    """The platform actions of a deployment, from what its row holds."""
    functions = aws.client("lambda", rt.settings)
    rollback = bool(fleet["rollback"])
    if ComputePlatform(fleet["platform"]) is ComputePlatform.LAMBDA:
        target = lambda_rollout.decode_target(fleet["recorded"]["target"])
        return lambda_rollout.LambdaActions(functions, target, rollback)
    ecs, elbv2 = aws.client("ecs", rt.settings), aws.client("elbv2", rt.settings)
    return ecs_rollout.EcsActions(ecs, elbv2, functions, fleet["recorded"], deployment_id, rollback)


def run_rollout(
    rt: Runtime,
    deployment_id: str,
    keep_going: Callable[[], bool] = lambda: True,
    *,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Run the deployment's rollout from where it stands to its end (see the module's docstring)."""
    run = _load(rt, deployment_id, clock, sleep)
    while run is not None and keep_going():
        step = _settle(run)
        if step.kind is StepKind.FINISH:
            if step.outcome is not None:  # every event succeeded; not recorded yet
                _complete(run)
            return
        _act(run, step)


def _load(rt: Runtime, deployment_id: str, clock: Callable[[], float], sleep: Callable[[float], None]) -> _Run | None:
    with rt.db.reader() as session:
        deployment = session.get(Deployment, deployment_id)
        if deployment is None or not is_rollout(deployment) or DeploymentStatus(deployment.status).final:
            return None
        fleet = dict(deployment.fleet)
        watched = None if deployment.creator == ROLLBACK_CREATOR else dict(deployment.group.definition)
    return _Run(rt, deployment_id, plan_of(fleet), actions_for(rt, deployment_id, fleet), watched, clock, sleep)


def _settle(run: _Run) -> Step:
    """Record the bookkeeping steps that are due and return the next step that needs the platform, or FINISH (with
    the outcome only when the rollout succeeded and its end is still to be recorded, by `_complete`)."""
    with run.rt.transaction() as (session, outbox):
        deployment = lock(session, Deployment, run.deployment_id)
        if deployment is None or DeploymentStatus(deployment.status).final:
            return Step(StepKind.FINISH)
        progress = progress_of(deployment)
        while True:
            now = run.clock()
            step = rollout.decide(run.plan, progress, now)
            if step.kind is StepKind.BEGIN:
                progress = rollout.begin(progress, step.event, now)
            elif step.kind is StepKind.SKIP:
                progress = rollout.skip(progress, step.event)
            elif step.kind is StepKind.FAIL:
                code = DeploymentErrorCode.HOOK_EXECUTION_FAILURE
                progress = rollout.fail(run.plan, progress, step.event, code, step.message, now)
            elif step.kind is StepKind.FINISH:
                assert step.outcome is not None
                save(deployment, progress)
                if step.outcome.status is DeploymentStatus.SUCCEEDED and progress.outcome is None:
                    return step
                _record_end(session, outbox, deployment, progress, step.outcome, now)
                return Step(StepKind.FINISH)
            else:
                save(deployment, progress)
                return step


def _record_end(
    session: Session, outbox: Outbox, deployment: Deployment, progress: Progress, outcome: Outcome, now: float
) -> None:
    progress = rollout.finish(progress, outcome, now)
    save(deployment, progress)
    assert progress.outcome is not None
    finish(session, outbox, deployment, progress.outcome)


def _complete(run: _Run) -> None:
    """Let the platform finish its work, then record the deployment's end (Failed if the platform could not)."""
    outcome = rollout.SUCCEEDED
    try:
        run.actions.complete()
    except AwsStepFailed as exc:
        outcome = Outcome(DeploymentStatus.FAILED, exc.error_code, exc.message)
    with run.rt.transaction() as (session, outbox):
        deployment = lock(session, Deployment, run.deployment_id)
        if deployment is not None and not DeploymentStatus(deployment.status).final:
            _record_end(session, outbox, deployment, progress_of(deployment), outcome, run.clock())


def _act(run: _Run, step: Step) -> None:
    if step.kind in (StepKind.AWAIT, StepKind.WAIT):
        _watch_alarms(run, only_when_due=True)
        run.sleep(max(0.0, min(TICK_SECONDS, (step.until or 0.0) - run.clock())))
        return
    if step.kind is StepKind.INVOKE:
        _invoke(run, step)
        return
    if (step.kind is StepKind.SHIFT or step.event == LifecycleEvent.END.value) and _watch_alarms(run):
        return  # halted: the next turn ends the deployment
    try:
        if step.kind is StepKind.SHIFT:
            assert step.shift is not None
            run.actions.shift(step.shift)
        else:
            run.actions.run_event(LifecycleEvent(step.event))
    except AwsStepFailed as exc:
        _record(run, step.event, _failure(run.plan, step.event, exc))
        return
    if step.kind is StepKind.SHIFT:
        _record(run, step.event, lambda p, now: rollout.shifted(run.plan, p, step.index, now))
    else:
        _record(run, step.event, lambda p, now: rollout.succeed(p, step.event, now))


def _failure(plan: RolloutPlan, event: str, exc: AwsStepFailed) -> Transition:
    return lambda progress, now: rollout.fail(plan, progress, event, exc.error_code, exc.message, now)


def _record(run: _Run, event: str, transition: Transition) -> None:
    """Apply `transition` if event `event` is still in progress and the rollout has not ended."""
    with run.rt.db.session() as session:
        deployment = lock(session, Deployment, run.deployment_id)
        if deployment is None:
            return
        progress = progress_of(deployment)
        if progress.outcome is None and progress.event(event).status is LifecycleEventStatus.IN_PROGRESS:
            save(deployment, transition(progress, run.clock()))


def _invoke(run: _Run, step: Step) -> None:
    """Record a new hook execution id, then invoke the function (not at all if another attempt recorded one)."""
    execution_id = str(uuid.uuid4())
    with run.rt.db.session() as session:
        deployment = lock(session, Deployment, run.deployment_id)
        if deployment is None:
            return
        progress = progress_of(deployment)
        if rollout.decide(run.plan, progress, run.clock()) != step:
            return
        save(deployment, rollout.invoked(progress, step.event, execution_id))
    try:
        run.actions.invoke_hook(step.function, step.event, run.deployment_id, execution_id)
    except AwsStepFailed as exc:
        _record(run, step.event, _failure(run.plan, step.event, exc))


def _watch_alarms(run: _Run, *, only_when_due: bool = False) -> bool:
    """Poll the group's alarms; halt the deployment with ALARM_ACTIVE if one fires. True when it was halted."""
    if run.watched_group is None:
        return False
    now = run.clock()
    if only_when_due and run.alarms_polled_at is not None and now - run.alarms_polled_at < ALARM_POLL_SECONDS:
        return False
    run.alarms_polled_at = now
    decision = alarm_decision(run.rt.settings, run.watched_group)
    if not decision.stop:
        return False
    with run.rt.db.session() as session:
        deployment = lock(session, Deployment, run.deployment_id)
        if deployment is not None and not DeploymentStatus(deployment.status).final:
            stop(deployment, DeploymentErrorCode.ALARM_ACTIVE, decision.reason)
    return True
