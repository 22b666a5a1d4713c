"""The order of lifecycle events in each kind of deployment, and how traffic shifts (§2.2-§2.5 of the AWS semantics).

Pure. Each order is a tuple of `LifecycleStep`s, run one after the other on one target:

* `event`: the lifecycle event, as CodeDeploy names it;
* `runs`: what the user supplied runs in it — the appspec's scripts on the host (`SCRIPTS`), a Lambda hook
  function (`FUNCTION`), or nothing (`NOTHING`: the events Conveyor does itself — DownloadBundle, Install,
  BlockTraffic, AllowTraffic, AllowTestTraffic — and the Start and End of a Lambda deployment);
* `revision`: whose appspec and scripts run — the revision being deployed (`DEPLOYED`), the one last deployed
  successfully to this host (`LAST_SUCCESSFUL`: nothing runs when there is none, as on a host's first deployment),
  or the most recent deployment's (`MOST_RECENT`, in a blue/green rollback); `scripts_revision` resolves it;
* `rollback_possible`: False where a failure cannot be rolled back (ECS BeforeInstall: nothing was replaced yet).

`failure_ends_target(step, ignore_application_stop_failures=...)` is the `ignoreApplicationStopFailures` rule: a
failure in ApplicationStop, BeforeBlockTraffic or AfterBlockTraffic moves on to the next event when it is set;
any other failed event ends the target's deployment as Failed.

`traffic_plan(routing, unit)` is how a Lambda alias or an ECS service moves to the new version: the share of
traffic on it after each shift and the wait before the next shift, ending at 100 %.

Decisions where AWS says nothing or is ambiguous (§6 of the AWS semantics):

* The rollback of an in-place deployment is a deployment of the last good revision in the in-place order: with
  the BlockTraffic and AllowTraffic events only when the group has a load balancer (AWS's table lists them for
  rollbacks, its note says they apply only with a load balancer).
* Lambda orders begin with Start and end with End (§2.4); the ECS order is the eight events of §2.3, and the host
  orders the agent's events of §2.2, without them.
* A Lambda or ECS rollback moves all traffic back at once and runs no hook function: Lambda's order is Start,
  AllowTraffic, End; ECS's is AllowTraffic alone (both listeners back to the original target group).
* A linear shift starts with its first step at once and waits one interval after every step but the last, so
  `LambdaLinear10PercentEvery1Minute` reaches 100 % after nine minutes; a percentage that does not divide 100
  ends with a smaller last step (33 %: 33, 66, 99, 100).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from conveyor.deploy.configs import IntervalUnit, TrafficRouting, TrafficRoutingType


class LifecycleEvent(str, Enum):
    START = "Start"
    APPLICATION_STOP = "ApplicationStop"
    DOWNLOAD_BUNDLE = "DownloadBundle"
    BEFORE_INSTALL = "BeforeInstall"
    INSTALL = "Install"
    AFTER_INSTALL = "AfterInstall"
    APPLICATION_START = "ApplicationStart"
    VALIDATE_SERVICE = "ValidateService"
    BEFORE_BLOCK_TRAFFIC = "BeforeBlockTraffic"
    BLOCK_TRAFFIC = "BlockTraffic"
    AFTER_BLOCK_TRAFFIC = "AfterBlockTraffic"
    ALLOW_TEST_TRAFFIC = "AllowTestTraffic"
    AFTER_ALLOW_TEST_TRAFFIC = "AfterAllowTestTraffic"
    BEFORE_ALLOW_TRAFFIC = "BeforeAllowTraffic"
    ALLOW_TRAFFIC = "AllowTraffic"
    AFTER_ALLOW_TRAFFIC = "AfterAllowTraffic"
    END = "End"


class HookKind(str, Enum):
    SCRIPTS = "Scripts"  # the appspec's scripts for this event, on the host
    FUNCTION = "Function"  # the appspec's Lambda hook function for this event
    NOTHING = "Nothing"  # Conveyor's own work, or a marker


class ScriptRevision(str, Enum):
    DEPLOYED = "Deployed"
    LAST_SUCCESSFUL = "LastSuccessful"
    MOST_RECENT = "MostRecent"


class DeploymentType(str, Enum):
    IN_PLACE = "IN_PLACE"
    BLUE_GREEN = "BLUE_GREEN"


class TargetLabel(str, Enum):
    """A host's side in a blue/green deployment, as CodeDeploy labels it."""

    BLUE = "Blue"  # the original hosts
    GREEN = "Green"  # the replacement hosts


# Failures here do not stop the deployment when ignoreApplicationStopFailures is set.
IGNORABLE_EVENTS = frozenset(
    {LifecycleEvent.APPLICATION_STOP, LifecycleEvent.BEFORE_BLOCK_TRAFFIC, LifecycleEvent.AFTER_BLOCK_TRAFFIC}
)


@dataclass(frozen=True)
class LifecycleStep:
    event: LifecycleEvent
    runs: HookKind = HookKind.NOTHING
    revision: ScriptRevision | None = None  # whose appspec and scripts; None when nothing of the user's runs
    rollback_possible: bool = True

    @property
    def ignorable(self) -> bool:
        """Whether ignoreApplicationStopFailures covers a failure of this event."""
        return self.event in IGNORABLE_EVENTS


def _script(event: LifecycleEvent, revision: ScriptRevision = ScriptRevision.DEPLOYED) -> LifecycleStep:
    return LifecycleStep(event, HookKind.SCRIPTS, revision)


def _function(event: LifecycleEvent, *, rollback_possible: bool = True) -> LifecycleStep:
    return LifecycleStep(event, HookKind.FUNCTION, ScriptRevision.DEPLOYED, rollback_possible)


_E = LifecycleEvent
_LAST = ScriptRevision.LAST_SUCCESSFUL

_INSTALL = (
    _script(_E.APPLICATION_STOP, _LAST),
    LifecycleStep(_E.DOWNLOAD_BUNDLE),
    _script(_E.BEFORE_INSTALL),
    LifecycleStep(_E.INSTALL),
    _script(_E.AFTER_INSTALL),
    _script(_E.APPLICATION_START),
    _script(_E.VALIDATE_SERVICE),
)


def _block_traffic(revision: ScriptRevision) -> tuple[LifecycleStep, ...]:
    return (
        _script(_E.BEFORE_BLOCK_TRAFFIC, revision),
        LifecycleStep(_E.BLOCK_TRAFFIC),
        _script(_E.AFTER_BLOCK_TRAFFIC, revision),
    )


def _allow_traffic(revision: ScriptRevision) -> tuple[LifecycleStep, ...]:
    return (
        _script(_E.BEFORE_ALLOW_TRAFFIC, revision),
        LifecycleStep(_E.ALLOW_TRAFFIC),
        _script(_E.AFTER_ALLOW_TRAFFIC, revision),
    )


def in_place_events(*, load_balancer: bool) -> tuple[LifecycleStep, ...]:
    """An in-place deployment on one host, or its rollback; the traffic events only behind a load balancer."""
    if not load_balancer:
        return _INSTALL
    return (*_block_traffic(_LAST), *_INSTALL, *_allow_traffic(ScriptRevision.DEPLOYED))


def blue_green_events(label: TargetLabel, *, rollback: bool = False) -> tuple[LifecycleStep, ...]:
    """A blue/green deployment on one host of side `label`, or its rollback.

    Replacement hosts get the revision and then traffic; original hosts lose traffic. A rollback gives the
    original hosts their traffic back, with the scripts of the last successful revision, and takes it from the
    replacement hosts, with the scripts of the deployment being rolled back (the most recent).
    """
    if rollback:
        if label is TargetLabel.BLUE:
            return _allow_traffic(_LAST)
        return _block_traffic(ScriptRevision.MOST_RECENT)
    if label is TargetLabel.BLUE:
        return _block_traffic(_LAST)
    return (*_INSTALL, *_allow_traffic(ScriptRevision.DEPLOYED))


def host_events(
    deployment_type: DeploymentType,
    *,
    load_balancer: bool = False,
    label: TargetLabel = TargetLabel.GREEN,
    rollback: bool = False,
) -> tuple[LifecycleStep, ...]:
    """The events on one host: in place (`load_balancer` matters), or blue/green (`label` and `rollback` matter)."""
    if deployment_type is DeploymentType.IN_PLACE:
        return in_place_events(load_balancer=load_balancer)
    return blue_green_events(label, rollback=rollback)


def lambda_events(*, rollback: bool = False) -> tuple[LifecycleStep, ...]:
    """A Lambda deployment (an alias moved to a new version), or its rollback."""
    if rollback:
        return (LifecycleStep(_E.START), LifecycleStep(_E.ALLOW_TRAFFIC), LifecycleStep(_E.END))
    return (
        LifecycleStep(_E.START),
        _function(_E.BEFORE_ALLOW_TRAFFIC),
        LifecycleStep(_E.ALLOW_TRAFFIC),
        _function(_E.AFTER_ALLOW_TRAFFIC),
        LifecycleStep(_E.END),
    )


def ecs_events(*, rollback: bool = False) -> tuple[LifecycleStep, ...]:
    """An ECS blue/green deployment (a replacement task set behind the second target group), or its rollback."""
    if rollback:
        return (LifecycleStep(_E.ALLOW_TRAFFIC),)
    return (
        _function(_E.BEFORE_INSTALL, rollback_possible=False),
        LifecycleStep(_E.INSTALL),
        _function(_E.AFTER_INSTALL),
        LifecycleStep(_E.ALLOW_TEST_TRAFFIC),
        _function(_E.AFTER_ALLOW_TEST_TRAFFIC),
        _function(_E.BEFORE_ALLOW_TRAFFIC),
        LifecycleStep(_E.ALLOW_TRAFFIC),
        _function(_E.AFTER_ALLOW_TRAFFIC),
    )


def scripts_revision(
    step: LifecycleStep, *, deployed: str, last_successful: str | None, most_recent: str | None = None
) -> str | None:
    """The revision whose appspec and scripts run in `step` on a host; None when none runs."""
    if step.runs is HookKind.NOTHING or step.revision is None:
        return None
    if step.revision is ScriptRevision.LAST_SUCCESSFUL:
        return last_successful
    if step.revision is ScriptRevision.MOST_RECENT:
        return most_recent
    return deployed


def failure_ends_target(step: LifecycleStep, *, ignore_application_stop_failures: bool) -> bool:
    """Whether a failure in `step` ends the target's deployment as Failed (otherwise the next event runs)."""
    return not (ignore_application_stop_failures and step.ignorable)


# -- traffic shifting -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrafficShift:
    percent: int  # of the traffic on the new version once this shift is made
    wait_seconds: int  # before the next shift; 0 after the last


def traffic_plan(routing: TrafficRouting, unit: IntervalUnit = IntervalUnit.MINUTES) -> tuple[TrafficShift, ...]:
    """The shifts of a Lambda or ECS deployment, in order; the last one puts 100 % of the traffic on the new version.

    Canary: the canary's share, a wait of one interval, then everything. Linear: one share more after each
    interval until everything. AllAtOnce: everything at once. `unit` says how the interval numbers are read.
    """
    wait = routing.interval_seconds(unit)
    if routing.type is TrafficRoutingType.TIME_BASED_CANARY:
        return (TrafficShift(routing.percentage, wait), TrafficShift(100, 0))
    if routing.type is TrafficRoutingType.TIME_BASED_LINEAR:
        steps = range(routing.percentage, 100, routing.percentage)
        return (*(TrafficShift(percent, wait) for percent in steps), TrafficShift(100, 0))
    return (TrafficShift(100, 0),)
