"""Deployment configurations (§2.5 of the AWS semantics): the predefined table, custom ones, and their numbers. Pure.

A configuration says how fast a deployment goes:

* on hosts (compute platform `Server`), through a minimum of healthy hosts — `HOST_COUNT` (a number of hosts) or
  `FLEET_PERCENT` (a share of the fleet, rounded up to whole hosts) — from which `conveyor.deploy.batching` plans
  the batches and decides success or failure;
* on Lambda aliases and ECS services, through a traffic routing — `TimeBasedCanary` (a share first, the rest after
  one interval), `TimeBasedLinear` (equal shares, one per interval) or `AllAtOnce` — from which
  `conveyor.deploy.lifecycle.traffic_plan` derives the weights and the waits.

Names and shapes are CodeDeploy's: `conveyor.deploy.config_spec` reads a custom configuration as
`create-deployment-config` takes it, and `DeploymentConfig.to_info` gives what `get-deployment-config` prints.
Intervals are minutes, as AWS has them; `IntervalUnit.SECONDS` reads the same numbers as seconds, so a test or a
demo of `LambdaCanary10Percent5Minutes` waits five seconds instead of five minutes.

Decisions where AWS is silent or contradicts itself:

* `CodeDeployDefault.OneAtATime` is listed as a 99 % minimum, but 99 % of fewer than 100 hosts rounds up to every
  host, which would fail every deployment at once. Its API answer (`MOST_CONCURRENCY`, 1) and its documented
  behaviour are "every host but one stays healthy", which is what Conveyor uses. `MOST_CONCURRENCY` is not
  accepted in custom configurations, as AWS does not accept it.
* Custom names may not start with `CodeDeployDefault.`, the predefined configurations' namespace.
* `FLEET_PERCENT` 100 is refused (such a minimum can never let a host go offline), and so is a canary or linear
  step of 100 % (that is `AllAtOnce`).
* A `Server` configuration needs `minimumHealthyHosts` and takes no `trafficRoutingConfig`; a `Lambda` or `ECS`
  one needs `trafficRoutingConfig` and takes neither `minimumHealthyHosts` nor `zonalConfig`.
* Without a configuration, a deployment uses OneAtATime on hosts (as AWS does) and AllAtOnce on Lambda and ECS.
* `zonalConfig` is validated and kept; the planner does not deploy zone by zone yet.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from conveyor.deploy.platforms import ComputePlatform
from conveyor.errors import InvalidRequest, NotFound

PREDEFINED_PREFIX = "CodeDeployDefault."


class MinimumHealthyHostsType(str, Enum):
    HOST_COUNT = "HOST_COUNT"
    FLEET_PERCENT = "FLEET_PERCENT"
    MOST_CONCURRENCY = "MOST_CONCURRENCY"  # predefined only: at most `value` hosts are deployed to at once


class TrafficRoutingType(str, Enum):
    TIME_BASED_CANARY = "TimeBasedCanary"
    TIME_BASED_LINEAR = "TimeBasedLinear"
    ALL_AT_ONCE = "AllAtOnce"


class IntervalUnit(str, Enum):
    """How the interval numbers of a traffic routing are read: minutes, as AWS reads them, or seconds (tests)."""

    MINUTES = "minutes"
    SECONDS = "seconds"

    def seconds(self, amount: int) -> int:
        return amount * 60 if self is IntervalUnit.MINUTES else amount


@dataclass(frozen=True)
class MinimumHealthyHosts:
    type: MinimumHealthyHostsType
    value: int

    def hosts(self, fleet_size: int) -> int:
        """The minimum as a number of hosts of a fleet of `fleet_size` (a percentage rounded up to whole hosts)."""
        if self.type is MinimumHealthyHostsType.FLEET_PERCENT:
            return -(-fleet_size * self.value // 100)
        if self.type is MinimumHealthyHostsType.MOST_CONCURRENCY:
            return max(fleet_size - self.value, 0)
        return self.value

    def to_info(self) -> dict[str, Any]:
        return {"type": self.type.value, "value": self.value}


@dataclass(frozen=True)
class TrafficRouting:
    """How traffic moves to the new version: `percentage` is the canary's first step or each linear step."""

    type: TrafficRoutingType
    percentage: int = 100
    interval: int = 0  # between two steps, in the configuration's unit (minutes for AWS)

    def interval_seconds(self, unit: IntervalUnit = IntervalUnit.MINUTES) -> int:
        return unit.seconds(self.interval)

    def to_info(self) -> dict[str, Any]:
        info: dict[str, Any] = {"type": self.type.value}
        if self.type is TrafficRoutingType.TIME_BASED_CANARY:
            info["timeBasedCanary"] = {"canaryPercentage": self.percentage, "canaryInterval": self.interval}
        elif self.type is TrafficRoutingType.TIME_BASED_LINEAR:
            info["timeBasedLinear"] = {"linearPercentage": self.percentage, "linearInterval": self.interval}
        return info


@dataclass(frozen=True)
class ZonalConfig:
    """One Availability Zone at a time: the wait after each zone and the minimum healthy hosts kept in each."""

    first_zone_monitor_seconds: int | None = None  # None: `monitor_seconds` applies to the first zone too
    monitor_seconds: int | None = None  # None: the next zone starts at once
    minimum_healthy_hosts_per_zone: MinimumHealthyHosts = field(
        default_factory=lambda: MinimumHealthyHosts(MinimumHealthyHostsType.FLEET_PERCENT, 0)
    )

    def to_info(self) -> dict[str, Any]:
        info: dict[str, Any] = {"minimumHealthyHostsPerZone": self.minimum_healthy_hosts_per_zone.to_info()}
        if self.first_zone_monitor_seconds is not None:
            info["firstZoneMonitorDurationInSeconds"] = self.first_zone_monitor_seconds
        if self.monitor_seconds is not None:
            info["monitorDurationInSeconds"] = self.monitor_seconds
        return info


@dataclass(frozen=True)
class DeploymentConfig:
    name: str
    compute_platform: ComputePlatform = ComputePlatform.SERVER
    minimum_healthy_hosts: MinimumHealthyHosts | None = None  # Server only
    traffic_routing: TrafficRouting | None = None  # Lambda and ECS only
    zonal: ZonalConfig | None = None  # Server only

    @property
    def predefined(self) -> bool:
        return self.name.startswith(PREDEFINED_PREFIX)

    def to_info(self) -> dict[str, Any]:
        """The configuration as `get-deployment-config` prints its `deploymentConfigInfo`."""
        info: dict[str, Any] = {"deploymentConfigName": self.name, "computePlatform": self.compute_platform.value}
        if self.minimum_healthy_hosts is not None:
            info["minimumHealthyHosts"] = self.minimum_healthy_hosts.to_info()
        if self.traffic_routing is not None:
            info["trafficRoutingConfig"] = self.traffic_routing.to_info()
        if self.zonal is not None:
            info["zonalConfig"] = self.zonal.to_info()
        return info


# -- the predefined configurations ------------------------------------------------------------------------------


def _server(suffix: str, kind: MinimumHealthyHostsType, value: int) -> DeploymentConfig:
    return DeploymentConfig(PREDEFINED_PREFIX + suffix, ComputePlatform.SERVER, MinimumHealthyHosts(kind, value))


def _routed(platform: ComputePlatform, suffix: str, routing: TrafficRouting) -> DeploymentConfig:
    return DeploymentConfig(PREDEFINED_PREFIX + suffix, platform, traffic_routing=routing)


def _canary(percentage: int, minutes: int) -> TrafficRouting:
    return TrafficRouting(TrafficRoutingType.TIME_BASED_CANARY, percentage, minutes)


def _linear(percentage: int, minutes: int) -> TrafficRouting:
    return TrafficRouting(TrafficRoutingType.TIME_BASED_LINEAR, percentage, minutes)


ALL_AT_ONCE = TrafficRouting(TrafficRoutingType.ALL_AT_ONCE)
_LAMBDA, _ECS = ComputePlatform.LAMBDA, ComputePlatform.ECS

PREDEFINED: Mapping[str, DeploymentConfig] = {
    config.name: config
    for config in (
        _server("OneAtATime", MinimumHealthyHostsType.MOST_CONCURRENCY, 1),
        _server("HalfAtATime", MinimumHealthyHostsType.FLEET_PERCENT, 50),
        _server("AllAtOnce", MinimumHealthyHostsType.HOST_COUNT, 0),
        *(_routed(_LAMBDA, f"LambdaCanary10Percent{m}Minutes", _canary(10, m)) for m in (5, 10, 15, 30)),
        _routed(_LAMBDA, "LambdaLinear10PercentEvery1Minute", _linear(10, 1)),
        *(_routed(_LAMBDA, f"LambdaLinear10PercentEvery{m}Minutes", _linear(10, m)) for m in (2, 3, 10)),
        _routed(_LAMBDA, "LambdaAllAtOnce", ALL_AT_ONCE),
        *(_routed(_ECS, f"ECSLinear10PercentEvery{m}Minutes", _linear(10, m)) for m in (1, 3)),
        *(_routed(_ECS, f"ECSCanary10Percent{m}Minutes", _canary(10, m)) for m in (5, 15)),
        _routed(_ECS, "ECSAllAtOnce", ALL_AT_ONCE),
    )
}

DEFAULT_CONFIGS: Mapping[ComputePlatform, str] = {
    ComputePlatform.SERVER: PREDEFINED_PREFIX + "OneAtATime",
    ComputePlatform.LAMBDA: PREDEFINED_PREFIX + "LambdaAllAtOnce",
    ComputePlatform.ECS: PREDEFINED_PREFIX + "ECSAllAtOnce",
}


class DeploymentConfigNotFound(NotFound):
    code = "DeploymentConfigDoesNotExist"


class IncompatibleDeploymentConfig(InvalidRequest):
    code = "InvalidDeploymentConfig"


def resolve_config(
    name: str | None, platform: ComputePlatform, custom: Mapping[str, DeploymentConfig] | None = None
) -> DeploymentConfig:
    """The configuration a deployment on `platform` uses: `name` (predefined or in `custom`), or the default."""
    name = name or DEFAULT_CONFIGS[platform]
    known = {**(custom or {}), **PREDEFINED}
    config = known.get(name)
    if config is None:
        hint = difflib.get_close_matches(name, list(known), n=1)
        suggestion = f"; did you mean {hint[0]}?" if hint else ""
        raise DeploymentConfigNotFound(f"deployment configuration {name} does not exist{suggestion}")
    if config.compute_platform is not platform:
        raise IncompatibleDeploymentConfig(
            f"deployment configuration {name} is for the {config.compute_platform.value} compute platform, "
            f"not {platform.value}"
        )
    return config
