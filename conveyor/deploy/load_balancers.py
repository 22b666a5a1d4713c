"""BlockTraffic and AllowTraffic on hosts behind ELBv2 target groups (§2.2 of the AWS semantics).

A deployment group with traffic control names its target groups in `loadBalancerInfo.targetGroupInfoList`
(`[{name}, …]`). On one host, through one `elbv2` client from `conveyor.aws.client`:

* `block_traffic` deregisters the host's target from every target group, then polls `describe_target_health`
  until no group has it any more (draining is over: AWS reports it `unused` / `Target.NotRegistered`);
* `allow_traffic` registers the host's target with every target group, then polls until every group reports it
  `healthy`.

Both wait at most `TrafficWait.timeout_seconds` (an hour by default, as a lifecycle event), sleeping
`poll_seconds` between looks; sleep and clock are injected so tests wait for nothing. A step that times out fails
with TIMEOUT naming the target group, the host and the target's last state and reason.

How a host maps to a target, Conveyor's choice (the CodeDeploy agent knows its EC2 instance; Conveyor's hosts are
any machine): the host's tag `ElbTargetId` (an EC2 instance id, or an IP address for `ip` target groups) and, when
the target listens on another port than the group's, `ElbTargetPort`. Without the tag, a host whose name is itself
an instance id (`i-…`) or an IP address is that target. Any other host is refused (ELB_INVALID_INSTANCE), as is a
target of the wrong kind for its group (an IP address in an `instance` group, or the reverse). A deregistration
of a target that is not registered is not an error: BlockTraffic is then already done.

What moto does (the tests run on it): a registered target is `healthy` at once, whatever its id (an instance
stopped after its registration reports `unused`, `Target.InvalidState`); registering a stopped instance is refused
(`InvalidTarget`); a deregistered target is gone at once (no draining), except the targets of terminated
instances, which stay `draining`. So a wait for health that times out is not reachable in moto; the wait loop is
the same for both steps and is tested through a target left draining.
"""

from __future__ import annotations

import ipaddress
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from conveyor.deploy.aws_calls import AWS_ERRORS, AwsStepFailed, StepErrorCode, aws_error_code, step_failed
from conveyor.deploy.status import DeploymentErrorCode

TARGET_ID_TAG = "ElbTargetId"
TARGET_PORT_TAG = "ElbTargetPort"
INSTANCE_ID = re.compile(r"i-[0-9a-f]{8,17}\Z")  # an EC2 instance id
_MISSING_GROUP = ("TargetGroupNotFound", "TargetGroupNotFoundException")
NOT_REGISTERED = "Target.NotRegistered"
NOT_IN_USE = "Target.NotInUse"


@dataclass(frozen=True)
class HostTarget:
    """The ELBv2 target that stands for a host: an instance id or an IP address, and a port when not the group's."""

    host: str
    id: str
    port: int | None = None

    @property
    def kind(self) -> str:
        return "instance" if INSTANCE_ID.match(self.id) else "ip"

    def as_target(self) -> dict[str, Any]:
        return {"Id": self.id} if self.port is None else {"Id": self.id, "Port": self.port}

    def __str__(self) -> str:
        shown = self.id if self.port is None else f"{self.id}:{self.port}"
        return f"host {self.host} (target {shown})"


@dataclass(frozen=True)
class TargetGroup:
    name: str
    arn: str
    target_type: str  # instance | ip | lambda | alb


@dataclass(frozen=True)
class TrafficWait:
    """How long BlockTraffic and AllowTraffic wait for the load balancer, and how."""

    timeout_seconds: float = 3600.0
    poll_seconds: float = 5.0
    sleep: Callable[[float], None] = field(default=time.sleep)
    clock: Callable[[], float] = field(default=time.monotonic)


def host_target(host: str, tags: Mapping[str, str]) -> HostTarget:
    """The target of a registered host, from its tags or its name. Pure."""
    target_id = tags.get(TARGET_ID_TAG) or (host if _is_target_id(host) else None)
    if target_id is None or not _is_target_id(target_id):
        given = (
            f"its {TARGET_ID_TAG} tag {target_id!r} is" if TARGET_ID_TAG in tags else "it has no load balancer target:"
        )
        raise AwsStepFailed(
            f"host {host}: {given} not an EC2 instance id or IP address; tag the host with {TARGET_ID_TAG} "
            f"(and {TARGET_PORT_TAG} when its port is not the target group's)",
            StepErrorCode.ELB_INVALID_INSTANCE,
        )
    return HostTarget(host, target_id, _port(host, tags.get(TARGET_PORT_TAG)))


def _is_target_id(text: str) -> bool:
    if INSTANCE_ID.match(text):
        return True
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _port(host: str, text: str | None) -> int | None:
    if text is None:
        return None
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise AwsStepFailed(
            f"host {host}: its {TARGET_PORT_TAG} tag {text!r} is not a port from 1 to 65535",
            StepErrorCode.ELB_INVALID_INSTANCE,
        )
    return int(text)


def target_group_names(group: Mapping[str, Any]) -> tuple[str, ...]:
    """The target groups of a deployment group in its request shape (`loadBalancerInfo.targetGroupInfoList`)."""
    info = (group.get("loadBalancerInfo") or {}).get("targetGroupInfoList") or []
    return tuple(dict.fromkeys(str(entry["name"]) for entry in info))


def classic_load_balancer_names(group: Mapping[str, Any]) -> tuple[str, ...]:
    """The Classic Load Balancers of a deployment group in its request shape (`loadBalancerInfo.elbInfoList`); their
    steps are `conveyor.deploy.classic_load_balancers`."""
    info = (group.get("loadBalancerInfo") or {}).get("elbInfoList") or []
    return tuple(dict.fromkeys(str(entry["name"]) for entry in info))


def traffic_controlled(group: Mapping[str, Any]) -> bool:
    """Whether a deployment group's hosts leave and rejoin its load balancers around their deployment. Pure.

    Only with `deploymentStyle.deploymentOption` WITH_TRAFFIC_CONTROL and target groups or Classic Load Balancers to
    name: a group that describes a load balancer without traffic control is deployed to as if it had none, as in
    CodeDeploy.
    """
    style = group.get("deploymentStyle") or {}
    named = target_group_names(group) or classic_load_balancer_names(group)
    return style.get("deploymentOption") == "WITH_TRAFFIC_CONTROL" and bool(named)


def resolve_target_groups(
    elbv2: Any, names: Sequence[str], listed_in: str = "loadBalancerInfo.targetGroupInfoList"
) -> list[TargetGroup]:
    """The named target groups, each looked up by name; a missing one is named."""
    groups = []
    for name in names:
        try:
            [found] = elbv2.describe_target_groups(Names=[name])["TargetGroups"]
        except AWS_ERRORS as exc:
            where = f"target group {name} of {listed_in}"
            raise step_failed(where, exc, StepErrorCode.ELASTIC_LOAD_BALANCING_INVALID, *_MISSING_GROUP) from None
        groups.append(TargetGroup(name, found["TargetGroupArn"], found.get("TargetType", "instance")))
    return groups


def check_target_kind(group: TargetGroup, target: HostTarget) -> None:
    """Refuse a target its group cannot take (an IP address in an instance group, or the reverse). Pure."""
    if group.target_type in ("instance", "ip") and group.target_type != target.kind:
        raise AwsStepFailed(
            f"target group {group.name} takes {group.target_type} targets; {target} is an "
            f"{'instance id' if target.kind == 'instance' else 'IP address'}",
            StepErrorCode.ELB_INVALID_INSTANCE,
        )


# -- the decisions on what describe_target_health says ----------------------------------------------------------


def is_blocked(health: Mapping[str, Any] | None) -> bool:
    """Whether a target's health description says it is out of the group (deregistered, draining over). Pure."""
    return health is None or health.get("Reason") == NOT_REGISTERED


def is_allowed(health: Mapping[str, Any] | None) -> bool:
    """Whether a target's health description says it serves traffic. Pure."""
    return health is not None and health.get("State") == "healthy"


def never_allowed(health: Mapping[str, Any] | None) -> bool:
    """Whether waiting cannot help: the group serves no load balancer, so no health check will ever run. Pure."""
    return health is not None and health.get("Reason") == NOT_IN_USE


def describe_state(health: Mapping[str, Any] | None) -> str:
    if health is None:
        return "not reported"
    reason = f", {health['Reason']}" if health.get("Reason") else ""
    detail = f": {health['Description']}" if health.get("Description") else ""
    return f"{health.get('State', 'unknown')}{reason}{detail}"


# -- the steps --------------------------------------------------------------------------------------------------


def block_traffic(
    elbv2: Any, names: Sequence[str], host: str, tags: Mapping[str, str], wait: TrafficWait | None = None
) -> None:
    """BlockTraffic: deregister the host's target from every named target group and wait until it is out of each."""
    target, groups = _prepare(elbv2, names, host, tags)
    for group in groups:
        try:
            elbv2.deregister_targets(TargetGroupArn=group.arn, Targets=[target.as_target()])
        except AWS_ERRORS as exc:
            if aws_error_code(exc) != "InvalidTarget":  # not registered: nothing to take out
                raise _refused(f"could not deregister {target} from target group {group.name}", exc) from None
    _wait_for(elbv2, groups, target, wait or TrafficWait(), is_blocked, "to leave")


def allow_traffic(
    elbv2: Any, names: Sequence[str], host: str, tags: Mapping[str, str], wait: TrafficWait | None = None
) -> None:
    """AllowTraffic: register the host's target with every named target group and wait until it is healthy in each."""
    target, groups = _prepare(elbv2, names, host, tags)
    for group in groups:
        try:
            elbv2.register_targets(TargetGroupArn=group.arn, Targets=[target.as_target()])
        except AWS_ERRORS as exc:
            raise _refused(f"could not register {target} with target group {group.name}", exc) from None
    _wait_for(elbv2, groups, target, wait or TrafficWait(), is_allowed, "to become healthy in")


def _prepare(
    elbv2: Any, names: Sequence[str], host: str, tags: Mapping[str, str]
) -> tuple[HostTarget, list[TargetGroup]]:
    target = host_target(host, tags)
    if not names:
        raise AwsStepFailed(
            f"{target}: the deployment group names no target group (loadBalancerInfo.targetGroupInfoList)",
            StepErrorCode.ELASTIC_LOAD_BALANCING_INVALID,
        )
    groups = resolve_target_groups(elbv2, names)
    for group in groups:
        check_target_kind(group, target)
    return target, groups


def target_health(elbv2: Any, group: TargetGroup, target: HostTarget) -> dict[str, Any] | None:
    """The target's `TargetHealth` in the group, as describe_target_health reports it (None: not reported)."""
    try:
        answer = elbv2.describe_target_health(TargetGroupArn=group.arn, Targets=[target.as_target()])
    except AWS_ERRORS as exc:
        raise _refused(f"could not read the health of {target} in target group {group.name}", exc) from None
    for description in answer.get("TargetHealthDescriptions", []):
        if description["Target"]["Id"] == target.id:
            health: dict[str, Any] = description.get("TargetHealth", {})
            return health
    return None


def _wait_for(
    elbv2: Any,
    groups: list[TargetGroup],
    target: HostTarget,
    wait: TrafficWait,
    done: Callable[[Mapping[str, Any] | None], bool],
    goal: str,
) -> None:
    deadline = wait.clock() + wait.timeout_seconds
    waiting = list(groups)
    while True:
        last = {group.name: target_health(elbv2, group, target) for group in waiting}
        waiting = [group for group in waiting if not done(last[group.name])]
        if not waiting:
            return
        first = waiting[0]
        if done is is_allowed and never_allowed(last[first.name]):
            raise AwsStepFailed(
                f"{target} cannot become healthy in target group {first.name}: {describe_state(last[first.name])}",
                StepErrorCode.ELASTIC_LOAD_BALANCING_INVALID,
            )
        if wait.clock() >= deadline:
            raise AwsStepFailed(
                f"{target} did not manage {goal} target group {first.name} within {wait.timeout_seconds:g} s; "
                f"last state: {describe_state(last[first.name])}",
                DeploymentErrorCode.TIMEOUT,
            )
        wait.sleep(wait.poll_seconds)


def _refused(what: str, exc: Any) -> AwsStepFailed:
    if aws_error_code(exc) == "InvalidTarget":  # e.g. an instance that is not running
        return step_failed(what, exc, StepErrorCode.ELB_INVALID_INSTANCE, "InvalidTarget")
    return step_failed(what, exc, StepErrorCode.ELASTIC_LOAD_BALANCING_INVALID, *_MISSING_GROUP)
