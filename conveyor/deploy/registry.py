"""The deploy engine's registry: applications, custom deployment configurations, deployment groups and the hosts
agents register, with the answers the API and CLI give (CodeDeploy's `get-*` shapes)."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from conveyor.db.deploy_models import CustomDeploymentConfig, DeployApplication, DeployHost, DeploymentGroup
from conveyor.db.models import utcnow
from conveyor.deploy.blue_green import FLEET_KEY
from conveyor.deploy.config_spec import deployment_config_from, parse_deployment_config
from conveyor.deploy.configs import PREDEFINED, DeploymentConfig, resolve_config
from conveyor.deploy.group_spec import parse_deployment_group
from conveyor.deploy.platforms import ComputePlatform
from conveyor.deploy.targets import targeted
from conveyor.errors import Conflict, InvalidRequest, NotFound
from conveyor.queues import HOST_QUEUE_PREFIX
from conveyor.runtime import Runtime
from conveyor.timefmt import iso

_NAME = re.compile(r"^[A-Za-z0-9.@_+=,-]{1,100}$")
_HOST = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def create_application(rt: Runtime, name: str, compute_platform: str = "Server") -> dict[str, Any]:
    """CreateApplication."""
    if not _NAME.match(name):
        raise InvalidRequest(f"application name {name!r}: 1 to 100 letters, digits or .@_+=,-")
    platform = _platform(compute_platform)
    with rt.db.session() as session:
        if _application(session, name, required=False) is not None:
            raise Conflict(f"an application named {name!r} already exists")
        application = DeployApplication(name=name, compute_platform=platform.value)
        session.add(application)
        session.flush()
        return _application_info(application)


def list_applications(rt: Runtime) -> list[dict[str, Any]]:
    with rt.db.reader() as session:
        return [
            _application_info(a) for a in session.scalars(select(DeployApplication).order_by(DeployApplication.name))
        ]


def get_application(rt: Runtime, name: str) -> dict[str, Any]:
    with rt.db.reader() as session:
        application = _application(session, name)
        return {**_application_info(application), "deploymentGroups": [g.name for g in application.groups]}


def create_deployment_config(rt: Runtime, text: str, source: str = "deployment configuration") -> dict[str, Any]:
    """CreateDeploymentConfig from create-deployment-config's input (YAML or JSON)."""
    config = parse_deployment_config(text, source)
    with rt.db.session() as session:
        if session.get(CustomDeploymentConfig, config.name) is not None:
            raise Conflict(f"a deployment configuration named {config.name!r} already exists")
        session.add(CustomDeploymentConfig(name=config.name, definition=config.to_info()))
        return config.to_info()


def list_deployment_configs(rt: Runtime) -> list[str]:
    with rt.db.reader() as session:
        return sorted([*PREDEFINED, *custom_configs(session)])


def get_deployment_config(rt: Runtime, name: str) -> dict[str, Any]:
    with rt.db.reader() as session:
        config = PREDEFINED.get(name) or custom_configs(session).get(name)
    if config is None:
        raise NotFound(f"no deployment configuration named {name!r}")
    return config.to_info()


def custom_configs(session: Session) -> dict[str, DeploymentConfig]:
    return {
        row.name: deployment_config_from(row.definition, f"deployment configuration {row.name}")
        for row in session.scalars(select(CustomDeploymentConfig))
    }


def create_deployment_group(
    rt: Runtime, application_name: str, text: str, source: str = "deployment group"
) -> dict[str, Any]:
    """CreateDeploymentGroup from create-deployment-group's input (YAML or JSON)."""
    with rt.db.session() as session:
        application = _application(session, application_name)
        platform = ComputePlatform(application.compute_platform)
        spec = parse_deployment_group(text, platform, source)
        config = resolve_config(spec.config_name, platform, custom_configs(session))
        if any(g.name == spec.name for g in application.groups):
            raise Conflict(f"application {application_name!r} already has a deployment group named {spec.name!r}")
        group = DeploymentGroup(
            application_id=application.id,
            name=spec.name,
            deployment_config_name=config.name,
            definition={**spec.definition, "deploymentConfigName": config.name},
        )
        session.add(group)
        session.flush()
        return _group_info(session, application, group)


def get_deployment_group(rt: Runtime, application_name: str, name: str) -> dict[str, Any]:
    with rt.db.reader() as session:
        application = _application(session, application_name)
        group = next((g for g in application.groups if g.name == name), None)
        if group is None:
            raise NotFound(f"application {application_name!r} has no deployment group named {name!r}")
        return _group_info(session, application, group)


def register_host(rt: Runtime, name: str, tags: dict[str, str]) -> dict[str, Any]:
    """What an agent does as it starts (RegisterOnPremisesInstance + AddTagsToOnPremisesInstances): the host, its
    tags (replacing those it had) and the queue its agent works."""
    if not _HOST.match(name):
        raise InvalidRequest(f"host name {name!r}: up to 100 letters, digits, '.', '_' or '-', starting alphanumeric")
    if len(tags) > 10 or any(not k or len(k) > 128 or len(v) > 256 for k, v in tags.items()):
        raise InvalidRequest("a host takes at most 10 tags, keys of 1 to 128 characters and values up to 256")
    with rt.db.session() as session:
        host = session.get(DeployHost, name)
        now = utcnow()
        if host is None:
            host = DeployHost(name=name, queue=HOST_QUEUE_PREFIX + name, registered_at=now)
            session.add(host)
        host.tags = dict(tags)
        host.last_seen_at = now
        session.flush()
        return _host_info(host)


def list_hosts(rt: Runtime) -> list[dict[str, Any]]:
    with rt.db.reader() as session:
        return [_host_info(h) for h in session.scalars(select(DeployHost).order_by(DeployHost.name))]


def group_hosts(session: Session, group: DeploymentGroup) -> list[DeployHost]:
    """The group's registered hosts, by name: those its tag filters match, or, once a blue/green deployment to it
    has succeeded, that deployment's replacement hosts (kept in its definition under `blueGreenFleet`)."""
    hosts = session.scalars(select(DeployHost).order_by(DeployHost.name))
    fleet = group.definition.get(FLEET_KEY)
    if fleet is not None:
        names = set(fleet["hosts"])
        return [h for h in hosts if h.name in names]
    return [h for h in hosts if targeted(group.definition, h.tags)]


def _platform(value: str) -> ComputePlatform:
    try:
        return ComputePlatform(value)
    except ValueError:
        raise InvalidRequest(f"compute platform must be Server, Lambda or ECS, not {value!r}") from None


def _application(session: Session, name: str, *, required: bool = True) -> DeployApplication:
    found = session.scalars(select(DeployApplication).where(DeployApplication.name == name)).one_or_none()
    if found is None and required:
        raise NotFound(f"no application named {name!r}")
    return found  # type: ignore[return-value]


def _application_info(application: DeployApplication) -> dict[str, Any]:
    return {
        "applicationName": application.name,
        "computePlatform": application.compute_platform,
        "createTime": iso(application.created_at),
    }


def _group_info(session: Session, application: DeployApplication, group: DeploymentGroup) -> dict[str, Any]:
    return {
        **group.definition,
        "applicationName": application.name,
        "deploymentGroupId": group.id,
        "computePlatform": application.compute_platform,
        "targetRevision": group.target_revision,
        "hosts": [h.name for h in group_hosts(session, group)],
    }


def _host_info(host: DeployHost) -> dict[str, Any]:
    return {
        "instanceName": host.name,
        "tags": [{"Key": k, "Value": v} for k, v in sorted(host.tags.items())],
        "queue": host.queue,
        "registerTime": iso(host.registered_at),
        "lastSeenTime": iso(host.last_seen_at),
    }
