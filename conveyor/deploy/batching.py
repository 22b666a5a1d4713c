"""Deploying to a fleet of hosts in batches under a minimum of healthy hosts (§2.5 of the AWS semantics). Pure.

Contract
--------
* `begin(hosts, minimum, group_revision)` orders the hosts and returns the first step.
* `record(state, host, succeeded)` applies one host's result (an event). A result for a host that is not in
  progress is ignored, so a duplicate or late report can never count twice.
* `advance(state)` says what to do next: the hosts of the next batch to start, the hosts that will never be
  deployed to (skipped), and — once nothing is in progress and nothing more will start — the outcome. It is
  idempotent: called again on its own output it starts nothing new.
* `stop(state, code, message)` stops the deployment (a request, an alarm): nothing more starts.
* `plan_batches(...)` is the batches a deployment makes when every host succeeds; `health_after(...)` the hosts'
  health values once a deployment is over.

Rules (CodeDeploy's):

1. The minimum is a number of hosts: `HOST_COUNT` as given, `FLEET_PERCENT` of the fleet rounded up, and for
   OneAtATime every host but one (see `conveyor.deploy.configs`).
2. Hosts go in this order: Unhealthy instance health first, then revision Unknown, then Old, then Current; hosts
   alike keep the order they were given in (callers pass them in a stable order, e.g. by name).
3. A host counts as healthy while its instance health is Healthy and it is not being deployed to. A host deployed
   to successfully becomes healthy, one whose deployment failed becomes unhealthy.
4. A batch takes pending hosts in order: at most `N - minimum` of them, and of the healthy ones only as many as
   keep the healthy count at the minimum or above (`healthy - minimum`). Deploying to an unhealthy host takes
   nothing away, so unhealthy hosts are held by the first limit only.
5. With no host at all the deployment fails at once with NO_INSTANCES; with a minimum of the whole fleet or more
   (no host may go offline) it fails at once with HEALTH_CONSTRAINTS_INVALID.
6. It fails with HEALTH_CONSTRAINTS — nothing more starts and the hosts not deployed to are skipped — when a batch
   ends and no pending host can be taken without the healthy count falling below the minimum (the healthy count
   fell to the minimum), or when too few hosts are left to reach the number that must succeed (rule 7).
7. It succeeds when every host was deployed to and at least `max(minimum, 1)` succeeded: one host at least must
   succeed even when the minimum is 0.
8. A stop skips the hosts not started; its outcome (Stopped, or what the caller says) comes once nothing is in
   progress. A host that cannot be reached (its agent stopped) is reported as failed: stopped instances count as
   failed.

What follows for the predefined configurations (the tests hold the tables): OneAtATime deploys to one host at a
time and fails as soon as a host other than the last fails — a failure on the last host still succeeds, and a
single host must succeed. HalfAtATime deploys to floor(N/2) hosts at a time and needs ceil(N/2) healthy ones, so
it succeeds when at least ceil(N/2) succeed, unless failures pull the healthy count down to ceil(N/2) while hosts
are left; with a single host its minimum is the whole fleet and it fails at once, as in AWS. AllAtOnce deploys to
every host at once and succeeds when at least one does.

Decisions where AWS says nothing (§6 of the AWS semantics):

* Batches are strict: the next one starts when every host of the current one has finished.
* A host never deployed to counts as Healthy with revision Unknown. AWS calls such an instance Unhealthy, which,
  since an unhealthy host takes nothing away, would send a first deployment to every host at once whatever the
  configuration; Conveyor's first deployment follows the configuration like any later one.
* Unhealthy hosts are deployed to at most `N - minimum` at a time, like the others, not all at once.
* A deployment fails as soon as success is out of reach (rule 6, second case) instead of deploying to hosts whose
  results can no longer change the outcome.
* Blue/green: these rules govern the replacement hosts (and the rerouting of traffic to them); the original hosts
  must all be deregistered, which is for the caller to check.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import Enum

from conveyor.deploy.configs import MinimumHealthyHosts
from conveyor.deploy.status import DeploymentErrorCode, DeploymentStatus, TargetStatus


class InstanceHealth(str, Enum):
    HEALTHY = "Healthy"
    UNHEALTHY = "Unhealthy"


class RevisionHealth(str, Enum):
    CURRENT = "Current"  # the deployment group's revision (its last successful deployment's)
    OLD = "Old"
    UNKNOWN = "Unknown"  # no revision installed successfully


_ORDER = {RevisionHealth.UNKNOWN: 1, RevisionHealth.OLD: 2, RevisionHealth.CURRENT: 3}


@dataclass(frozen=True)
class HostHealth:
    """What is known of a host across the deployments of its group."""

    instance: InstanceHealth = InstanceHealth.HEALTHY
    revision: str | None = None  # the revision last installed successfully; None: none is known

    def revision_health(self, group_revision: str | None) -> RevisionHealth:
        if self.revision is None:
            return RevisionHealth.UNKNOWN
        return RevisionHealth.CURRENT if self.revision == group_revision else RevisionHealth.OLD


@dataclass(frozen=True)
class Outcome:
    status: DeploymentStatus  # Succeeded, Failed or Stopped
    error_code: DeploymentErrorCode | None = None
    message: str = ""


@dataclass(frozen=True)
class FleetState:
    """One deployment's hosts: their order, the minimum healthy hosts, each host's status, and why it halted."""

    order: tuple[str, ...]
    minimum: int
    healthy_at_start: frozenset[str]
    targets: Mapping[str, TargetStatus] = field(default_factory=dict)
    halt: Outcome | None = None  # decided: nothing more starts; the outcome once nothing is in progress
    batches: tuple[tuple[str, ...], ...] = ()  # started so far, in order

    @property
    def concurrency(self) -> int:
        """How many hosts may be deployed to at once."""
        return max(len(self.order) - self.minimum, 0)

    @property
    def required(self) -> int:
        """How many hosts must succeed."""
        return max(self.minimum, 1)

    def hosts(self, status: TargetStatus) -> tuple[str, ...]:
        return tuple(host for host in self.order if self.targets[host] is status)

    @property
    def healthy(self) -> int:
        """Hosts serving now: healthy ones not being deployed to, and those deployed to successfully."""
        waiting = (TargetStatus.PENDING, TargetStatus.SKIPPED)
        return sum(
            1
            for host in self.order
            if self.targets[host] is TargetStatus.SUCCEEDED
            or (host in self.healthy_at_start and self.targets[host] in waiting)
        )

    @property
    def outcome(self) -> Outcome | None:
        """How the deployment ended, or None while hosts are in progress or still to deploy."""
        if self.hosts(TargetStatus.IN_PROGRESS) or (self.halt is None and self.hosts(TargetStatus.PENDING)):
            return None
        if self.halt is not None:
            return self.halt
        succeeded = len(self.hosts(TargetStatus.SUCCEEDED))
        return Outcome(DeploymentStatus.SUCCEEDED, None, f"{succeeded} of {_hosts(len(self.order))} succeeded")


@dataclass(frozen=True)
class FleetStep:
    state: FleetState
    start: tuple[str, ...] = ()  # a new batch: hosts to deploy to now
    skip: tuple[str, ...] = ()  # hosts that will never be deployed to
    outcome: Outcome | None = None


def deployment_order(hosts: Mapping[str, HostHealth], group_revision: str | None) -> tuple[str, ...]:
    """The hosts in the order CodeDeploy deploys to them (rule 2); hosts alike keep their given order."""

    def rank(name: str) -> int:
        health = hosts[name]
        if health.instance is InstanceHealth.UNHEALTHY:
            return 0
        return _ORDER[health.revision_health(group_revision)]

    return tuple(sorted(hosts, key=rank))


def begin(
    hosts: Mapping[str, HostHealth],
    minimum: MinimumHealthyHosts,
    group_revision: str | None = None,
    halt: Outcome | None = None,
) -> FleetStep:
    """Start a deployment to `hosts` (their health before it) under `minimum`: the first step.

    A deployment stopped before its first batch (`halt`: an alarm already in ALARM) starts no host: every one is
    skipped and the outcome is `halt`.
    """
    order = deployment_order(hosts, group_revision)
    count = minimum.hosts(len(order))
    state = FleetState(
        order=order,
        minimum=count,
        healthy_at_start=frozenset(h for h in order if hosts[h].instance is InstanceHealth.HEALTHY),
        targets=dict.fromkeys(order, TargetStatus.PENDING),
    )
    if halt is not None:
        state = replace(state, halt=halt)
    elif not order:
        state = _halted(state, DeploymentErrorCode.NO_INSTANCES, "the deployment group has no hosts to deploy to")
    elif count >= len(order):
        message = (
            f"the minimum of {_hosts(count)} healthy leaves none of the {_hosts(len(order))} free to be deployed to; "
            "the minimum must be lower than the number of hosts"
        )
        state = _halted(state, DeploymentErrorCode.HEALTH_CONSTRAINTS_INVALID, message)
    return advance(state)


def record(state: FleetState, host: str, succeeded: bool) -> FleetState:
    """Apply one host's result; a result for a host that is not in progress changes nothing."""
    if state.targets.get(host) is not TargetStatus.IN_PROGRESS:
        return state
    status = TargetStatus.SUCCEEDED if succeeded else TargetStatus.FAILED
    return replace(state, targets={**state.targets, host: status})


def stop(
    state: FleetState,
    code: DeploymentErrorCode,
    message: str,
    status: DeploymentStatus = DeploymentStatus.STOPPED,
) -> FleetState:
    """Stop the deployment: nothing more starts. A deployment already halted keeps its first reason."""
    if state.halt is not None or state.outcome is not None:
        return state
    return replace(state, halt=Outcome(status, code, message))


def advance(state: FleetState) -> FleetStep:
    """What to do next (see the module's rules); idempotent."""
    if state.hosts(TargetStatus.IN_PROGRESS):
        return FleetStep(state)  # batches are strict: the current one finishes first
    if state.halt is None:
        state = replace(state, halt=_health_failure(state))
    if state.halt is not None:
        skip = state.hosts(TargetStatus.PENDING)
        targets = {**state.targets, **dict.fromkeys(skip, TargetStatus.SKIPPED)}
        state = replace(state, targets=targets)
        return FleetStep(state, skip=skip, outcome=state.outcome)
    batch = _next_batch(state)
    if not batch:
        return FleetStep(state, outcome=state.outcome)
    targets = {**state.targets, **dict.fromkeys(batch, TargetStatus.IN_PROGRESS)}
    return FleetStep(replace(state, targets=targets, batches=(*state.batches, batch)), start=batch)


def plan_batches(
    hosts: Mapping[str, HostHealth], minimum: MinimumHealthyHosts, group_revision: str | None = None
) -> tuple[tuple[str, ...], ...]:
    """The batches of a deployment in which every host succeeds; none when it would fail before starting."""
    step = begin(hosts, minimum, group_revision)
    while step.start:
        state = step.state
        for host in step.start:
            state = record(state, host, succeeded=True)
        step = advance(state)
    return step.state.batches


def health_after(
    hosts: Mapping[str, HostHealth], state: FleetState, revision: str, group_revision: str | None
) -> dict[str, HostHealth]:
    """Each host's health once the deployment of `revision` is over (CodeDeploy's rules for health values).

    A host deployed to successfully is Healthy and runs `revision`; one that failed is Unhealthy, and when the
    deployment as a whole succeeded a failed host that was Current becomes Unknown. Hosts never deployed to keep
    their values. The group's revision moves to `revision` only when the deployment succeeded (`group_revision_after`).
    """
    succeeded = state.outcome is not None and state.outcome.status is DeploymentStatus.SUCCEEDED
    after = dict(hosts)
    for host in state.order:
        before = hosts[host]
        status = state.targets[host]
        if status is TargetStatus.SUCCEEDED:
            after[host] = HostHealth(InstanceHealth.HEALTHY, revision)
        elif status is TargetStatus.FAILED:
            current = before.revision_health(group_revision) is RevisionHealth.CURRENT
            after[host] = HostHealth(InstanceHealth.UNHEALTHY, None if succeeded and current else before.revision)
    return after


def group_revision_after(state: FleetState, revision: str, group_revision: str | None) -> str | None:
    """The deployment group's revision after the deployment: the new one only if it succeeded."""
    outcome = state.outcome
    return revision if outcome is not None and outcome.status is DeploymentStatus.SUCCEEDED else group_revision


def _halted(state: FleetState, code: DeploymentErrorCode, message: str) -> FleetState:
    return replace(state, halt=Outcome(DeploymentStatus.FAILED, code, message))


def _next_batch(state: FleetState) -> tuple[str, ...]:
    """Pending hosts in order, within both limits of rule 4."""
    slots, room = state.concurrency, state.healthy - state.minimum
    batch: list[str] = []
    for host in state.hosts(TargetStatus.PENDING):
        if slots == 0:
            break
        if host in state.healthy_at_start:
            if room <= 0:
                continue
            room -= 1
        batch.append(host)
        slots -= 1
    return tuple(batch)


def _health_failure(state: FleetState) -> Outcome | None:
    """Rule 6, checked between batches: the failure that ends the deployment, if any."""
    succeeded = len(state.hosts(TargetStatus.SUCCEEDED))
    failed = len(state.hosts(TargetStatus.FAILED))
    pending = len(state.hosts(TargetStatus.PENDING))
    if succeeded + pending < state.required:
        message = (
            f"{failed} of {_hosts(len(state.order))} failed: at most {succeeded + pending} can succeed "
            f"and at least {state.required} must (minimum healthy hosts: {state.minimum})"
        )
        return Outcome(DeploymentStatus.FAILED, DeploymentErrorCode.HEALTH_CONSTRAINTS, message)
    if pending and not _next_batch(state):
        message = (
            f"{failed} of {_hosts(len(state.order))} failed: {_hosts(state.healthy)} healthy and the minimum is "
            f"{state.minimum}, so none of the {_hosts(pending)} left can be taken offline"
        )
        return Outcome(DeploymentStatus.FAILED, DeploymentErrorCode.HEALTH_CONSTRAINTS, message)
    return None


def _hosts(count: int) -> str:
    return f"{count} host" if count == 1 else f"{count} hosts"
