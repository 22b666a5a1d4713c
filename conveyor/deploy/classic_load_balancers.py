"""BlockTraffic and AllowTraffic on hosts behind Classic Load Balancers (§2.2 of the AWS semantics).

A deployment group names its Classic Load Balancers in `loadBalancerInfo.elbInfoList` (`[{name}, …]`); it may name
ELBv2 target groups beside them (`conveyor.deploy.load_balancers`), and then a host leaves and rejoins both. The two
steps have the same shape as the target groups' ones. On one host, through one `elb` client from
`conveyor.aws.client`:

* `block_traffic` deregisters the host's instance from every load balancer
  (`deregister_instances_from_load_balancer`), then polls `describe_instance_health` until no load balancer has it
  any more: with connection draining enabled, AWS keeps reporting the instance (InService, "Instance
  deregistration currently in progress") until its in-flight requests are done or the draining timeout ends;
* `allow_traffic` registers the instance with every load balancer (`register_instances_with_load_balancer`), then
  polls until every one reports it `InService`.

Every named load balancer is looked up (`describe_load_balancers`) before anything is changed: an unknown name fails
the step with ELASTIC_LOAD_BALANCING_INVALID naming the host, the load balancer and AWS's reason, and nothing is
registered or deregistered. A step waits at most `TrafficWait.timeout_seconds` (an hour by default, as a lifecycle
event), and BlockTraffic at least the longest connection draining timeout of its load balancers (plus one poll), so
that draining is never cut short; a step that times out fails with TIMEOUT naming the load balancer, the host and
the instance's last state.

How a host names itself to a Classic Load Balancer, Conveyor's choice (Classic Load Balancers take EC2 instance ids
only, and Conveyor's hosts are any machine): the host's tag `ElbInstanceId`; without it, its `ElbTargetId` tag (the
ELBv2 target, see `conveyor.deploy.load_balancers`) when that is an instance id, else its name when that is an
instance id (`i-…`). `ElbInstanceId` is there for a host that is an IP address to its target groups and an instance
to its Classic Load Balancers. A host none of these names, or whose `ElbInstanceId` is not an instance id (a tag
given wrong is not guessed around), is refused (ELB_INVALID_INSTANCE) naming the host and the load balancers,
before any call. Deregistering an instance that is not registered is not an error: BlockTraffic is then already
done.

What the answers of describe_instance_health mean, Conveyor's reading: an instance is out of a load balancer when
AWS does not report it (a terminated instance), refuses it (`InvalidInstance`), describes it as "not currently
registered" (AWS answers for an instance asked about by id even once it is deregistered), or reports it `Unknown`
for another reason than a passing fault of the load balancer (ReasonCode `ELB`; moto's answer for an instance not
registered); it serves when it is `InService` and its deregistration is not in progress.

What moto does (the tests run on it): registering takes any instance id at once, whatever the instance's state (an
id no EC2 instance has is then never reported); an instance not registered is reported `Unknown`; a registered
instance is `InService` while running and `OutOfService` otherwise; deregistering is immediate (no draining). So
AllowTraffic's wait is tested through a stopped instance, which never comes InService; a wait for draining is not
reachable in moto, and what its answers mean is tested on their own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from conveyor.deploy.aws_calls import AWS_ERRORS, AwsStepFailed, StepErrorCode, aws_error_code, step_failed
from conveyor.deploy.load_balancers import INSTANCE_ID, TARGET_ID_TAG, TrafficWait
from conveyor.deploy.status import DeploymentErrorCode

INSTANCE_ID_TAG = "ElbInstanceId"
LISTED_IN = "loadBalancerInfo.elbInfoList"
_MISSING = ("LoadBalancerNotFound",)
NOT_REGISTERED = "InvalidInstance"  # AWS's error for an instance id it cannot take or does not know
NOT_CURRENTLY_REGISTERED = "not currently registered"  # in the Description of an instance that was deregistered
DRAINING = "deregistration currently in progress"


@dataclass(frozen=True)
class HostInstance:
    """The EC2 instance that stands for a host in Classic Load Balancers."""

    host: str
    id: str

    def as_instance(self) -> dict[str, str]:
        return {"InstanceId": self.id}

    def __str__(self) -> str:
        return f"host {self.host} (instance {self.id})"


@dataclass(frozen=True)
class ClassicLoadBalancer:
    name: str
    draining_seconds: float  # 0 when connection draining is off


def classic_names(names: Sequence[str]) -> str:
    """`Classic Load Balancer a` or `Classic Load Balancers a, b`. Pure."""
    return f"Classic Load Balancer{'s' if len(names) > 1 else ''} {', '.join(names)}"


def host_instance(host: str, tags: Mapping[str, str], names: Sequence[str]) -> HostInstance:
    """The instance of a registered host, from its tags or its name; refused naming the load balancers. Pure."""
    if INSTANCE_ID_TAG in tags:
        given = tags[INSTANCE_ID_TAG]
        why = f"its {INSTANCE_ID_TAG} tag {given!r} is not one"
    elif TARGET_ID_TAG in tags:
        given = next((c for c in (tags[TARGET_ID_TAG], host) if INSTANCE_ID.match(c)), "")
        why = f"neither its {TARGET_ID_TAG} tag {tags[TARGET_ID_TAG]!r} nor its name is one"
    else:
        given, why = host, "neither a tag nor its name is one"
    if not INSTANCE_ID.match(given):
        raise AwsStepFailed(
            f"host {host} cannot be named to {classic_names(names)}: a Classic Load Balancer takes EC2 instance ids "
            f"and {why}; tag the host with {INSTANCE_ID_TAG} (its instance id, i-…)",
            StepErrorCode.ELB_INVALID_INSTANCE,
        )
    return HostInstance(host, given)


def resolve_load_balancers(elb: Any, names: Sequence[str], instance: HostInstance) -> list[ClassicLoadBalancer]:
    """The named load balancers, each looked up by name with its connection draining; a missing one is named."""
    balancers = []
    for name in names:
        where = f"{instance}: {classic_names([name])} of {LISTED_IN}"
        try:
            elb.describe_load_balancers(LoadBalancerNames=[name])
            attributes = elb.describe_load_balancer_attributes(LoadBalancerName=name)["LoadBalancerAttributes"]
        except AWS_ERRORS as exc:
            raise step_failed(where, exc, StepErrorCode.ELASTIC_LOAD_BALANCING_INVALID, *_MISSING) from None
        draining = attributes.get("ConnectionDraining") or {}
        balancers.append(ClassicLoadBalancer(name, float(draining.get("Timeout", 0)) if draining.get("Enabled") else 0))
    return balancers


# -- the decisions on what describe_instance_health says --------------------------------------------------------


def is_out(state: Mapping[str, Any] | None) -> bool:
    """Whether an instance state says the load balancer no longer has the instance (draining over). Pure."""
    if state is None or NOT_CURRENTLY_REGISTERED in state.get("Description", ""):
        return True
    return state.get("State") == "Unknown" and state.get("ReasonCode") != "ELB"


def is_in_service(state: Mapping[str, Any] | None) -> bool:
    """Whether an instance state says the instance serves traffic. Pure."""
    return state is not None and state.get("State") == "InService" and DRAINING not in state.get("Description", "")


def describe_state(state: Mapping[str, Any] | None) -> str:
    if state is None:
        return "not registered"
    reason = state.get("ReasonCode")
    detail = state.get("Description")
    shown = str(state.get("State", "unknown"))
    shown += f", {reason}" if reason and reason != "N/A" else ""
    return shown + (f": {detail}" if detail and detail != "N/A" else "")


def block_wait_seconds(wait: TrafficWait, balancers: Sequence[ClassicLoadBalancer]) -> float:
    """How long BlockTraffic waits: the step's wait, and never less than the longest draining and one poll. Pure."""
    longest = max((b.draining_seconds for b in balancers), default=0.0)
    return max(wait.timeout_seconds, longest + wait.poll_seconds if longest else 0.0)


# -- the steps --------------------------------------------------------------------------------------------------


def block_traffic(
    elb: Any, names: Sequence[str], host: str, tags: Mapping[str, str], wait: TrafficWait | None = None
) -> None:
    """BlockTraffic: deregister the host's instance from every named load balancer and wait until it is out of each."""
    wait = wait or TrafficWait()
    instance, balancers = _prepare(elb, names, host, tags)
    for balancer in balancers:
        try:
            elb.deregister_instances_from_load_balancer(
                LoadBalancerName=balancer.name, Instances=[instance.as_instance()]
            )
        except AWS_ERRORS as exc:
            if aws_error_code(exc) != NOT_REGISTERED:  # not registered: nothing to take out
                raise _refused(f"could not deregister {instance} from {classic_names([balancer.name])}", exc) from None
    _wait_for(elb, balancers, instance, wait, block_wait_seconds(wait, balancers), is_out, "to leave")


def allow_traffic(
    elb: Any, names: Sequence[str], host: str, tags: Mapping[str, str], wait: TrafficWait | None = None
) -> None:
    """AllowTraffic: register the host's instance with every named load balancer and wait until it is InService."""
    wait = wait or TrafficWait()
    instance, balancers = _prepare(elb, names, host, tags)
    for balancer in balancers:
        try:
            elb.register_instances_with_load_balancer(
                LoadBalancerName=balancer.name, Instances=[instance.as_instance()]
            )
        except AWS_ERRORS as exc:
            raise _refused(f"could not register {instance} with {classic_names([balancer.name])}", exc) from None
    _wait_for(elb, balancers, instance, wait, wait.timeout_seconds, is_in_service, "to come InService in")


def _prepare(
    elb: Any, names: Sequence[str], host: str, tags: Mapping[str, str]
) -> tuple[HostInstance, list[ClassicLoadBalancer]]:
    if not names:
        raise AwsStepFailed(
            f"host {host}: the deployment group names no Classic Load Balancer ({LISTED_IN})",
            StepErrorCode.ELASTIC_LOAD_BALANCING_INVALID,
        )
    instance = host_instance(host, tags, names)
    return instance, resolve_load_balancers(elb, names, instance)


def instance_state(elb: Any, balancer: ClassicLoadBalancer, instance: HostInstance) -> dict[str, Any] | None:
    """The instance's `InstanceState` in the load balancer, as describe_instance_health reports it (None: not
    registered)."""
    try:
        answer = elb.describe_instance_health(LoadBalancerName=balancer.name, Instances=[instance.as_instance()])
    except AWS_ERRORS as exc:
        if aws_error_code(exc) == NOT_REGISTERED:
            return None
        raise _refused(f"could not read the health of {instance} in {classic_names([balancer.name])}", exc) from None
    for state in answer.get("InstanceStates", []):
        if state.get("InstanceId") == instance.id:
            found: dict[str, Any] = state
            return found
    return None


def _wait_for(
    elb: Any,
    balancers: list[ClassicLoadBalancer],
    instance: HostInstance,
    wait: TrafficWait,
    seconds: float,
    done: Callable[[Mapping[str, Any] | None], bool],
    goal: str,
) -> None:
    deadline = wait.clock() + seconds
    waiting = list(balancers)
    while True:
        last = {balancer.name: instance_state(elb, balancer, instance) for balancer in waiting}
        waiting = [balancer for balancer in waiting if not done(last[balancer.name])]
        if not waiting:
            return
        if wait.clock() >= deadline:
            first = waiting[0]
            draining = f" (connection draining: {first.draining_seconds:g} s)" if first.draining_seconds else ""
            raise AwsStepFailed(
                f"{instance} did not manage {goal} {classic_names([first.name])} within {seconds:g} s{draining}; "
                f"last state: {describe_state(last[first.name])}",
                DeploymentErrorCode.TIMEOUT,
            )
        wait.sleep(wait.poll_seconds)


def _refused(what: str, exc: Any) -> AwsStepFailed:
    if aws_error_code(exc) == NOT_REGISTERED:  # e.g. an instance that does not exist, or is in another VPC
        return step_failed(what, exc, StepErrorCode.ELB_INVALID_INSTANCE, NOT_REGISTERED)
    return step_failed(what, exc, StepErrorCode.ELASTIC_LOAD_BALANCING_INVALID, *_MISSING)
