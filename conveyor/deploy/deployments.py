"""Deployments: create (CreateDeployment), get, list, stop and redeploy, with CodeDeploy's answer shapes.

A deployment is refused before anything runs when its revision's AppSpec is invalid (every problem at once), when
its group already has a deployment in progress (409, naming it), or when its group asks for traffic control with no
load balancer to control. In-place groups with traffic control through ELBv2 target groups (`targetGroupInfoList`),
Classic Load Balancers (`elbInfoList`) or both are deployed to with the BlockTraffic and AllowTraffic events.

A blue/green group (deploymentType BLUE_GREEN) needs traffic control through target groups, Classic Load Balancers
or both, and each deployment names its replacement hosts by their tags in `targetInstances`
(greenFleetProvisioningOption DISCOVER_EXISTING); it is refused when they match no registered host, when a host is
both an original (the group's) and a replacement, and when the group asks for COPY_AUTO_SCALING_GROUP (there is no
Auto Scaling here). `targetInstances` on an in-place group is refused too. The orchestration of hosts is
`conveyor.deploy.orchestration`, the phases of blue/green `conveyor.deploy.blue_green`.

Lambda and ECS groups take a revision holding an AppSpec of their platform (`conveyor.deploy.function_revisions`)
and move the alias, or the service's listeners to a replacement task set, as the deployment configuration plans;
their orchestration is `conveyor.deploy.traffic_deployments`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from conveyor.config import Settings
from conveyor.db import lock
from conveyor.db.deploy_models import DeployApplication, DeployHost, Deployment, DeploymentGroup
from conveyor.deploy import ecs_rollout, lambda_rollout, orchestration, traffic_deployments
from conveyor.deploy.alarms import AlarmDecision
from conveyor.deploy.appspec import LambdaAppSpec
from conveyor.deploy.blue_green import check_target_instances, replacement_hosts
from conveyor.deploy.blue_green_fleet import plan_of
from conveyor.deploy.configs import DeploymentConfig, IntervalUnit, resolve_config
from conveyor.deploy.deployment_shapes import deployment_info, target_info
from conveyor.deploy.fleet_alarms import alarm_decision
from conveyor.deploy.function_revisions import check_function_revision
from conveyor.deploy.install import FileExistsBehavior
from conveyor.deploy.lifecycle import traffic_plan
from conveyor.deploy.load_balancers import traffic_controlled
from conveyor.deploy.platforms import ComputePlatform
from conveyor.deploy.registry import custom_configs, group_hosts
from conveyor.deploy.revisions import check_revision, check_revision_shape
from conveyor.deploy.status import DeploymentErrorCode, DeploymentStatus
from conveyor.dispatch import Outbox
from conveyor.errors import Conflict, InvalidRequest, NotFound
from conveyor.runtime import Runtime

ROLLBACK_EVENTS = ("DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM", "DEPLOYMENT_STOP_ON_REQUEST")


@dataclass(frozen=True)
class DeploymentRequest:
    """CreateDeployment's input."""

    application_name: str
    group_name: str
    revision: dict[str, Any]
    deployment_config_name: str | None = None
    description: str | None = None
    file_exists_behavior: str = FileExistsBehavior.DISALLOW.value
    ignore_application_stop_failures: bool = False
    auto_rollback: dict[str, Any] | None = None  # overrides the group's autoRollbackConfiguration
    action_execution_id: str | None = None  # a pipeline's CodeDeploy action, told when the deployment ends
    target_instances: dict[str, Any] | None = None  # blue/green: the replacement hosts, by their tags


def create_deployment(rt: Runtime, request: DeploymentRequest) -> dict[str, Any]:
    """CreateDeployment: validate everything, then start the deployment; answers the new deployment."""
    revision = check_revision_shape(request.revision)
    _check_options(request)
    with rt.db.reader() as session:
        platform = ComputePlatform(
            _group(session, request.application_name, request.group_name).application.compute_platform
        )
    if platform is not ComputePlatform.SERVER:
        return _create_rollout(rt, request, revision, platform)
    if request.target_instances is not None:
        request = replace(request, target_instances=check_target_instances(request.target_instances))
    check_revision(rt, revision)
    alarms = _alarms_before_start(rt, request)
    with rt.transaction() as (session, outbox):
        group = _group(session, request.application_name, request.group_name)
        _check_group(group, request.target_instances)
        config = _lock_group(session, group, request, platform)
        sides = _sides(session, group, request.target_instances) if _blue_green(group) else None
        deployment = _new_deployment(group, revision, config, request)
        session.add(deployment)
        _start(session, outbox, deployment, sides, alarms, request.target_instances)
        session.flush()
        return deployment_info(deployment)


def _start(
    session: Session,
    outbox: Outbox,
    deployment: Deployment,
    sides: tuple[list[str], list[str]] | None,
    alarms: AlarmDecision,
    target_instances: dict[str, Any] | None,
) -> None:
    """Start the first batch: in place over the group's hosts, or blue/green over its two `sides`."""
    if sides is None:
        orchestration.start_fleet(session, outbox, deployment, group_hosts(session, deployment.group), alarms)
    else:
        orchestration.start_blue_green(session, outbox, deployment, sides, alarms, target_instances)


def _create_rollout(
    rt: Runtime, request: DeploymentRequest, revision: dict[str, Any], platform: ComputePlatform
) -> dict[str, Any]:
    """A deployment of a Lambda or ECS AppSpec: checked completely, then its job sent."""
    spec = check_function_revision(rt, revision, platform)
    with rt.transaction() as (session, outbox):
        group = _group(session, request.application_name, request.group_name)
        if isinstance(spec, LambdaAppSpec):
            target, recorded = lambda_rollout.target_id(spec.function), lambda_rollout.recorded(spec)
        else:
            service = ecs_rollout.ecs_service(group.definition)
            target, recorded = ecs_rollout.target_id(service), ecs_rollout.recorded(spec, group.definition)
        config = _lock_group(session, group, request, platform)
        deployment = _new_deployment(group, revision, config, request)
        session.add(deployment)
        fleet = _rollout_fleet(rt.settings, platform, recorded, config)
        traffic_deployments.begin_rollout(session, outbox, deployment, target, fleet)
        session.flush()
        return deployment_info(deployment)


def _rollout_fleet(
    settings: Settings, platform: ComputePlatform, recorded: dict[str, Any], config: DeploymentConfig
) -> dict[str, Any]:
    assert config.traffic_routing is not None  # every Lambda and ECS configuration has one
    shifts = traffic_plan(config.traffic_routing, IntervalUnit(settings.deploy_interval_unit))
    return traffic_deployments.new_fleet(platform, recorded, shifts, settings.deploy_hook_timeout)


def _lock_group(
    session: Session, group: DeploymentGroup, request: DeploymentRequest, platform: ComputePlatform
) -> DeploymentConfig:
    """Take the group (refused while another deployment holds it) and resolve the deployment's configuration."""
    lock(session, DeploymentGroup, group.id, key_share=True)
    _refuse_if_active(session, group)
    name = request.deployment_config_name or group.deployment_config_name
    return resolve_config(name, platform, custom_configs(session))


def _new_deployment(
    group: DeploymentGroup, revision: dict[str, Any], config: DeploymentConfig, request: DeploymentRequest
) -> Deployment:
    return Deployment(
        id=orchestration.new_deployment_id(),
        group=group,
        active_group_id=group.id,
        revision=revision,
        status=DeploymentStatus.CREATED.value,
        creator="user",
        deployment_config_name=config.name,
        description=request.description,
        file_exists_behavior=request.file_exists_behavior,
        ignore_application_stop_failures=request.ignore_application_stop_failures,
        auto_rollback=request.auto_rollback,
        action_execution_id=request.action_execution_id,
        fleet={},
    )


def _alarms_before_start(rt: Runtime, request: DeploymentRequest) -> AlarmDecision:
    """Poll the group's alarms before the first batch, outside the transaction that starts it."""
    with rt.db.reader() as session:
        group = dict(_group(session, request.application_name, request.group_name).definition)
    return alarm_decision(rt.settings, group)


def redeploy(rt: Runtime, deployment_id: str, description: str | None = None) -> dict[str, Any]:
    """A new deployment of an earlier deployment's revision to its group, with its options (a manual rollback)."""
    with rt.db.reader() as session:
        earlier = _deployment(session, deployment_id)
        request = DeploymentRequest(
            application_name=earlier.group.application.name,
            group_name=earlier.group.name,
            revision=earlier.revision,
            deployment_config_name=earlier.deployment_config_name,
            description=description or f"redeploy of the revision of {earlier.id}",
            file_exists_behavior=earlier.file_exists_behavior,
            ignore_application_stop_failures=earlier.ignore_application_stop_failures,
            auto_rollback=earlier.auto_rollback,
            target_instances=_target_instances_of(earlier),
        )
    return create_deployment(rt, request)


def _target_instances_of(deployment: Deployment) -> dict[str, Any] | None:
    plan = plan_of(deployment)
    return None if plan is None or plan.target_instances is None else dict(plan.target_instances)


def stop_deployment(rt: Runtime, deployment_id: str, rollback: bool | None = None) -> dict[str, Any]:
    """StopDeployment: nothing more starts; `rollback` True or False overrides DEPLOYMENT_STOP_ON_REQUEST."""
    with rt.transaction() as (session, outbox):
        deployment = lock(session, Deployment, deployment_id)
        if deployment is None:
            raise NotFound(f"no deployment {deployment_id!r}")
        if DeploymentStatus(deployment.status).final:
            raise Conflict(f"deployment {deployment_id} is already {deployment.status}")
        if rollback is not None:
            deployment.auto_rollback = _with_stop_rollback(deployment, rollback)
        code, message = DeploymentErrorCode.MANUAL_STOP, "the deployment was stopped by request"
        if traffic_deployments.is_rollout(deployment):
            traffic_deployments.stop(deployment, code, message)
        else:
            orchestration.stop(session, outbox, deployment, code, message)
        session.flush()
        return {"status": "Pending" if not DeploymentStatus(deployment.status).final else "Succeeded"}


def get_deployment(rt: Runtime, deployment_id: str) -> dict[str, Any]:
    """GetDeployment, with each target's lifecycle events (BatchGetDeploymentTargets) under `targets`."""
    with rt.db.reader() as session:
        deployment = _deployment(session, deployment_id)
        return {**deployment_info(deployment), "targets": [target_info(t) for t in deployment.targets]}


def list_deployments(rt: Runtime, application_name: str, group_name: str, limit: int = 50) -> list[dict[str, Any]]:
    """The group's deployments, newest first."""
    with rt.db.reader() as session:
        group = _group(session, application_name, group_name)
        rows = session.scalars(
            select(Deployment)
            .where(Deployment.group_id == group.id)
            .order_by(Deployment.created_at.desc())
            .limit(limit)
        )
        return [deployment_info(d) for d in rows]


def _check_options(request: DeploymentRequest) -> None:
    if request.file_exists_behavior not in FileExistsBehavior.__members__:
        raise InvalidRequest(
            f"fileExistsBehavior {request.file_exists_behavior!r} must be one of DISALLOW, OVERWRITE, RETAIN"
        )
    config = request.auto_rollback
    if config is None:
        return
    events = config.get("events", []) if isinstance(config, dict) else None
    if not isinstance(config, dict) or not isinstance(config.get("enabled"), bool) or not isinstance(events, list):
        raise InvalidRequest("autoRollbackConfiguration must be {enabled: true|false, events: [...]}")
    unknown = [e for e in events if e not in ROLLBACK_EVENTS]
    if unknown:
        raise InvalidRequest(f"autoRollbackConfiguration.events: {unknown} are not among {', '.join(ROLLBACK_EVENTS)}")


def _blue_green(group: DeploymentGroup) -> bool:
    return (group.definition.get("deploymentStyle") or {}).get("deploymentType") == "BLUE_GREEN"


def _check_group(group: DeploymentGroup, target_instances: dict[str, Any] | None) -> None:
    """Refuse what deployments on hosts cannot do yet, before anything is recorded."""
    style = group.definition.get("deploymentStyle") or {}
    if _blue_green(group):
        _check_blue_green(group, target_instances)
    elif target_instances is not None:
        raise InvalidRequest(
            f"deployment group {group.name} deploys in place: targetInstances names the replacement hosts of "
            "blue/green deployments only"
        )
    if style.get("deploymentOption") == "WITH_TRAFFIC_CONTROL" and not traffic_controlled(group.definition):
        raise InvalidRequest(
            f"deployment group {group.name}: traffic control needs loadBalancerInfo.targetGroupInfoList or "
            "loadBalancerInfo.elbInfoList"
        )


def _check_blue_green(group: DeploymentGroup, target_instances: dict[str, Any] | None) -> None:
    where = f"deployment group {group.name}"
    provisioning = (group.definition.get("blueGreenDeploymentConfiguration") or {}).get(
        "greenFleetProvisioningOption"
    ) or {}
    if provisioning.get("action") == "COPY_AUTO_SCALING_GROUP":
        raise InvalidRequest(
            f"{where}: greenFleetProvisioningOption COPY_AUTO_SCALING_GROUP copies an Auto Scaling group, and "
            "Conveyor's hosts have none; use DISCOVER_EXISTING and name the replacement hosts in targetInstances"
        )
    if not traffic_controlled(group.definition):
        raise InvalidRequest(
            f"{where}: a blue/green deployment on hosts reroutes traffic through load balancers; set "
            "deploymentStyle.deploymentOption WITH_TRAFFIC_CONTROL and name ELBv2 target groups in "
            "loadBalancerInfo.targetGroupInfoList or Classic Load Balancers in loadBalancerInfo.elbInfoList"
        )
    if target_instances is None:
        raise InvalidRequest(
            f"{where} deploys blue/green: name the replacement hosts by their tags in targetInstances.tagFilters"
        )


def _sides(
    session: Session, group: DeploymentGroup, target_instances: dict[str, Any] | None
) -> tuple[list[str], list[str]]:
    """The original hosts (the group's) and the replacement hosts (`targetInstances`) of a blue/green deployment."""
    assert target_instances is not None
    blue = [host.name for host in group_hosts(session, group)]
    registered = {host.name: dict(host.tags) for host in session.scalars(select(DeployHost))}
    green = replacement_hosts(target_instances, registered)
    if not green:
        raise InvalidRequest(
            f"targetInstances {target_instances} match no registered host: register the replacement hosts "
            "(conveyor agent --tag …) before deploying to them"
        )
    both = sorted(set(blue) & set(green))
    if both:
        raise InvalidRequest(
            f"{', '.join(both)}: a host cannot be both an original host (of deployment group {group.name}) and a "
            "replacement host (matched by targetInstances); tag the replacement hosts apart"
        )
    return blue, green


def _refuse_if_active(session: Session, group: DeploymentGroup) -> None:
    active = session.scalars(select(Deployment.id).where(Deployment.active_group_id == group.id)).first()
    if active is not None:
        raise Conflict(
            f"deployment group {group.name} already has deployment {active} in progress; "
            "wait for it to end or stop it first"
        )


def _with_stop_rollback(deployment: Deployment, rollback: bool) -> dict[str, Any]:
    config = dict(deployment.auto_rollback or deployment.group.definition.get("autoRollbackConfiguration") or {})
    events = [e for e in config.get("events", []) if e != "DEPLOYMENT_STOP_ON_REQUEST"]
    if rollback:
        return {"enabled": True, "events": [*events, "DEPLOYMENT_STOP_ON_REQUEST"]}
    return {"enabled": bool(config.get("enabled")), "events": events}


def _group(session: Session, application_name: str, group_name: str) -> DeploymentGroup:
    group = session.scalars(
        select(DeploymentGroup)
        .join(DeployApplication)
        .where(DeployApplication.name == application_name, DeploymentGroup.name == group_name)
    ).one_or_none()
    if group is None:
        raise NotFound(f"application {application_name!r} has no deployment group named {group_name!r}")
    return group


def _deployment(session: Session, deployment_id: str) -> Deployment:
    deployment = session.get(Deployment, deployment_id)
    if deployment is None:
        raise NotFound(f"no deployment {deployment_id!r}")
    return deployment
