"""Custom deployment configurations as `create-deployment-config` takes them: parse and validate. Pure.

The input is the request's shape (`deploymentConfigName`, `computePlatform`, `minimumHealthyHosts`,
`trafficRoutingConfig`, `zonalConfig`), or the `{"deploymentConfigInfo": {...}}` that `get-deployment-config`
prints (its `deploymentConfigId` and `createTime` are ignored), in YAML or JSON. Every problem is reported at once
with its field path (and line, from a file). The rules are in `conveyor.deploy.configs`.
"""

from __future__ import annotations

import re
from enum import Enum
from typing import Any, TypeVar

from conveyor.deploy.configs import (
    ALL_AT_ONCE,
    PREDEFINED_PREFIX,
    DeploymentConfig,
    MinimumHealthyHosts,
    MinimumHealthyHostsType,
    TrafficRouting,
    TrafficRoutingType,
    ZonalConfig,
)
from conveyor.deploy.platforms import ComputePlatform
from conveyor.errors import Problem, SpecError
from conveyor.specfile import Document, ProblemList, load_document
from conveyor.specfile import Path as SpecPath

_NAME = re.compile(r"^[A-Za-z0-9+=,.@_-]{1,100}$")
_INFO_ONLY = frozenset({"deploymentConfigId", "createTime"})  # what get-deployment-config adds; not settable
_Choice = TypeVar("_Choice", bound=Enum)


class DeploymentConfigError(SpecError):
    """A custom deployment configuration is invalid; every problem is listed with its field path."""

    code = "InvalidDeploymentConfig"


def parse_deployment_config(text: str, source: str = "deployment configuration") -> DeploymentConfig:
    """A custom configuration from YAML or JSON text: create-deployment-config's input, or get's answer."""
    try:
        document = load_document(text, source)
    except SpecError as exc:
        raise DeploymentConfigError(exc.source, exc.problems) from None
    return read_deployment_config(document)


def deployment_config_from(data: Any, source: str = "deploymentConfig") -> DeploymentConfig:
    """A custom configuration from a request body already decoded (the API's JSON)."""
    return read_deployment_config(Document(source, data))


def read_deployment_config(document: Document) -> DeploymentConfig:
    problems = ProblemList(document)
    data: Any = document.data
    prefix: SpecPath = ()
    if isinstance(data, dict) and set(data) == {"deploymentConfigInfo"}:
        data, prefix = data["deploymentConfigInfo"], ("deploymentConfigInfo",)
    if not isinstance(data, dict):
        problems.add(prefix, "a deployment configuration must be a mapping with a deploymentConfigName")
        _raise_if_any(problems)
    config = _read(data, prefix, problems)
    _raise_if_any(problems)
    assert config is not None
    return config


def _raise_if_any(problems: ProblemList) -> None:
    if problems:
        ordered: list[Problem] = sorted(problems, key=lambda p: (p.line or 0, p.path))
        raise DeploymentConfigError(problems.document.source, ordered)


def _read(data: dict[str, Any], prefix: SpecPath, problems: ProblemList) -> DeploymentConfig | None:
    known = {"deploymentConfigName", "computePlatform", "minimumHealthyHosts", "trafficRoutingConfig", "zonalConfig"}
    _unknown_keys(data, known | _INFO_ONLY, prefix, problems)
    name = _name(data.get("deploymentConfigName"), (*prefix, "deploymentConfigName"), problems)
    platform = _platform(data.get("computePlatform"), (*prefix, "computePlatform"), problems)
    minimum = _placed(data, "minimumHealthyHosts", platform, ComputePlatform.SERVER, prefix, problems)
    routing = _placed(data, "trafficRoutingConfig", platform, None, prefix, problems)
    zonal = _placed(data, "zonalConfig", platform, ComputePlatform.SERVER, prefix, problems)
    config = DeploymentConfig(
        name=name or "",
        compute_platform=platform or ComputePlatform.SERVER,
        minimum_healthy_hosts=_minimum(minimum, (*prefix, "minimumHealthyHosts"), problems),
        traffic_routing=_routing(routing, (*prefix, "trafficRoutingConfig"), problems),
        zonal=_zonal(zonal, (*prefix, "zonalConfig"), problems),
    )
    return None if problems else config


def _placed(
    data: dict[str, Any],
    key: str,
    platform: ComputePlatform | None,
    only: ComputePlatform | None,
    prefix: SpecPath,
    problems: ProblemList,
) -> Any:
    """The section `key`, checked against the platform: `only` names the one platform it belongs to (None: any
    but Server). A section the platform needs but lacks is reported here; one it cannot take is reported and
    dropped."""
    value = data.get(key)
    if platform is None:
        return value
    belongs = platform is only if only is not None else platform is not ComputePlatform.SERVER
    needed = key != "zonalConfig"
    if value is None and belongs and needed:
        problems.add((*prefix, key), f"is required for the {platform.value} compute platform")
    elif value is not None and not belongs:
        where = f"the {only.value} compute platform" if only is not None else "the Lambda and ECS compute platforms"
        problems.add((*prefix, key), f"applies to {where} only, not {platform.value}")
        return None
    return value


def _name(value: Any, path: SpecPath, problems: ProblemList) -> str | None:
    if not isinstance(value, str) or not _NAME.match(value):
        problems.add(path, "needs a name of 1 to 100 letters, digits or + = , . @ _ -")
        return None
    if value.startswith(PREDEFINED_PREFIX):
        problems.add(path, f"names starting with {PREDEFINED_PREFIX} are reserved for the predefined configurations")
        return None
    return value


def _platform(value: Any, path: SpecPath, problems: ProblemList) -> ComputePlatform | None:
    if value is None:
        return ComputePlatform.SERVER
    try:
        return ComputePlatform(value)
    except ValueError:
        problems.add(path, f"must be one of {', '.join(p.value for p in ComputePlatform)}")
        return None


def _minimum(value: Any, path: SpecPath, problems: ProblemList) -> MinimumHealthyHosts | None:
    section = _section(value, path, {"type", "value"}, problems)
    if section is None:
        return None
    choices = (MinimumHealthyHostsType.HOST_COUNT, MinimumHealthyHostsType.FLEET_PERCENT)
    kind = _choice(section.get("type"), (*path, "type"), choices, problems)
    if kind is MinimumHealthyHostsType.FLEET_PERCENT:
        amount = _integer(section.get("value"), (*path, "value"), problems, 0, 99, "a percentage from 0 to 99")
    else:
        amount = _integer(section.get("value"), (*path, "value"), problems, 0, None, "a number of hosts, 0 or more")
    return MinimumHealthyHosts(kind, amount) if kind is not None and amount is not None else None


def _routing(value: Any, path: SpecPath, problems: ProblemList) -> TrafficRouting | None:
    section = _section(value, path, {"type", "timeBasedCanary", "timeBasedLinear"}, problems)
    if section is None:
        return None
    kind = _choice(section.get("type"), (*path, "type"), tuple(TrafficRoutingType), problems)
    steps = {
        TrafficRoutingType.TIME_BASED_CANARY: ("timeBasedCanary", "canaryPercentage", "canaryInterval"),
        TrafficRoutingType.TIME_BASED_LINEAR: ("timeBasedLinear", "linearPercentage", "linearInterval"),
    }
    for other, (key, _, _) in steps.items():
        if kind is not None and other is not kind and key in section:
            problems.add((*path, key), f"does not apply to type {kind.value}")
    if kind is None or kind is TrafficRoutingType.ALL_AT_ONCE:
        return ALL_AT_ONCE if kind is not None else None
    key, percentage_key, interval_key = steps[kind]
    step = _section(section.get(key), (*path, key), {percentage_key, interval_key}, problems, required=True)
    if step is None:
        return None
    percentage = _integer(
        step.get(percentage_key), (*path, key, percentage_key), problems, 1, 99, "a percentage from 1 to 99"
    )
    interval = _integer(
        step.get(interval_key), (*path, key, interval_key), problems, 1, None, "a number of minutes, 1 or more"
    )
    return TrafficRouting(kind, percentage, interval) if percentage is not None and interval is not None else None


def _zonal(value: Any, path: SpecPath, problems: ProblemList) -> ZonalConfig | None:
    keys = {"firstZoneMonitorDurationInSeconds", "monitorDurationInSeconds", "minimumHealthyHostsPerZone"}
    section = _section(value, path, keys, problems)
    if section is None:
        return None
    durations = {
        key: _integer(section.get(key), (*path, key), problems, 0, None, "a number of seconds, 0 or more")
        if section.get(key) is not None
        else None
        for key in ("firstZoneMonitorDurationInSeconds", "monitorDurationInSeconds")
    }
    per_zone = section.get("minimumHealthyHostsPerZone")
    minimum = _minimum(per_zone, (*path, "minimumHealthyHostsPerZone"), problems) if per_zone is not None else None
    return ZonalConfig(
        durations["firstZoneMonitorDurationInSeconds"],
        durations["monitorDurationInSeconds"],
        minimum or ZonalConfig().minimum_healthy_hosts_per_zone,
    )


# -- reading values ---------------------------------------------------------------------------------------------


def _section(
    value: Any, path: SpecPath, keys: set[str], problems: ProblemList, *, required: bool = False
) -> dict[str, Any] | None:
    if value is None:
        if required:
            problems.add(path, "is required")
        return None
    if not isinstance(value, dict):
        problems.add(path, "must be a mapping")
        return None
    _unknown_keys(value, keys, path, problems)
    return value


def _unknown_keys(
    data: dict[str, Any], known: set[str] | frozenset[str], path: SpecPath, problems: ProblemList
) -> None:
    for key in sorted(set(map(str, data)) - known):
        problems.add((*path, key), f"unknown key; expected one of {', '.join(sorted(known - _INFO_ONLY))}")


def _choice(value: Any, path: SpecPath, choices: tuple[_Choice, ...], problems: ProblemList) -> _Choice | None:
    for choice in choices:
        if value == choice.value:
            return choice
    problems.add(path, f"must be one of {', '.join(str(c.value) for c in choices)}")
    return None


def _integer(value: Any, path: SpecPath, problems: ProblemList, low: int, high: int | None, meaning: str) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        problems.add(path, f"must be an integer ({meaning})")
        return None
    if value < low or (high is not None and value > high):
        problems.add(path, f"must be {meaning}, not {value}")
        return None
    return value
