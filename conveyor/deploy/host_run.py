"""One host's part of a deployment, run by its agent: the lifecycle events of §2.2, one after the other.

Contract of `run_on_host` (returns whether the host succeeded):

* The events are `HostWork.steps`. In place: ApplicationStop, DownloadBundle, BeforeInstall, Install,
  AfterInstall, ApplicationStart, ValidateService; behind a load balancer (the group has traffic control, so
  `HostWork.classic_load_balancers` or `HostWork.target_groups` names load balancers) BeforeBlockTraffic,
  BlockTraffic and AfterBlockTraffic come first and BeforeAllowTraffic, AllowTraffic and AfterAllowTraffic last.
  Blue/green: the events of the deployment's current phase on the host's side
  (`conveyor.deploy.blue_green.phase_steps`). Each is recorded on the target as it starts (InProgress, its start
  time) and as it ends (Succeeded, Failed or Skipped, its end time and diagnostics: errorCode, scriptName, message
  and the last 4 KB of what the scripts wrote).
* ApplicationStop, BeforeBlockTraffic and AfterBlockTraffic run the scripts of the last successful install's
  AppSpec on this host, and are Skipped when there is none (the host's first deployment in the group). In a
  blue/green rollback the BlockTraffic hooks run the most recent install's scripts instead (the revision rolled
  back) and the AllowTraffic hooks the last successful install's. Every other event uses the revision being
  deployed: a replacement host's second job (Reroute) reads it from the archive its first job (Install) unpacked.
* BlockTraffic deregisters the host's instance from every Classic Load Balancer (see
  `conveyor.deploy.classic_load_balancers`), then its target (its `ElbTargetId` tag, see
  `conveyor.deploy.load_balancers`) from every target group; AllowTraffic registers them again in the same order.
  Each waits for the load balancer, through the one boto3 client factory with the settings' region and endpoint.
  Their failure fails the event with UnknownError and a message naming the load balancer and the host, with
  CodeDeploy's error code in parentheses; what the event did before it failed stays done (a host out of its
  Classic Load Balancers stays out of them when its target groups then refuse it).
* DownloadBundle fetches the revision into the agent's deployment-archive (`HostState`); a bundle that is gone
  or unreadable fails it. Install copies the AppSpec's `files` (its `file_exists_behavior` beats the deployment's
  fileExistsBehavior) and applies `permissions`.
* The first failed event ends the host's deployment; the events after it are Skipped. With
  ignoreApplicationStopFailures a failed ApplicationStop, BeforeBlockTraffic or AfterBlockTraffic does not.
  Before each event the deployment is checked: when it was stopped, the remaining events are Skipped and the
  host counts as failed.
* What the scripts write goes to the deployment's log on the host (`logs/scripts.log` in its deployment
  directory) with `[stdout]`/`[stderr]` prefixes.

Decision where AWS says nothing: an event whose AppSpec has no scripts for it succeeds at once.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from conveyor import aws
from conveyor.deploy import appspec_hosts, classic_load_balancers, hooks, install, load_balancers
from conveyor.deploy.appspec_permissions import Permission as SpecPermission
from conveyor.deploy.aws_calls import AWS_ERRORS, AwsStepFailed, StepErrorCode, aws_error_text
from conveyor.deploy.host_state import DeploymentDirectory, HostState, HostStateError
from conveyor.deploy.lifecycle import LifecycleEvent, LifecycleStep, ScriptRevision, failure_ends_target
from conveyor.deploy.permissions import InstallError, Permission
from conveyor.deploy.revisions import fetch_bundle, location_of, read_host_appspec
from conveyor.deploy.status import LifecycleEventStatus
from conveyor.deploy.target_progress import HostWork, deployment_halted, record_event, skip_remaining
from conveyor.errors import ConveyorError
from conveyor.runtime import Runtime

DEPLOYMENT_ROOT = Path("opt") / "conveyor-agent" / "deployment-root"


@dataclass(frozen=True)
class EventOutcome:
    status: LifecycleEventStatus
    diagnostics: dict[str, str]

    @property
    def failed(self) -> bool:
        return self.status is LifecycleEventStatus.FAILED


@dataclass
class HostContext:
    """What the events of one host's deployment share."""

    rt: Runtime
    work: HostWork
    state: HostState
    host_root: Path
    log: Callable[[str], None]
    appspec: appspec_hosts.HostAppSpec | None = None


def agent_state(host_root: Path) -> HostState:
    """The agent's deployment-root on a host whose file system starts at `host_root`."""
    return HostState(host_root / DEPLOYMENT_ROOT)


def run_on_host(rt: Runtime, work: HostWork, host_root: Path) -> bool:
    """Run the host's lifecycle events; see the module's contract."""
    state = agent_state(host_root)
    log_path = state.deployment(work.group_id, work.deployment_id).script_log
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("a", encoding="utf-8") as log_file:

        def log(line: str) -> None:
            log_file.write(line + "\n")
            log_file.flush()

        context = HostContext(rt, work, state, host_root, log)
        return _run_events(context)


def _run_events(context: HostContext) -> bool:
    work = context.work
    for step in work.steps:
        if deployment_halted(context.rt, work.deployment_id):
            skip_remaining(context.rt, work)
            return False
        started_at = datetime.now(UTC)
        record_event(context.rt, work, step.event.value, LifecycleEventStatus.IN_PROGRESS, started_at)
        outcome = _run_step(context, step)
        record_event(
            context.rt, work, step.event.value, outcome.status, started_at, datetime.now(UTC), outcome.diagnostics
        )
        if outcome.failed and failure_ends_target(
            step, ignore_application_stop_failures=work.ignore_application_stop_failures
        ):
            skip_remaining(context.rt, work)
            return False
    return True


def _run_step(context: HostContext, step: LifecycleStep) -> EventOutcome:
    if step.event is LifecycleEvent.DOWNLOAD_BUNDLE:
        return _download(context)
    if step.event is LifecycleEvent.INSTALL:
        return _install(context)
    if step.event in (LifecycleEvent.BLOCK_TRAFFIC, LifecycleEvent.ALLOW_TRAFFIC):
        return _traffic(context, step.event)
    if step.revision is ScriptRevision.LAST_SUCCESSFUL:
        return _earlier_scripts(context, step.event, context.state.last_successful_install(context.work.group_id))
    if step.revision is ScriptRevision.MOST_RECENT:
        return _earlier_scripts(context, step.event, context.state.most_recent_install(context.work.group_id))
    archive = context.state.deployment(context.work.group_id, context.work.deployment_id).archive
    if context.appspec is None:  # a blue/green replacement host's second job: the bundle came in its first
        try:
            context.appspec = read_host_appspec(archive, "the revision")
        except ConveyorError as exc:
            return EventOutcome(LifecycleEventStatus.FAILED, _diagnostics("UnknownError", exc.message))
    return _scripts(context, step.event.value, context.appspec, archive)


def _earlier_scripts(context: HostContext, event: LifecycleEvent, previous: DeploymentDirectory | None) -> EventOutcome:
    """The scripts of a revision installed before (the last successful one, or in a blue/green rollback the most
    recent one), if there is one on the host."""
    if previous is None:
        return EventOutcome(LifecycleEventStatus.SKIPPED, _diagnostics("Success", "no revision was installed before"))
    try:
        spec = read_host_appspec(previous.archive, f"the revision installed by {previous.deployment_id}")
    except ConveyorError as exc:
        return EventOutcome(LifecycleEventStatus.FAILED, _diagnostics("UnknownError", exc.message))
    return _scripts(context, event.value, spec, previous.archive)


def _traffic(context: HostContext, event: LifecycleEvent) -> EventOutcome:
    """BlockTraffic or AllowTraffic: the host leaves or rejoins the group's Classic Load Balancers, then its target
    groups."""
    work = context.work
    blocking = event is LifecycleEvent.BLOCK_TRAFFIC
    try:
        for service, steps, names in (
            ("elb", classic_load_balancers, work.classic_load_balancers),
            ("elbv2", load_balancers, work.target_groups),
        ):
            if names:
                move = steps.block_traffic if blocking else steps.allow_traffic
                move(aws.client(service, context.rt.settings), names, work.host, work.host_tags)
        if not (work.classic_load_balancers or work.target_groups):
            raise AwsStepFailed(
                f"host {work.host}: the deployment group names no load balancer "
                "(loadBalancerInfo.targetGroupInfoList or elbInfoList)",
                StepErrorCode.ELASTIC_LOAD_BALANCING_INVALID,
            )
    except AwsStepFailed as exc:
        context.log(f"{event.value} failed: {exc.message}")
        return EventOutcome(LifecycleEventStatus.FAILED, _diagnostics("UnknownError", _step_failure(exc)))
    except AWS_ERRORS as exc:  # no client could be made (no region, no credentials)
        message = f"{event.value} on host {work.host}: could not reach Elastic Load Balancing: {aws_error_text(exc)}"
        context.log(message)
        return EventOutcome(LifecycleEventStatus.FAILED, _diagnostics("UnknownError", message))
    balancers = ", ".join([*work.classic_load_balancers, *work.target_groups])
    context.log(f"{event.value}: host {work.host} {'left' if blocking else 'joined'} {balancers}")
    return EventOutcome(LifecycleEventStatus.SUCCEEDED, _diagnostics("Success", "Succeeded"))


def _step_failure(exc: AwsStepFailed) -> str:
    return f"{exc.message} ({exc.error_code.value})"


def _download(context: HostContext) -> EventOutcome:
    work, state = context.work, context.state
    deployment = state.begin_deployment(work.group_id, work.deployment_id)
    try:
        with tempfile.TemporaryDirectory(prefix="conveyor-bundle-") as scratch:
            bundle = Path(scratch) / "bundle"
            fetch_bundle(context.rt, work.revision, bundle)
            archive = state.unpack_bundle(deployment, bundle, location_of(work.revision)["bundleType"])
        context.appspec = read_host_appspec(archive, "the revision")
    except FileNotFoundError as exc:
        return EventOutcome(LifecycleEventStatus.FAILED, _diagnostics("UnknownError", f"the bundle is missing: {exc}"))
    except (HostStateError, ConveyorError) as exc:
        return EventOutcome(LifecycleEventStatus.FAILED, _diagnostics("UnknownError", exc.message))
    context.log(f"Downloaded the revision into {archive}")
    return EventOutcome(LifecycleEventStatus.SUCCEEDED, _diagnostics("Success", "Succeeded"))


def _install(context: HostContext) -> EventOutcome:
    spec, work = context.appspec, context.work
    assert spec is not None
    behavior = install.FileExistsBehavior(spec.file_exists_behavior or work.file_exists_behavior)
    try:
        install.install_revision(
            context.state,
            work.group_id,
            work.deployment_id,
            [install.FileMapping(f.source, f.destination) for f in spec.files],
            permissions=[_permission(p) for p in spec.permissions],
            file_exists_behavior=behavior,
            host_root=context.host_root,
            log=context.log,
        )
    except InstallError as exc:
        context.log(f"Install failed: {exc.message}")
        return EventOutcome(LifecycleEventStatus.FAILED, _diagnostics("UnknownError", exc.message))
    return EventOutcome(LifecycleEventStatus.SUCCEEDED, _diagnostics("Success", "Succeeded"))


def _scripts(context: HostContext, event: str, spec: appspec_hosts.HostAppSpec, archive: Path) -> EventOutcome:
    scripts = [
        hooks.HookScript(s.location, float(s.timeout or hooks.DEFAULT_SCRIPT_TIMEOUT), s.runas)
        for s in spec.scripts(event)
    ]
    if not scripts:
        return EventOutcome(LifecycleEventStatus.SUCCEEDED, _diagnostics("Success", "no scripts for this event"))
    result = hooks.run_lifecycle_event(event, scripts, archive, context.work.identity(), context.log)
    status = LifecycleEventStatus.SUCCEEDED if result.succeeded else LifecycleEventStatus.FAILED
    return EventOutcome(status, result.diagnostics())


def _permission(spec: SpecPermission) -> Permission:
    """An AppSpec `permissions` entry as the Install event applies it."""
    context = None
    if spec.context is not None:
        context = {"type": spec.context.type, "range": spec.context.range}
        if spec.context.user:
            context["user"] = spec.context.user
    return Permission(
        object=spec.object,
        pattern=spec.pattern,
        except_=spec.excepts,
        owner=spec.owner,
        group=spec.group,
        mode=int(spec.mode, 8) if spec.mode is not None else None,
        acls=spec.acls,
        context=context,
        types=frozenset(spec.types),
    )


def _diagnostics(code: str, message: str, log_tail: str = "") -> dict[str, str]:
    return {"errorCode": code, "scriptName": "", "message": message, "logTail": log_tail}


def retire_from_group(work_group_id: str, host_root: Path, log: Callable[[str], None]) -> list[Path]:
    """A released original host (blue/green TERMINATE): remove what the group's last Install copied and every
    deployment of the group the agent keeps; return the paths removed."""
    state = agent_state(host_root)
    removed = install.remove_previous_install(state, work_group_id)
    state.forget_group(work_group_id)
    log(f"Released from deployment group {work_group_id}: removed {len(removed)} installed paths")
    return removed
