"""In-place deployments across a fleet of hosts: the batching engine applied under a row lock on the deployment.

Lifecycle of one deployment (every step in one transaction, its host jobs sent once it commits):

1. `start_fleet` orders the group's hosts by their standing (`GroupHost`), makes one target per host with every
   lifecycle event Pending, and starts the first batch: each host of it is a `deploy.host` dispatch on that host's
   own queue (`host-<name>`), which its agent works.
2. `record_host_result` is how a host's job reports: first the group's alarms are polled with no lock held
   (`stop_on_alarm`, see `conveyor.deploy.fleet_alarms`: one in ALARM stops the deployment with ALARM_ACTIVE), then
   under the deployment's row lock the engine records the result and says what comes next — the next batch, the
   hosts skipped, or the outcome.
3. `stop` halts the deployment: hosts not started are skipped at once; hosts in progress see the halt before their
   next event, skip the rest and report as failed (stopped hosts count as failed).
4. The outcome (`_finish`) ends the deployment: its status and errorInformation, each attempted host's standing in
   the group (`batching.health_after`), and the group's target revision when it succeeded. A failed deployment
   whose auto-rollback covers DEPLOYMENT_FAILURE (a stopped one: DEPLOYMENT_STOP_ON_REQUEST, or
   DEPLOYMENT_STOP_ON_ALARM when an alarm stopped it) starts its rollback
   in the same transaction: a new deployment, creator `codeDeployRollback`, of the group's last successful
   revision, with that deployment's fileExistsBehavior, linked both ways through `rollbackInfo`. A rollback is
   never rolled back itself. When no deployment of the group ever succeeded, `rollbackInfo.rollbackMessage` says
   there is nothing to roll back to.

A blue/green deployment (`start_blue_green`) runs the same engine once per phase (`conveyor.deploy.blue_green`):
its plan rides in the `fleet` JSON beside the current phase's batching state, a phase that succeeds starts the
next one in the same transaction (`_phase_succeeded`), a waiting phase (Ready, the termination wait) starts nothing
until `continue_waiting` or a `stop` (which ends it at once), and `_finish` asks `conveyor.deploy.blue_green_fleet`
what the end means for the group's fleet — released original hosts each get a `deploy.retire` job on their queue.
Its rollback starts with the failed deployment's two sides, their roles swapped by the rollback's events.

Decision where AWS says nothing: a deployment's `autoRollbackConfiguration` (its own override, else its group's)
is read when the deployment ends, so `stop --rollback` can still ask for one.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Sequence
from enum import Enum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from conveyor.db import lock
from conveyor.db.deploy_models import DeployHost, Deployment, DeploymentGroup, DeploymentTarget, GroupHost
from conveyor.db.models import utcnow
from conveyor.deploy import batching, blue_green_fleet
from conveyor.deploy import events as deploy_events
from conveyor.deploy.alarms import GO_ON, AlarmDecision
from conveyor.deploy.batching import HostHealth, InstanceHealth, Outcome
from conveyor.deploy.blue_green import BlueGreenOptions, BlueGreenPlan, Phase, first_phase
from conveyor.deploy.configs import resolve_config
from conveyor.deploy.fleet_alarms import alarm_decision
from conveyor.deploy.fleet_codec import Fleet, decode, encode
from conveyor.deploy.lifecycle import in_place_events
from conveyor.deploy.load_balancers import traffic_controlled
from conveyor.deploy.platforms import ComputePlatform
from conveyor.deploy.registry import custom_configs, group_hosts
from conveyor.deploy.revisions import revision_key
from conveyor.deploy.status import DeploymentErrorCode, DeploymentStatus, LifecycleEventStatus, TargetStatus
from conveyor.dispatch import Kind, Outbox
from conveyor.queues import DEFAULT_QUEUE, HOST_QUEUE_PREFIX
from conveyor.runtime import Runtime

ROLLBACK_CREATOR = "codeDeployRollback"
HOST_JOB_TIMEOUT = 14 * 3600  # thirteen events of at most an hour each behind a load balancer, and the download
_ID_ALPHABET = string.ascii_uppercase + string.digits


def new_deployment_id() -> str:
    """A deployment id as CodeDeploy makes them: `d-` and nine capital letters or digits."""
    return "d-" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(9))


def host_subject(deployment_id: str, host: str) -> str:
    return f"{deployment_id}|{host}"


def parse_host_subject(subject: str) -> tuple[str, str]:
    deployment_id, _, host = subject.partition("|")
    return deployment_id, host


def event_names(group: DeploymentGroup) -> list[str]:
    """The lifecycle events of an in-place deployment (or its rollback) on a host of `group`, in order."""
    return [step.event.value for step in in_place_events(load_balancer=traffic_controlled(group.definition))]


def start_fleet(
    session: Session,
    outbox: Outbox,
    deployment: Deployment,
    hosts: Sequence[DeployHost],
    alarms: AlarmDecision = GO_ON,
) -> None:
    """Plan the deployment over `hosts` and start its first batch (or end it, when it cannot start or `alarms`
    says stop)."""
    group = deployment.group
    standing = {row.host_name: row for row in session.scalars(select(GroupHost).where(GroupHost.group_id == group.id))}
    before = {host.name: _health(standing.get(host.name)) for host in hosts}
    group_revision = revision_key(group.target_revision)
    config = resolve_config(deployment.deployment_config_name, ComputePlatform.SERVER, custom_configs(session))
    assert config.minimum_healthy_hosts is not None  # every Server configuration has one
    step = batching.begin(before, config.minimum_healthy_hosts, group_revision, _alarm_halt(alarms))
    pending = [
        {"lifecycleEventName": name, "status": LifecycleEventStatus.PENDING.value} for name in event_names(group)
    ]
    for host in step.state.order:
        deployment.targets.append(
            DeploymentTarget(
                host_name=host, status=TargetStatus.PENDING.value, lifecycle_events=[dict(e) for e in pending]
            )
        )
    deployment.status = DeploymentStatus.IN_PROGRESS.value
    deployment.started_at = utcnow()
    deploy_events.deployment_changed(session, deployment)
    _apply(session, outbox, deployment, Fleet(step.state, before, group_revision), step)


def start_blue_green(
    session: Session,
    outbox: Outbox,
    deployment: Deployment,
    sides: tuple[Sequence[str], Sequence[str]],
    alarms: AlarmDecision = GO_ON,
    target_instances: dict[str, Any] | None = None,
) -> None:
    """Plan a blue/green deployment (or its rollback) over its original and replacement hosts (`sides`: blue,
    green) and start its first phase (see `conveyor.deploy.blue_green`)."""
    blue, green = tuple(sides[0]), tuple(sides[1])
    rollback = deployment.creator == ROLLBACK_CREATOR
    plan = BlueGreenPlan(
        blue=blue,
        green=green,
        options=BlueGreenOptions.from_group(deployment.group.definition),
        phase=first_phase(rollback=rollback, blue=blue),
        rollback=rollback,
        target_instances=target_instances,
    )
    deployment.targets.extend(blue_green_fleet.targets_for(plan))
    deployment.started_at = utcnow()
    deployment.fleet = {}
    deployment.status = DeploymentStatus.IN_PROGRESS.value
    deploy_events.deployment_changed(session, deployment)
    _begin_phase(session, outbox, deployment, plan, plan.phase, _alarm_halt(alarms))


def _begin_phase(
    session: Session,
    outbox: Outbox,
    deployment: Deployment,
    plan: BlueGreenPlan,
    phase: Phase,
    halt: Outcome | None = None,
) -> None:
    config = resolve_config(deployment.deployment_config_name, ComputePlatform.SERVER, custom_configs(session))
    assert config.minimum_healthy_hosts is not None  # every Server configuration has one
    step = blue_green_fleet.begin_phase(deployment, plan, phase, config.minimum_healthy_hosts, utcnow(), halt)
    if deployment.status == DeploymentStatus.READY.value:
        deploy_events.deployment_changed(session, deployment)  # waiting for ContinueDeployment
    if step is not None:
        _apply(session, outbox, deployment, Fleet(step.state, {}, None), step)


def continue_waiting(session: Session, outbox: Outbox, deployment: Deployment) -> None:
    """End the waiting phase of a blue/green deployment (its row locked by the caller): the next phase starts."""
    plan = blue_green_fleet.plan_of(deployment)
    assert plan is not None
    assert plan.phase.waiting
    _phase_succeeded(session, outbox, deployment, plan, decode(deployment.fleet).state)


def record_host_result(rt: Runtime, deployment_id: str, host: str, succeeded: bool) -> None:
    """A host finished its part: record it and start what comes next (see the module's contract)."""
    stop_on_alarm(rt, deployment_id)
    with rt.transaction() as (session, outbox):
        deployment = lock(session, Deployment, deployment_id)
        if deployment is None:
            return
        fleet = decode(deployment.fleet)
        state = batching.record(fleet.state, host, succeeded)
        if state is fleet.state:
            return  # a duplicate or late report
        target = _target(deployment, host)
        target.status = (TargetStatus.SUCCEEDED if succeeded else TargetStatus.FAILED).value
        target.ended_at = utcnow()
        step = batching.advance(state)
        _apply(session, outbox, deployment, Fleet(step.state, fleet.before, fleet.group_revision), step)


def stop_on_alarm(rt: Runtime, deployment_id: str) -> None:
    """Poll the deployment's alarms with no lock held; stop it with ALARM_ACTIVE if one fires and it still runs."""
    with rt.db.reader() as session:
        deployment = session.get(Deployment, deployment_id)
        if deployment is None or halted(deployment) or deployment.creator == ROLLBACK_CREATOR:
            return
        group = dict(deployment.group.definition)
    decision = alarm_decision(rt.settings, group)
    if not decision.stop:
        return
    with rt.transaction() as (session, outbox):
        deployment = lock(session, Deployment, deployment_id)
        if deployment is not None and not halted(deployment):
            stop(session, outbox, deployment, DeploymentErrorCode.ALARM_ACTIVE, decision.reason)


def _alarm_halt(alarms: AlarmDecision) -> Outcome | None:
    if not alarms.stop:
        return None
    return Outcome(DeploymentStatus.STOPPED, DeploymentErrorCode.ALARM_ACTIVE, alarms.reason)


def stop(session: Session, outbox: Outbox, deployment: Deployment, code: DeploymentErrorCode, message: str) -> None:
    """Halt the deployment (its row is locked by the caller); it ends once no host is in progress."""
    fleet = decode(deployment.fleet)
    plan = blue_green_fleet.plan_of(deployment)
    if plan is not None and plan.phase.waiting:  # nothing runs: it ends at once
        _finish(session, outbox, deployment, fleet, Outcome(DeploymentStatus.STOPPED, code, message))
        return
    state = batching.stop(fleet.state, code, message)
    step = batching.advance(state)
    _apply(session, outbox, deployment, Fleet(step.state, fleet.before, fleet.group_revision), step)


def halted(deployment: Deployment) -> bool:
    """Whether nothing more is to start in the deployment (hosts in progress skip their remaining events)."""
    return bool(deployment.fleet.get("halt")) or DeploymentStatus(deployment.status).final


def _apply(session: Session, outbox: Outbox, deployment: Deployment, fleet: Fleet, step: batching.FleetStep) -> None:
    batch = len(step.state.batches)
    for host in step.start:
        target = _target(deployment, host)
        target.status, target.batch = TargetStatus.IN_PROGRESS.value, batch
        outbox.add(Kind.DEPLOY_HOST, host_subject(deployment.id, host), HOST_QUEUE_PREFIX + host, HOST_JOB_TIMEOUT)
    for host in step.skip:
        target = _target(deployment, host)
        target.status = TargetStatus.SKIPPED.value
        target.lifecycle_events = [{**e, "status": LifecycleEventStatus.SKIPPED.value} for e in target.lifecycle_events]
    plan = blue_green_fleet.plan_of(deployment)
    deployment.fleet = encode(fleet)
    if plan is not None:
        blue_green_fleet.save_plan(deployment, plan)
    if step.outcome is None:
        return
    if plan is None:
        _finish(session, outbox, deployment, fleet, step.outcome)
        return
    outcome = blue_green_fleet.phase_outcome(plan, step.state, step.outcome)
    if outcome.status is DeploymentStatus.SUCCEEDED:
        _phase_succeeded(session, outbox, deployment, plan, step.state)
    else:
        _finish(session, outbox, deployment, fleet, outcome)


def _phase_succeeded(
    session: Session, outbox: Outbox, deployment: Deployment, plan: BlueGreenPlan, state: batching.FleetState
) -> None:
    plan, phase = blue_green_fleet.after_phase(plan, state)
    if phase is not None:
        _begin_phase(session, outbox, deployment, plan, phase)
        return
    blue_green_fleet.save_plan(deployment, plan)
    fleet = decode(deployment.fleet)
    _finish(session, outbox, deployment, fleet, Outcome(DeploymentStatus.SUCCEEDED, None, "traffic was rerouted"))


def end_deployment(
    session: Session, deployment: Deployment, status: DeploymentStatus, error_code: Enum | None, message: str
) -> None:
    """Record how a deployment (on hosts, or a Lambda or ECS rollout) ended, free its group, and tell it."""
    deployment.status = status.value
    deployment.completed_at = utcnow()
    deployment.active_group_id = None
    if error_code is not None:
        deployment.error_information = {"code": error_code.value, "message": message}
    deploy_events.deployment_changed(session, deployment)


def _finish(session: Session, outbox: Outbox, deployment: Deployment, fleet: Fleet, outcome: Outcome) -> None:
    end_deployment(session, deployment, outcome.status, outcome.error_code, outcome.message)
    plan = blue_green_fleet.plan_of(deployment)
    if plan is None:
        _conclude_in_place(session, deployment, fleet)
    else:
        succeeded = outcome.status is DeploymentStatus.SUCCEEDED
        for host in blue_green_fleet.conclude(session, deployment, plan, succeeded):
            outbox.add(Kind.RETIRE_HOST, host_subject(deployment.id, host), HOST_QUEUE_PREFIX + host, 600)
    session.flush()  # the group is free again before a rollback takes it
    if deployment.action_execution_id is not None:  # a pipeline action waits for this deployment
        outbox.add(Kind.DEPLOYMENT_ENDED, deployment.id, DEFAULT_QUEUE, timeout_seconds=120)
    if rollback_wanted(deployment, outcome.status, outcome.error_code):
        start_rollback(session, outbox, deployment)


def _conclude_in_place(session: Session, deployment: Deployment, fleet: Fleet) -> None:
    """Each attempted host's standing, and the group's revision when the deployment succeeded."""
    group = deployment.group
    revision = revision_key(deployment.revision)
    assert revision is not None
    after = batching.health_after(fleet.before, fleet.state, revision, fleet.group_revision)
    _save_standing(session, deployment, fleet, after)
    if batching.group_revision_after(fleet.state, revision, fleet.group_revision) == revision:
        group.target_revision = deployment.revision
        group.updated_at = utcnow()


def _save_standing(session: Session, deployment: Deployment, fleet: Fleet, after: dict[str, HostHealth]) -> None:
    """Each attempted host's revision and instance health in the group, as `health_after` says."""
    attempted = {
        h for h, status in fleet.state.targets.items() if status in (TargetStatus.SUCCEEDED, TargetStatus.FAILED)
    }
    for host in attempted:
        row = session.get(GroupHost, (deployment.group_id, host))
        if row is None:
            if session.get(DeployHost, host) is None:
                continue  # the host was deregistered meanwhile
            row = GroupHost(group_id=deployment.group_id, host_name=host, revision=None)
            session.add(row)
        health = after[host]
        row.instance_health = health.instance.value
        row.revision = _revision_of(deployment, fleet, health.revision, row.revision)
        row.updated_at = utcnow()


def _revision_of(deployment: Deployment, fleet: Fleet, key: str | None, previous: dict[str, Any] | None) -> Any:
    """The revision mapping a host's health names (the deployment's, the one it had, or none)."""
    if key is None:
        return None
    if key == revision_key(deployment.revision):
        return deployment.revision
    return previous


def rollback_wanted(deployment: Deployment, status: DeploymentStatus, error_code: object) -> bool:
    """Whether a deployment that ended with `status` and `error_code` is to be rolled back (auto-rollback)."""
    if deployment.creator == ROLLBACK_CREATOR or status is DeploymentStatus.SUCCEEDED:
        return False
    config = deployment.auto_rollback or deployment.group.definition.get("autoRollbackConfiguration") or {}
    if not config.get("enabled"):
        return False
    events = config.get("events", [])
    if status is DeploymentStatus.FAILED:
        return "DEPLOYMENT_FAILURE" in events
    if error_code is DeploymentErrorCode.ALARM_ACTIVE:
        return "DEPLOYMENT_STOP_ON_ALARM" in events
    return error_code is DeploymentErrorCode.MANUAL_STOP and "DEPLOYMENT_STOP_ON_REQUEST" in events


def start_rollback(session: Session, outbox: Outbox, failed: Deployment) -> Deployment | None:
    """Start the rollback of `failed` to its group's last successful revision; None when there is none."""
    group: DeploymentGroup = failed.group
    if group.target_revision is None:
        failed.rollback_info = {
            "rollbackMessage": "no deployment of this group has succeeded, so there is no revision to roll back to"
        }
        return None
    last_good = session.scalars(
        select(Deployment)
        .where(Deployment.group_id == group.id, Deployment.status == DeploymentStatus.SUCCEEDED.value)
        .order_by(Deployment.completed_at.desc())
        .limit(1)
    ).first()
    rollback = Deployment(
        id=new_deployment_id(),
        group=group,
        active_group_id=group.id,
        revision=group.target_revision,
        status=DeploymentStatus.CREATED.value,
        creator=ROLLBACK_CREATOR,
        deployment_config_name=failed.deployment_config_name,
        description=f"rollback of {failed.id}",
        file_exists_behavior=last_good.file_exists_behavior if last_good else failed.file_exists_behavior,
        ignore_application_stop_failures=failed.ignore_application_stop_failures,
        rollback_info={
            "rollbackTriggeringDeploymentId": failed.id,
            "rollbackMessage": f"rolls back {failed.id} to the group's last successful revision",
        },
        fleet={},
    )
    session.add(rollback)
    failed.rollback_info = {"rollbackDeploymentId": rollback.id}
    deploy_events.deployment_rolled_back(session, failed, rollback.id)
    plan = blue_green_fleet.plan_of(failed)
    if plan is None:
        start_fleet(session, outbox, rollback, group_hosts(session, group))
    else:
        start_blue_green(session, outbox, rollback, (plan.blue, plan.green))
    return rollback


def _health(row: GroupHost | None) -> HostHealth:
    if row is None:
        return HostHealth()
    return HostHealth(InstanceHealth(row.instance_health), revision_key(row.revision))


def _target(deployment: Deployment, host: str) -> DeploymentTarget:
    return next(t for t in deployment.targets if t.host_name == host)
