"""Deployments that move traffic (the Lambda and ECS compute platforms): their rows, start, stop, end.

Lifecycle of one such deployment (every step one transaction on the deployment's locked row):

1. `begin_rollout` records the deployment's one target (`<function>:<alias>`, `<cluster>:<service>`) with every event
   Pending, keeps on the row (`Deployment.fleet`) what the job needs — the platform, the AppSpec's target and
   hooks, the traffic shifts planned from the deployment configuration, the hook timeout, the `Progress` — and
   sends one `deploy.rollout` job to the `deploy` queue (`conveyor.deploy.rollout_runner` runs it).
2. The job records each step as it goes (`save`): the target's lifecycle events, with their times, are what
   GetDeployment shows.
3. `record_hook_report` takes a hook function's PutLifecycleEventHookExecutionStatus; `stop` halts the deployment
   (by request or alarm): the job ends it at its next step, within about a second.
4. `finish` ends the deployment: status, errorInformation, the group's target revision on success, the pipeline
   action told, and the rollback started when the deployment's auto-rollback asks for one (as
   `conveyor.deploy.orchestration.rollback_wanted` decides for hosts): a new deployment by `codeDeployRollback`,
   linked both ways through `rollbackInfo`, whose rollout moves all traffic back at once and runs no hook (ECS:
   and removes the replacement task set). A failure before ECS Install rolls nothing back: nothing was replaced.

Decisions where AWS says nothing: a rollback leaves the group's target revision as it was (the last successful
one, which it brings back); a deployment whose job cannot be run (its attempts ran out, `give_up`) fails with
INTERNAL_ERROR and the reason, and rolls back on DEPLOYMENT_FAILURE like any failure; a deployment is only ended by
its job (or by `give_up`), never by the request that stops it, so traffic never moves after a rollback began.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from conveyor.db import lock
from conveyor.db.deploy_models import Deployment, DeploymentTarget
from conveyor.db.models import utcnow
from conveyor.deploy import ecs_rollout, lambda_rollout, rollout
from conveyor.deploy import events as deploy_events
from conveyor.deploy.hook_reports import HookStatusError, HookStatusReport
from conveyor.deploy.lifecycle import TrafficShift, ecs_events, lambda_events
from conveyor.deploy.orchestration import ROLLBACK_CREATOR, end_deployment, new_deployment_id, rollback_wanted
from conveyor.deploy.platforms import ComputePlatform
from conveyor.deploy.rollout import Outcome, Progress, RolloutPlan
from conveyor.deploy.status import DeploymentErrorCode, DeploymentStatus, LifecycleEventStatus, TargetStatus
from conveyor.dispatch import Kind, Outbox
from conveyor.queues import DEFAULT_QUEUE, DEPLOY_QUEUE
from conveyor.runtime import Runtime
from conveyor.timefmt import iso

JOB_MARGIN_SECONDS = 600  # beyond the hooks' timeouts and the waits between shifts, for the AWS calls


def new_fleet(
    platform: ComputePlatform,
    recorded: dict[str, Any],
    shifts: tuple[TrafficShift, ...],
    hook_timeout: float,
    *,
    rollback: bool = False,
) -> dict[str, Any]:
    """What a deployment of `platform` keeps on its row for its job (see the module's docstring)."""
    return {
        "platform": platform.value,
        "rollback": rollback,
        "recorded": recorded,
        "shifts": [[s.percent, s.wait_seconds] for s in shifts],
        "hookTimeout": hook_timeout,
    }


def plan_of(fleet: dict[str, Any]) -> RolloutPlan:
    """The rollout plan a deployment's row holds."""
    rollback = bool(fleet["rollback"])
    platform = ComputePlatform(fleet["platform"])
    steps = lambda_events(rollback=rollback) if platform is ComputePlatform.LAMBDA else ecs_events(rollback=rollback)
    return RolloutPlan(
        steps,
        hooks={} if rollback else dict(fleet["recorded"].get("hooks", {})),
        shifts=tuple(TrafficShift(int(p), int(w)) for p, w in fleet["shifts"]),
        hook_timeout=float(fleet["hookTimeout"]),
    )


def is_rollout(deployment: Deployment) -> bool:
    """Whether the deployment is one of traffic (Lambda, ECS) rather than of hosts."""
    return "platform" in (deployment.fleet or {})


def job_timeout(plan: RolloutPlan) -> int:
    """The job's time limit: every hook taking its whole timeout, every wait, and a margin."""
    hooks = sum(1 for step in plan.steps if step.event.value in plan.hooks)
    return int(hooks * plan.hook_timeout + sum(s.wait_seconds for s in plan.shifts) + JOB_MARGIN_SECONDS)


def begin_rollout(
    session: Session, outbox: Outbox, deployment: Deployment, target_id: str, fleet: dict[str, Any]
) -> None:
    """Record the deployment's target and plan, and send its job (step 1 of the module's contract)."""
    plan = plan_of(fleet)
    deployment.fleet = {**fleet, "progress": rollout.encode(rollout.start(plan))}
    deployment.targets.append(
        DeploymentTarget(host_name=target_id, status=TargetStatus.PENDING.value, lifecycle_events=[])
    )
    deployment.status = DeploymentStatus.IN_PROGRESS.value
    deployment.started_at = utcnow()
    save(deployment, rollout.start(plan))
    session.flush()
    deploy_events.deployment_changed(session, deployment)
    outbox.add(Kind.DEPLOY_ROLLOUT, deployment.id, DEPLOY_QUEUE, job_timeout(plan))


def progress_of(deployment: Deployment) -> Progress:
    return rollout.decode(deployment.fleet["progress"])


def save(deployment: Deployment, progress: Progress) -> None:
    """Keep the progress on the row and show it on the target."""
    deployment.fleet = {**deployment.fleet, "progress": rollout.encode(progress)}
    [target] = deployment.targets
    target.status = progress.target_status.value
    target.lifecycle_events = [_event_info(e) for e in progress.events]
    first = progress.events[0].started
    target.started_at = _time(first) if first is not None else None
    target.ended_at = _time(max(e.ended or 0 for e in progress.events)) if progress.outcome is not None else None
    target.updated_at = utcnow()


def _event_info(record: rollout.EventRecord) -> dict[str, Any]:
    info: dict[str, Any] = {"lifecycleEventName": record.name, "status": record.status.value}
    if record.started is not None:
        info["startTime"] = iso(_time(record.started))
    if record.ended is not None:
        info["endTime"] = iso(_time(record.ended))
    if record.status is LifecycleEventStatus.FAILED:
        info["diagnostics"] = {"errorCode": "UnknownError", "scriptName": "", "message": record.message, "logTail": ""}
    return info


def _time(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def stop(deployment: Deployment, code: DeploymentErrorCode, message: str) -> None:
    """Halt the deployment (its row locked by the caller); its job ends it at its next step."""
    save(deployment, rollout.halt(progress_of(deployment), DeploymentStatus.STOPPED, code, message))


def finish(session: Session, outbox: Outbox, deployment: Deployment, outcome: Outcome) -> None:
    """End the deployment with the rollout's outcome (step 4 of the module's contract)."""
    end_deployment(session, deployment, outcome.status, outcome.error_code, outcome.message)
    if outcome.status is DeploymentStatus.SUCCEEDED and deployment.creator != ROLLBACK_CREATOR:
        deployment.group.target_revision = deployment.revision
        deployment.group.updated_at = utcnow()
    session.flush()  # the group is free again before a rollback takes it
    if deployment.action_execution_id is not None:
        outbox.add(Kind.DEPLOYMENT_ENDED, deployment.id, DEFAULT_QUEUE, timeout_seconds=120)
    if outcome.rollback_possible and rollback_wanted(deployment, outcome.status, outcome.error_code):
        start_rollback(session, outbox, deployment)


def start_rollback(session: Session, outbox: Outbox, failed: Deployment) -> Deployment:
    """A new deployment, by codeDeployRollback, moving all of the failed deployment's traffic back at once."""
    revision, target_name, recorded, message = _rollback_of(failed)
    rollback = Deployment(
        id=new_deployment_id(),
        group=failed.group,
        active_group_id=failed.group_id,
        revision=revision,
        status=DeploymentStatus.CREATED.value,
        creator=ROLLBACK_CREATOR,
        deployment_config_name=failed.deployment_config_name,
        description=f"rollback of {failed.id}",
        file_exists_behavior=failed.file_exists_behavior,
        ignore_application_stop_failures=False,
        rollback_info={"rollbackTriggeringDeploymentId": failed.id, "rollbackMessage": message},
        fleet={},
    )
    session.add(rollback)
    failed.rollback_info = {"rollbackDeploymentId": rollback.id}
    deploy_events.deployment_rolled_back(session, failed, rollback.id)
    platform = ComputePlatform(failed.fleet["platform"])
    hook_timeout = float(failed.fleet["hookTimeout"])
    setup = new_fleet(platform, recorded, (TrafficShift(100, 0),), hook_timeout, rollback=True)
    begin_rollout(session, outbox, rollback, target_name, setup)
    return rollback


def _rollback_of(failed: Deployment) -> tuple[dict[str, Any], str, dict[str, Any], str]:
    """A rollback's revision, target, what it records and its message, by platform."""
    recorded = failed.fleet["recorded"]
    if ComputePlatform(failed.fleet["platform"]) is ComputePlatform.LAMBDA:
        target = lambda_rollout.decode_target(recorded["target"])
        back: dict[str, Any] = {"target": lambda_rollout.encode_target(lambda_rollout.swapped(target)), "hooks": {}}
        message = (
            f"rolls back {failed.id}: alias {target.alias} of function {target.name} "
            f"back to version {target.current_version}"
        )
        return lambda_rollout.rollback_revision(target), lambda_rollout.target_id(target), back, message
    message = (
        f"rolls back {failed.id}: the listeners back to the original target group, the replacement task set removed"
    )
    back = {**recorded, "hooks": {}, "replacementOf": failed.id}  # the replacement task set to remove
    revision = failed.group.target_revision or failed.revision
    return revision, ecs_rollout.target_id(recorded["service"]), back, message


def record_hook_report(rt: Runtime, report: HookStatusReport) -> str:
    """A hook function's PutLifecycleEventHookExecutionStatus: record it; HookStatusError when refused."""
    with rt.db.session() as session:
        deployment = lock(session, Deployment, report.deployment_id)
        if deployment is None:
            raise HookStatusError(
                f"deployment {report.deployment_id} does not exist", "DeploymentDoesNotExistException"
            )
        if not is_rollout(deployment):
            raise HookStatusError(
                f"deployment {report.deployment_id} is a deployment to hosts, which runs no hook functions",
                "UnsupportedActionForDeploymentTypeException",
            )
        plan = plan_of(deployment.fleet)
        progress = rollout.record_report(plan, progress_of(deployment), report.execution_id, report.status, time.time())
        save(deployment, progress)
    return report.execution_id


def give_up(rt: Runtime, deployment_id: str, reason: str) -> None:
    """The deployment's job could not be run: it fails with the reason (and rolls back as a failure does)."""
    with rt.transaction() as (session, outbox):
        deployment = lock(session, Deployment, deployment_id)
        if deployment is None or DeploymentStatus(deployment.status).final:
            return
        message = f"Conveyor could not run the deployment: {reason}"
        outcome = Outcome(DeploymentStatus.FAILED, DeploymentErrorCode.INTERNAL_ERROR, message)
        progress = rollout.finish(progress_of(deployment), outcome, time.time())
        save(deployment, progress)
        assert progress.outcome is not None
        finish(session, outbox, deployment, progress.outcome)
