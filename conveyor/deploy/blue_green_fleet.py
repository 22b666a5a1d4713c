"""The rows of a blue/green deployment on hosts as its phases go by (`conveyor.deploy.blue_green` holds the rules).

`conveyor.deploy.orchestration` drives a blue/green deployment with the batching engine as it drives an in-place
one, under the deployment's row lock, and asks this module what each step means for the rows:

* `plan_of(deployment)` — the deployment's `BlueGreenPlan`, kept in its `fleet` JSON under `blueGreen` (None for an
  in-place deployment);
* `targets_for(plan)` — one target per host, its events those of its side (Blue or Green);
* `begin_phase(deployment, plan, phase, minimum, now)` — a phase's first batching step over its hosts, their
  targets made Pending again; or None for a waiting phase, which sets the deployment (Ready) and its replacement
  targets (Ready) and the deadline instead;
* `phase_outcome(plan, state, outcome)` — a phase's outcome, where every original host (and, in a rollback, every
  host) must succeed;
* `after_phase(plan, state)` — what comes after a phase that succeeded: the next phase, or None (the end);
* `conclude(session, deployment, succeeded)` — when the deployment ends: the targets that never ran are Skipped,
  and, after a success, the group's fleet is the replacement hosts and their standing in it is recorded; returns
  the original hosts to release (TERMINATE).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete

from conveyor.db.deploy_models import DeployHost, Deployment, DeploymentTarget, GroupHost
from conveyor.db.models import utcnow
from conveyor.deploy import batching
from conveyor.deploy.batching import FleetState, FleetStep, HostHealth, InstanceHealth, Outcome
from conveyor.deploy.blue_green import (
    FLEET_KEY,
    BlueGreenPlan,
    Phase,
    decode_plan,
    encode_plan,
    next_phase,
    target_events,
    wait_minutes,
    with_phase,
)
from conveyor.deploy.configs import MinimumHealthyHosts, MinimumHealthyHostsType
from conveyor.deploy.status import DeploymentErrorCode, DeploymentStatus, LifecycleEventStatus, TargetStatus

PLAN_KEY = "blueGreen"
EVERY_HOST = MinimumHealthyHosts(MinimumHealthyHostsType.HOST_COUNT, 0)  # all at once


def plan_of(deployment: Deployment) -> BlueGreenPlan | None:
    data = (deployment.fleet or {}).get(PLAN_KEY)
    return None if data is None else decode_plan(data)


def save_plan(deployment: Deployment, plan: BlueGreenPlan) -> None:
    deployment.fleet = {**(deployment.fleet or {}), PLAN_KEY: encode_plan(plan)}


def targets_for(plan: BlueGreenPlan) -> list[DeploymentTarget]:
    return [
        DeploymentTarget(
            host_name=host,
            status=TargetStatus.PENDING.value,
            lifecycle_events=[
                {"lifecycleEventName": step.event.value, "status": LifecycleEventStatus.PENDING.value}
                for step in target_events(plan.label(host), rollback=plan.rollback)
            ],
        )
        for host in (*plan.blue, *plan.green)
    ]


def begin_phase(
    deployment: Deployment,
    plan: BlueGreenPlan,
    phase: Phase,
    minimum: MinimumHealthyHosts,
    now: datetime,
    halt: Outcome | None = None,
) -> FleetStep | None:
    """Enter `phase`: its first batching step, or None when it waits (see the module's contract)."""
    if phase.waiting:
        deadline = now + timedelta(minutes=wait_minutes(plan, phase))
        save_plan(deployment, with_phase(plan, phase, deadline))
        if phase is Phase.READY:
            deployment.status = DeploymentStatus.READY.value
            _set_status(deployment, plan.installed, TargetStatus.READY)
        return None
    deployment.status = DeploymentStatus.IN_PROGRESS.value
    save_plan(deployment, with_phase(plan, phase))
    hosts = plan.hosts(phase)
    _set_status(deployment, hosts, TargetStatus.PENDING)
    chosen = EVERY_HOST if phase.every_host_must_succeed else minimum
    return batching.begin(dict.fromkeys(hosts, HostHealth()), chosen, None, halt)


def phase_outcome(plan: BlueGreenPlan, state: FleetState, outcome: Outcome) -> Outcome:
    """The outcome of the current phase: Failed when a host failed where every one must succeed."""
    failed = state.hosts(TargetStatus.FAILED)
    if outcome.status is not DeploymentStatus.SUCCEEDED or not failed or not plan.phase.every_host_must_succeed:
        return outcome
    side = "original" if plan.phase in (Phase.BLOCK, Phase.RESTORE) else "replacement"
    verb = "take traffic back" if plan.phase is Phase.RESTORE else "leave the load balancers"
    hosts = ", ".join(failed)
    message = f"{len(failed)} of the {len(state.order)} {side} hosts did not {verb} ({hosts}): every one must"
    return Outcome(DeploymentStatus.FAILED, DeploymentErrorCode.HEALTH_CONSTRAINTS, message)


def after_phase(plan: BlueGreenPlan, state: FleetState) -> tuple[BlueGreenPlan, Phase | None]:
    """The plan once the current phase succeeded (Install records the hosts that installed) and the next phase."""
    if plan.phase is Phase.INSTALL:
        plan = replace(plan, installed=state.hosts(TargetStatus.SUCCEEDED))
    return plan, next_phase(plan)


def conclude(session: Any, deployment: Deployment, plan: BlueGreenPlan, succeeded: bool) -> tuple[str, ...]:
    """The end of the deployment (see the module's contract); returns the original hosts to release."""
    for target in deployment.targets:
        if target.status in (TargetStatus.PENDING.value, TargetStatus.READY.value):
            _skip(target)
    if not succeeded or plan.rollback:
        return ()
    group = deployment.group
    group.definition = {**group.definition, FLEET_KEY: {"hosts": list(plan.green), "deploymentId": deployment.id}}
    group.target_revision = deployment.revision
    group.updated_at = utcnow()
    serving = {t.host_name for t in deployment.targets if t.status == TargetStatus.SUCCEEDED.value}
    for host in plan.green:
        _stand(session, deployment, host, host in serving)
    if not (plan.options.terminate and plan.blue):
        return ()
    session.execute(
        delete(GroupHost).where(GroupHost.group_id == deployment.group_id, GroupHost.host_name.in_(plan.blue))
    )
    return plan.blue


def _stand(session: Any, deployment: Deployment, host: str, healthy: bool) -> None:
    """A replacement host's standing in the group: Healthy on the new revision, or Unhealthy with none."""
    row = session.get(GroupHost, (deployment.group_id, host))
    if row is None:
        if session.get(DeployHost, host) is None:
            return  # the host was deregistered meanwhile
        row = GroupHost(group_id=deployment.group_id, host_name=host)
        session.add(row)
    row.instance_health = (InstanceHealth.HEALTHY if healthy else InstanceHealth.UNHEALTHY).value
    row.revision = deployment.revision if healthy else None
    row.updated_at = utcnow()


def _set_status(deployment: Deployment, hosts: tuple[str, ...], status: TargetStatus) -> None:
    wanted = set(hosts)
    for target in deployment.targets:
        if target.host_name in wanted:
            target.status = status.value


def _skip(target: DeploymentTarget) -> None:
    target.status = TargetStatus.SKIPPED.value
    target.lifecycle_events = [
        {**e, "status": LifecycleEventStatus.SKIPPED.value}
        if e["status"] == LifecycleEventStatus.PENDING.value
        else dict(e)
        for e in target.lifecycle_events
    ]
