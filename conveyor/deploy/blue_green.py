"""Blue/green deployments on hosts: the group's options, the phases of a deployment and its rollback, and which
lifecycle events each side runs in each phase (§2.2, §2.5 and §2.6 of the AWS semantics). Pure.

The original hosts (Blue) are the deployment group's fleet; the replacement hosts (Green) are the registered hosts
the request's `targetInstances` match (CodeDeploy's greenFleetProvisioningOption DISCOVER_EXISTING). A deployment
goes through these phases, each a run of the batching engine (`conveyor.deploy.batching`) over one side:

1. `Install`: the replacement hosts get the revision (ApplicationStop … ValidateService), in the batches of the
   deployment configuration, its minimum applied to the replacement fleet;
2. `Ready` (only with deploymentReadyOption STOP_DEPLOYMENT): nothing runs; the deployment is Ready, its
   replacement targets Ready, until ContinueDeployment or until `waitTimeInMinutes` runs out (then it is Stopped);
3. `Reroute`: the replacement hosts that installed the revision run BeforeAllowTraffic, AllowTraffic and
   AfterAllowTraffic (they join the load balancers), in the configuration's batches: the configuration governs how
   traffic is rerouted to them;
4. `Block`: every original host runs BeforeBlockTraffic, BlockTraffic and AfterBlockTraffic at once (they leave
   the load balancers); one failing fails the deployment;
5. `TerminationWait` (only with terminateBlueInstancesOnDeploymentSuccess TERMINATE and a wait): the deployment
   stays InProgress until `terminationWaitTimeInMinutes` runs out or ContinueDeployment(TERMINATION_WAIT) comes;
   then it succeeds and the originals are released (see below).

A rollback (creator `codeDeployRollback`) has two phases: `Restore`, every original host runs the AllowTraffic trio
with the last successful revision's scripts; then `Withdraw`, every replacement host runs the BlockTraffic trio with
the most recent deployment's scripts. In each, every host must succeed.

Decisions where AWS says nothing:

* The Ready wait comes before any traffic moves, as CodeDeploy's console shows it (replacement hosts installed,
  traffic not yet rerouted): the replacement hosts run their events in two host jobs, Install and Reroute.
* Hosts here are not EC2 instances, so TERMINATE cannot end a machine. It releases the originals: they leave the
  deployment group (their standing in it is removed) and each one's agent is told to remove the group's revision
  (the files its last Install copied, as a next Install would) and forget the group's installs. KEEP_ALIVE leaves
  them as they are, outside the group's fleet. Without `terminateBlueInstancesOnDeploymentSuccess` the originals
  are kept alive: Conveyor removes nothing from a host unless asked to.
* After a blue/green deployment succeeds, the group's fleet is its replacement hosts, by name, kept in the
  group's definition under `blueGreenFleet` (its tag filters stay as the user wrote them); see
  `conveyor.deploy.registry.group_hosts`.
* A group with no original host (its first deployment) skips the Block phase.
* A Ready wait that runs out stops the deployment (TIMEOUT) without a rollback: no traffic had moved.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import Enum
from typing import Any

from conveyor.deploy.lifecycle import LifecycleEvent, LifecycleStep, TargetLabel, blue_green_events
from conveyor.deploy.targets import FILTER_TYPES, targeted
from conveyor.errors import InvalidRequest

MAX_WAIT_MINUTES = 2880  # CodeDeploy's ceiling for both waits (two days)
FLEET_KEY = "blueGreenFleet"  # in a deployment group's definition: its hosts since its last blue/green success


class Phase(str, Enum):
    INSTALL = "Install"
    READY = "Ready"
    REROUTE = "Reroute"
    BLOCK = "Block"
    TERMINATION_WAIT = "TerminationWait"
    RESTORE = "Restore"  # rollback: originals get traffic back
    WITHDRAW = "Withdraw"  # rollback: replacements lose it

    @property
    def waiting(self) -> bool:
        """Whether nothing runs in this phase: it ends by ContinueDeployment or when its wait runs out."""
        return self in (Phase.READY, Phase.TERMINATION_WAIT)

    @property
    def side(self) -> TargetLabel:
        return TargetLabel.BLUE if self in (Phase.BLOCK, Phase.RESTORE) else TargetLabel.GREEN

    @property
    def every_host_must_succeed(self) -> bool:
        return self in (Phase.BLOCK, Phase.RESTORE, Phase.WITHDRAW)


class WaitType(str, Enum):
    """ContinueDeployment's deploymentWaitType."""

    READY_WAIT = "READY_WAIT"
    TERMINATION_WAIT = "TERMINATION_WAIT"


_WAIT_OF = {WaitType.READY_WAIT: Phase.READY, WaitType.TERMINATION_WAIT: Phase.TERMINATION_WAIT}


def wait_phase(wait_type: WaitType) -> Phase:
    return _WAIT_OF[wait_type]


@dataclass(frozen=True)
class BlueGreenOptions:
    """A group's blueGreenDeploymentConfiguration, defaults filled in."""

    stop_when_ready: bool = False  # deploymentReadyOption.actionOnTimeout STOP_DEPLOYMENT
    ready_wait_minutes: int = 0
    terminate: bool = False  # terminateBlueInstancesOnDeploymentSuccess.action TERMINATE
    termination_wait_minutes: int = 0

    @classmethod
    def from_group(cls, group: Mapping[str, Any]) -> BlueGreenOptions:
        config = group.get("blueGreenDeploymentConfiguration") or {}
        ready = config.get("deploymentReadyOption") or {}
        termination = config.get("terminateBlueInstancesOnDeploymentSuccess") or {}
        return cls(
            stop_when_ready=ready.get("actionOnTimeout") == "STOP_DEPLOYMENT",
            ready_wait_minutes=int(ready.get("waitTimeInMinutes") or 0),
            terminate=termination.get("action") == "TERMINATE",
            termination_wait_minutes=int(termination.get("terminationWaitTimeInMinutes") or 0),
        )

    def to_info(self) -> dict[str, Any]:
        """The options as CodeDeploy's blueGreenDeploymentConfiguration shows them."""
        return {
            "deploymentReadyOption": {
                "actionOnTimeout": "STOP_DEPLOYMENT" if self.stop_when_ready else "CONTINUE_DEPLOYMENT",
                "waitTimeInMinutes": self.ready_wait_minutes,
            },
            "terminateBlueInstancesOnDeploymentSuccess": {
                "action": "TERMINATE" if self.terminate else "KEEP_ALIVE",
                "terminationWaitTimeInMinutes": self.termination_wait_minutes,
            },
            "greenFleetProvisioningOption": {"action": "DISCOVER_EXISTING"},
        }


@dataclass(frozen=True)
class BlueGreenPlan:
    """One blue/green deployment's sides, options and current phase (kept in the deployment's `fleet` JSON)."""

    blue: tuple[str, ...]
    green: tuple[str, ...]
    options: BlueGreenOptions
    phase: Phase
    rollback: bool = False
    target_instances: Mapping[str, Any] | None = None
    deadline: datetime | None = None  # when the current waiting phase ends by itself
    installed: tuple[str, ...] = ()  # replacement hosts whose Install phase succeeded

    def label(self, host: str) -> TargetLabel:
        return TargetLabel.BLUE if host in self.blue else TargetLabel.GREEN

    def hosts(self, phase: Phase) -> tuple[str, ...]:
        """The hosts a phase runs on."""
        if phase is Phase.REROUTE:
            return self.installed
        return self.blue if phase.side is TargetLabel.BLUE else self.green


def first_phase(*, rollback: bool, blue: Sequence[str]) -> Phase:
    if rollback:
        return Phase.RESTORE if blue else Phase.WITHDRAW
    return Phase.INSTALL


def next_phase(plan: BlueGreenPlan) -> Phase | None:
    """The phase after the current one has succeeded; None when the deployment is over."""
    phase, options = plan.phase, plan.options
    if phase is Phase.RESTORE:
        return Phase.WITHDRAW
    if phase is Phase.INSTALL:
        return Phase.READY if options.stop_when_ready else Phase.REROUTE
    if phase is Phase.READY:
        return Phase.REROUTE
    if phase is Phase.REROUTE and plan.blue:
        return Phase.BLOCK
    if phase is Phase.BLOCK and options.terminate and options.termination_wait_minutes > 0:
        return Phase.TERMINATION_WAIT
    return None


def wait_minutes(plan: BlueGreenPlan, phase: Phase) -> int:
    return plan.options.ready_wait_minutes if phase is Phase.READY else plan.options.termination_wait_minutes


def target_events(label: TargetLabel, *, rollback: bool) -> tuple[LifecycleStep, ...]:
    """Every lifecycle event a host of side `label` runs in the deployment (its target's event list)."""
    return blue_green_events(label, rollback=rollback)


_TRAFFIC_IN = frozenset(
    {LifecycleEvent.BEFORE_ALLOW_TRAFFIC, LifecycleEvent.ALLOW_TRAFFIC, LifecycleEvent.AFTER_ALLOW_TRAFFIC}
)


def phase_steps(plan: BlueGreenPlan, phase: Phase, host: str) -> tuple[LifecycleStep, ...]:
    """The events `host` runs in `phase`: a replacement host's Install and Reroute split its list in two."""
    steps = target_events(plan.label(host), rollback=plan.rollback)
    if phase is Phase.INSTALL:
        return tuple(s for s in steps if s.event not in _TRAFFIC_IN)
    if phase is Phase.REROUTE:
        return tuple(s for s in steps if s.event in _TRAFFIC_IN)
    return steps


def encode_plan(plan: BlueGreenPlan) -> dict[str, Any]:
    return {
        "blue": list(plan.blue),
        "green": list(plan.green),
        "options": plan.options.to_info(),
        "phase": plan.phase.value,
        "rollback": plan.rollback,
        "targetInstances": plan.target_instances,
        "deadline": plan.deadline.isoformat() if plan.deadline else None,
        "installed": list(plan.installed),
    }


def decode_plan(data: Mapping[str, Any]) -> BlueGreenPlan:
    return BlueGreenPlan(
        blue=tuple(data["blue"]),
        green=tuple(data["green"]),
        options=BlueGreenOptions.from_group({"blueGreenDeploymentConfiguration": data["options"]}),
        phase=Phase(data["phase"]),
        rollback=bool(data["rollback"]),
        target_instances=data.get("targetInstances"),
        deadline=datetime.fromisoformat(data["deadline"]) if data.get("deadline") else None,
        installed=tuple(data.get("installed") or ()),
    )


def with_phase(plan: BlueGreenPlan, phase: Phase, deadline: datetime | None = None) -> BlueGreenPlan:
    return replace(plan, phase=phase, deadline=deadline)


# -- the request ------------------------------------------------------------------------------------------------


def check_target_instances(value: Any) -> dict[str, Any]:
    """CreateDeployment's `targetInstances` for hosts: tag filters or a tag set; problems named with their path."""
    if not isinstance(value, dict):
        raise InvalidRequest("targetInstances must be {tagFilters: [...]} (or {ec2TagSet: {ec2TagSetList: [...]}})")
    unknown = sorted(set(value) - {"tagFilters", "ec2TagSet", "autoScalingGroups"})
    if unknown:
        raise InvalidRequest(f"targetInstances: unknown keys {unknown}")
    if value.get("autoScalingGroups"):
        raise InvalidRequest(
            "targetInstances.autoScalingGroups: Conveyor's hosts have no Auto Scaling groups; "
            "name the replacement hosts by their tags in targetInstances.tagFilters"
        )
    filters = value.get("tagFilters") or []
    tag_set = (value.get("ec2TagSet") or {}).get("ec2TagSetList") or []
    if not filters and not tag_set:
        raise InvalidRequest(
            "targetInstances needs tagFilters (or ec2TagSet) naming the replacement hosts by their tags"
        )
    if len(tag_set) > 3:
        raise InvalidRequest("targetInstances.ec2TagSet.ec2TagSetList holds at most 3 lists of tag filters")
    _check_filters(filters, "targetInstances.tagFilters")
    for index, filter_list in enumerate(tag_set):
        _check_filters(filter_list, f"targetInstances.ec2TagSet.ec2TagSetList[{index}]")
    return {"tagFilters": filters, **({"ec2TagSet": {"ec2TagSetList": tag_set}} if tag_set else {})}


def _check_filters(filters: Any, where: str) -> None:
    if not isinstance(filters, list):
        raise InvalidRequest(f"{where} must be a list of {{Key, Value, Type}}")
    for index, entry in enumerate(filters):
        if not isinstance(entry, dict) or set(entry) - {"Key", "Value", "Type"}:
            raise InvalidRequest(f"{where}[{index}] must be {{Key, Value, Type}}")
        if entry.get("Type", "KEY_AND_VALUE") not in FILTER_TYPES:
            raise InvalidRequest(f"{where}[{index}].Type must be one of {', '.join(FILTER_TYPES)}")


def replacement_hosts(target_instances: Mapping[str, Any], hosts: Mapping[str, Mapping[str, str]]) -> list[str]:
    """The registered hosts (name → tags) that `targetInstances` matches, by name."""
    as_group = {
        "ec2TagFilters": target_instances.get("tagFilters") or [],
        "ec2TagSet": target_instances.get("ec2TagSet") or {},
    }
    return sorted(name for name, tags in hosts.items() if targeted(as_group, tags))
