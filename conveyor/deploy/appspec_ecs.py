"""The AppSpec of ECS blue/green deployments: the service's new task definition, the container that takes traffic.

    Resources:
      - TargetService:
          Type: AWS::ECS::Service
          Properties:
            TaskDefinition: <ARN, family[:revision], or a pipeline's <PLACEHOLDER>>    required
            LoadBalancerInfo: {ContainerName, ContainerPort}                           required
            PlatformVersion: LATEST                                                    Fargate only
            NetworkConfiguration: {AwsvpcConfiguration: {Subnets, SecurityGroups, AssignPublicIp}}
            CapacityProviderStrategy: [{CapacityProvider, Base, Weight}]
    Hooks: BeforeInstall, AfterInstall, AfterAllowTestTraffic, BeforeAllowTraffic, AfterAllowTraffic

A task definition written `<NAME>` is the placeholder CodePipeline's ECS blue/green action replaces with the task
definition it registers; it is accepted, with a note.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

from conveyor.deploy.appspec_events import ComputePlatform
from conveyor.deploy.appspec_fields import (
    Fields,
    nested_fields,
    number_of,
    read_fields,
    require,
    sorted_notes,
    string_items_at,
    text_of,
)
from conveyor.deploy.appspec_functions import read_outline
from conveyor.errors import Problem
from conveyor.specfile import Path as SpecPath
from conveyor.specfile import ProblemList

PROPERTY_KEYS = (
    "TaskDefinition",
    "LoadBalancerInfo",
    "PlatformVersion",
    "NetworkConfiguration",
    "CapacityProviderStrategy",
)
LOAD_BALANCER_KEYS = ("ContainerName", "ContainerPort")
AWSVPC_KEYS = ("Subnets", "SecurityGroups", "AssignPublicIp")
STRATEGY_KEYS = ("CapacityProvider", "Base", "Weight")
TASK_DEFINITION = re.compile(
    r"(?:arn:aws[a-zA-Z-]*:ecs:[a-z0-9-]+:\d{12}:task-definition/[A-Za-z0-9_-]{1,255}:\d+"
    r"|[A-Za-z0-9_-]{1,255}(?::\d+)?)\Z"
)
PLACEHOLDER = re.compile(r"<[^<>\s]+>\Z")
CONTAINER_NAME = re.compile(r"[A-Za-z0-9_-]{1,255}\Z")
MAX_SUBNETS, MAX_SECURITY_GROUPS, MAX_CAPACITY_PROVIDERS = 16, 5, 6


@dataclass(frozen=True)
class AwsVpcConfiguration:
    subnets: tuple[str, ...]
    security_groups: tuple[str, ...]
    assign_public_ip: str  # ENABLED | DISABLED


@dataclass(frozen=True)
class CapacityProviderStrategyItem:
    capacity_provider: str
    base: int = 0
    weight: int = 0


@dataclass(frozen=True)
class EcsServiceTarget:
    """The service's replacement task set: task definition, the container and port the load balancer sends to."""

    logical_name: str
    task_definition: str
    container_name: str
    container_port: int
    platform_version: str | None = None  # None: the service's own (LATEST on Fargate)
    network_configuration: AwsVpcConfiguration | None = None
    capacity_provider_strategy: tuple[CapacityProviderStrategyItem, ...] = ()


@dataclass(frozen=True)
class EcsAppSpec:
    """A valid ECS AppSpec. `hooks` maps each hooked event (in the order events run) to its function."""

    platform: ClassVar[ComputePlatform] = ComputePlatform.ECS

    version: str
    service: EcsServiceTarget
    hooks: dict[str, str] = field(default_factory=dict)
    notes: tuple[Problem, ...] = ()

    @property
    def hook_count(self) -> int:
        return len(self.hooks)


def parse_ecs_appspec(data: dict[str, Any], problems: ProblemList, notes: ProblemList) -> EcsAppSpec | None:
    """Read an ECS AppSpec, adding each problem to `problems`; None only when a problem says why."""
    outline = read_outline(data, ComputePlatform.ECS, problems, PROPERTY_KEYS)
    if outline.logical_name is None:
        return None
    service = _service(outline.logical_name, outline.properties, problems, notes)
    return None if service is None else EcsAppSpec(outline.version, service, outline.hooks, sorted_notes(notes))


def _service(
    logical_name: str, properties: Fields, problems: ProblemList, notes: ProblemList
) -> EcsServiceTarget | None:
    require(properties, ["TaskDefinition", "LoadBalancerInfo"], problems)
    task_definition = _task_definition(properties, problems, notes)
    container = _load_balancer_info(properties, problems)
    platform_version = text_of(properties, "PlatformVersion", problems, "a Fargate platform version like LATEST")
    network = _network_configuration(properties, problems)
    strategy = _capacity_provider_strategy(properties, problems)
    if task_definition is None or container is None:
        return None
    return EcsServiceTarget(logical_name, task_definition, *container, platform_version, network, strategy)


def _task_definition(properties: Fields, problems: ProblemList, notes: ProblemList) -> str | None:
    text = text_of(properties, "TaskDefinition", problems, "the ARN of a task definition")
    if text is not None and PLACEHOLDER.match(text):
        notes.add(properties.at("TaskDefinition"), f"{text} is a placeholder: the pipeline's action must replace it")
    elif text is not None and not TASK_DEFINITION.match(text):
        problems.add(properties.at("TaskDefinition"), f"{text!r} is not a task definition ARN or family:revision")
        return None
    return text


def _load_balancer_info(properties: Fields, problems: ProblemList) -> tuple[str, int] | None:
    info = nested_fields(properties, "LoadBalancerInfo", problems, LOAD_BALANCER_KEYS, any_case=True)
    if info is None:
        return None
    require(info, LOAD_BALANCER_KEYS, problems)
    name = text_of(info, "ContainerName", problems, "the name of a container of the task definition")
    if name is not None and not CONTAINER_NAME.match(name):
        problems.add(info.at("ContainerName"), f"{name!r} is not a container name (letters, digits, - and _)")
        name = None
    port = number_of(info, "ContainerPort", problems, (1, 65535))
    return (name, port) if name is not None and port is not None else None


def _network_configuration(properties: Fields, problems: ProblemList) -> AwsVpcConfiguration | None:
    outer = nested_fields(properties, "NetworkConfiguration", problems, ["AwsvpcConfiguration"], any_case=True)
    if outer is None:
        return None
    require(outer, ["AwsvpcConfiguration"], problems)
    awsvpc = nested_fields(outer, "AwsvpcConfiguration", problems, AWSVPC_KEYS, any_case=True)
    if awsvpc is None:
        return None
    require(awsvpc, AWSVPC_KEYS, problems)
    subnets = _ids(awsvpc, "Subnets", MAX_SUBNETS, problems)
    groups = _ids(awsvpc, "SecurityGroups", MAX_SECURITY_GROUPS, problems)
    public_ip = text_of(awsvpc, "AssignPublicIp", problems, "ENABLED or DISABLED")
    if public_ip is not None and public_ip not in ("ENABLED", "DISABLED"):
        problems.add(awsvpc.at("AssignPublicIp"), f"{public_ip!r} is not ENABLED or DISABLED")
        return None
    if not subnets or not groups or public_ip is None:
        return None
    return AwsVpcConfiguration(subnets, groups, public_ip)


def _ids(fields: Fields, key: str, most: int, problems: ProblemList) -> tuple[str, ...]:
    if key not in fields:
        return ()
    items = string_items_at(fields.get(key), fields.at(key), problems, "an id")
    if not items:
        problems.add(fields.at(key), f"needs from 1 to {most} ids")
    elif len(items) > most:
        problems.add(fields.at(key), f"holds {len(items)} ids; at most {most} are allowed")
    return tuple(text for _, text in items)


def _capacity_provider_strategy(properties: Fields, problems: ProblemList) -> tuple[CapacityProviderStrategyItem, ...]:
    value, path = properties.get("CapacityProviderStrategy"), properties.at("CapacityProviderStrategy")
    if value is None:
        return ()
    if not isinstance(value, list):
        problems.add(path, "must be a list of entries (- CapacityProvider: FARGATE_SPOT, Base: 0, Weight: 1)")
        return ()
    if len(value) > MAX_CAPACITY_PROVIDERS:
        problems.add(path, f"holds {len(value)} capacity providers; at most {MAX_CAPACITY_PROVIDERS} are allowed")
    found = [_strategy_item(item, (*path, index), problems) for index, item in enumerate(value)]
    return tuple(item for item in found if item is not None)


def _strategy_item(value: Any, path: SpecPath, problems: ProblemList) -> CapacityProviderStrategyItem | None:
    if not isinstance(value, dict):
        problems.add(path, "must be a mapping with CapacityProvider (and Base, Weight)")
        return None
    item = read_fields(value, path, problems, STRATEGY_KEYS, any_case=True)
    require(item, ["CapacityProvider"], problems)
    provider = text_of(item, "CapacityProvider", problems, "the name of a capacity provider")
    base = number_of(item, "Base", problems, (0, 100000), default=0)
    weight = number_of(item, "Weight", problems, (0, 1000), default=0)
    if provider is None or base is None or weight is None:
        return None
    return CapacityProviderStrategyItem(provider, base, weight)
