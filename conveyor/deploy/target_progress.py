"""What a host's agent reads and writes about its target while it works: so the API shows per-host progress.

Each call is one short transaction on the target's row (only its own agent writes its lifecycle events; the
orchestration writes its status). `HostWork` is everything the host needs to know about the deployment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from conveyor.db import lock
from conveyor.db.deploy_models import DeployHost, Deployment, DeploymentTarget
from conveyor.db.models import utcnow
from conveyor.deploy.blue_green import phase_steps
from conveyor.deploy.blue_green_fleet import plan_of
from conveyor.deploy.hooks import DeploymentIdentity, S3Bundle
from conveyor.deploy.lifecycle import LifecycleStep, in_place_events
from conveyor.deploy.load_balancers import classic_load_balancer_names, target_group_names, traffic_controlled
from conveyor.deploy.orchestration import halted
from conveyor.deploy.revisions import location_of
from conveyor.deploy.status import LifecycleEventStatus, TargetStatus
from conveyor.runtime import Runtime
from conveyor.timefmt import iso


@dataclass(frozen=True)
class HostWork:
    """One host's part of a deployment."""

    deployment_id: str
    host: str
    group_id: str
    group_name: str
    application_name: str
    revision: dict[str, Any]
    file_exists_behavior: str
    ignore_application_stop_failures: bool
    target_groups: tuple[str, ...] = ()  # the ELBv2 target groups it leaves and rejoins
    classic_load_balancers: tuple[str, ...] = ()  # the Classic Load Balancers too; neither: no traffic control
    host_tags: Mapping[str, str] = field(default_factory=dict)  # where its load balancer target comes from
    steps: tuple[LifecycleStep, ...] = ()  # the events to run now, in order; none: the in-place ones

    def identity(self) -> DeploymentIdentity:
        """What the hook scripts are told (BUNDLE_* for an S3 revision)."""
        bundle = None
        if self.revision["revisionType"] == "S3":
            location = location_of(self.revision)
            bundle = S3Bundle(location["bucket"], location["key"], location.get("eTag"), location.get("version"))
        return DeploymentIdentity(self.deployment_id, self.application_name, self.group_name, self.group_id, bundle)


def begin_target(rt: Runtime, deployment_id: str, host: str) -> HostWork | None:
    """The host's work, its start recorded; None when the target is not to be deployed to (any more)."""
    with rt.db.session() as session:
        target = lock(session, DeploymentTarget, (deployment_id, host))
        if target is None or target.status != TargetStatus.IN_PROGRESS.value:
            return None
        deployment = target.deployment
        if target.started_at is None:
            target.started_at = utcnow()
        return HostWork(
            deployment_id=deployment.id,
            host=host,
            group_id=deployment.group_id,
            group_name=deployment.group.name,
            application_name=deployment.group.application.name,
            revision=deployment.revision,
            file_exists_behavior=deployment.file_exists_behavior,
            ignore_application_stop_failures=deployment.ignore_application_stop_failures,
            target_groups=_target_groups(deployment.group.definition),
            classic_load_balancers=_classic_load_balancers(deployment.group.definition),
            host_tags=_tags(session.get(DeployHost, host)),
            steps=_steps(deployment, host),
        )


def _steps(deployment: Deployment, host: str) -> tuple[LifecycleStep, ...]:
    """The events of the host's job: in place, all of them; blue/green, those of the current phase on its side."""
    plan = plan_of(deployment)
    if plan is None:
        return in_place_events(load_balancer=traffic_controlled(deployment.group.definition))
    return phase_steps(plan, plan.phase, host)


def _target_groups(group: dict[str, Any]) -> tuple[str, ...]:
    return target_group_names(group) if traffic_controlled(group) else ()


def _classic_load_balancers(group: dict[str, Any]) -> tuple[str, ...]:
    return classic_load_balancer_names(group) if traffic_controlled(group) else ()


def _tags(host: DeployHost | None) -> dict[str, str]:
    return {} if host is None else {str(k): str(v) for k, v in host.tags.items()}


def record_event(
    rt: Runtime,
    work: HostWork,
    event: str,
    status: LifecycleEventStatus,
    started_at: datetime | None = None,
    ended_at: datetime | None = None,
    diagnostics: dict[str, str] | None = None,
) -> None:
    """Set one lifecycle event's status (and times and diagnostics, when given) on the host's target."""
    with rt.db.session() as session:
        target = lock(session, DeploymentTarget, (work.deployment_id, work.host))
        if target is None:
            return
        events = [dict(e) for e in target.lifecycle_events]
        for entry in events:
            if entry["lifecycleEventName"] == event:
                entry["status"] = status.value
                if started_at is not None:
                    entry["startTime"] = iso(started_at)
                if ended_at is not None:
                    entry["endTime"] = iso(ended_at)
                if diagnostics is not None:
                    entry["diagnostics"] = diagnostics
        target.lifecycle_events = events
        target.updated_at = utcnow()


def skip_remaining(rt: Runtime, work: HostWork) -> None:
    """Mark every event still Pending as Skipped."""
    with rt.db.session() as session:
        target = lock(session, DeploymentTarget, (work.deployment_id, work.host))
        if target is None:
            return
        target.lifecycle_events = [
            {**e, "status": LifecycleEventStatus.SKIPPED.value}
            if e["status"] == LifecycleEventStatus.PENDING.value
            else dict(e)
            for e in target.lifecycle_events
        ]


def deployment_halted(rt: Runtime, deployment_id: str) -> bool:
    """Whether the deployment was stopped (or has ended) while this host works."""
    with rt.db.reader() as session:
        deployment = session.get(Deployment, deployment_id)
        return deployment is None or halted(deployment)
