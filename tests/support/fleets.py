"""Fleets of hosts for the deploy engine's tests, and a driver that runs a deployment's batches to the end."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from conveyor.deploy.batching import FleetState, HostHealth, InstanceHealth, Outcome, advance, begin, record
from conveyor.deploy.configs import PREDEFINED, MinimumHealthyHosts, MinimumHealthyHostsType
from conveyor.deploy.status import DeploymentErrorCode, DeploymentStatus, TargetStatus

ONE_AT_A_TIME = PREDEFINED["CodeDeployDefault.OneAtATime"].minimum_healthy_hosts
HALF_AT_A_TIME = PREDEFINED["CodeDeployDefault.HalfAtATime"].minimum_healthy_hosts
ALL_AT_ONCE = PREDEFINED["CodeDeployDefault.AllAtOnce"].minimum_healthy_hosts
assert ONE_AT_A_TIME is not None
assert HALF_AT_A_TIME is not None
assert ALL_AT_ONCE is not None
SUCCEEDED, FAILED, STOPPED = DeploymentStatus.SUCCEEDED, DeploymentStatus.FAILED, DeploymentStatus.STOPPED
HEALTH, INVALID = DeploymentErrorCode.HEALTH_CONSTRAINTS, DeploymentErrorCode.HEALTH_CONSTRAINTS_INVALID
HEALTHY, UNHEALTHY = InstanceHealth.HEALTHY, InstanceHealth.UNHEALTHY


def count(value: int) -> MinimumHealthyHosts:
    return MinimumHealthyHosts(MinimumHealthyHostsType.HOST_COUNT, value)


def percent(value: int) -> MinimumHealthyHosts:
    return MinimumHealthyHosts(MinimumHealthyHostsType.FLEET_PERCENT, value)


def fleet(size: int, revision: str | None = "r1") -> dict[str, HostHealth]:
    """`size` healthy hosts h1, h2, … running `revision` (the group's current one by default)."""
    return {f"h{i}": HostHealth(HEALTHY, revision) for i in range(1, size + 1)}


def names(*numbers: int) -> tuple[str, ...]:
    return tuple(f"h{n}" for n in numbers)


def span(first: int, last: int) -> tuple[str, ...]:
    return names(*range(first, last + 1))


@dataclass(frozen=True)
class Run:
    batches: tuple[tuple[str, ...], ...]
    outcome: Outcome
    state: FleetState

    @property
    def skipped(self) -> tuple[str, ...]:
        return self.state.hosts(TargetStatus.SKIPPED)


def deploy(
    hosts: Mapping[str, HostHealth],
    minimum: MinimumHealthyHosts,
    failing: Collection[str] = (),
    group_revision: str | None = "r1",
) -> Run:
    """Run a deployment to its end: the hosts in `failing` fail, the others succeed."""
    step = begin(hosts, minimum, group_revision)
    while step.outcome is None:
        assert step.start, "a deployment in progress must have something to wait for"
        state = step.state
        for host in step.start:
            state = record(state, host, succeeded=host not in failing)
        step = advance(state)
    return Run(step.state.batches, step.outcome, step.state)
