"""Builds: submit them, run them on a worker, record their phases, and read them back.

A build row exists from the moment its action starts (status IN_PROGRESS, phase QUEUED), so it can be seen while it
waits for a worker. A worker runs it in a fresh workspace; each phase is recorded as it starts and ends. The
build's start on a worker, each phase's end and the build's end are told as events (`conveyor.build.events`) in the
transactions that record them.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from conveyor.build import events as build_events
from conveyor.build.cache_store import CacheConfig, CacheStore, open_cache_store
from conveyor.build.environment import BuildIdentity, codebuild_variables
from conveyor.build.git_lending import credentials_for
from conveyor.build.livelog import LogPublisher, live_text
from conveyor.build.log import BuildLog
from conveyor.build.phase_records import PhaseRecorder
from conveyor.build.progress import begin_attempt, record_end
from conveyor.build.runner import BuildRequest, BuildRunner, InputArtifact
from conveyor.build.secrets import AwsSecrets
from conveyor.build.spec import SecretReference, secrets_manager_reference
from conveyor.build.status import BuildStatus, PhaseType
from conveyor.config import Settings
from conveyor.db import lock
from conveyor.db.models import Build, BuildPhase, BuildProject, Dispatch, utcnow
from conveyor.dispatch import DispatchState, Kind, unfinished
from conveyor.errors import Conflict, NotFound
from conveyor.ids import new_id
from conveyor.runtime import Runtime


@dataclass(frozen=True)
class BuildInput:
    name: str
    key: str
    revision: str | None = None
    repository_url: str | None = None


def submit_build(
    session: Session,
    settings: Settings,
    project_name: str,
    *,
    initiator: str,
    inputs: list[BuildInput],
    action_execution_id: str | None = None,
    environment: dict[str, str] | None = None,
    buildspec: str | None = None,
    compute_type: str | None = None,
    batch: tuple[str, str] | None = None,
    secret_variables: list[dict[str, str]] | None = None,
) -> Build:
    """Create a queued build of `project_name`, registering the project with defaults on first use.

    `environment` and `secret_variables` (PARAMETER_STORE / SECRETS_MANAGER, as a project lists them) win over the
    project's variables; `buildspec` and `compute_type` over the project's; `batch` is `(batch id, task identifier)`
    for a build of a batch.
    """
    project = _project_for_update(session, project_name)
    project.last_build_number += 1
    now = utcnow()
    primary = inputs[0] if inputs else None
    plain, secrets = _variables(project, environment or {}, secret_variables or [])
    build = Build(
        id=f"{project_name}:{new_id()}",
        project_name=project_name,
        build_number=project.last_build_number,
        status=BuildStatus.IN_PROGRESS.value,
        current_phase=PhaseType.QUEUED.value,
        initiator=initiator,
        **_overridden(project, settings, buildspec=buildspec, compute_type=compute_type),
        source_version=primary.revision if primary else None,
        resolved_source_version=primary.revision if primary else None,
        action_execution_id=action_execution_id,
        input_artifacts=[vars(i) for i in inputs],
        environment=plain,
        secret_variables=secrets,
        cache=CacheConfig.for_project(project.cache, project_name).record(),
        batch_id=batch[0] if batch else None,
        batch_identifier=batch[1] if batch else None,
        created_at=now,
    )
    session.add(build)
    build.phases.append(
        BuildPhase(phase_type="SUBMITTED", phase_status="SUCCEEDED", start_time=now, end_time=now, duration_seconds=0)
    )
    build.phases.append(BuildPhase(phase_type="QUEUED", start_time=now))
    return build


def _overridden(
    project: BuildProject, settings: Settings, *, buildspec: str | None, compute_type: str | None
) -> dict[str, Any]:
    """What runs and on what: the build's own choice, else the project's, else this installation's default."""
    return {
        "compute_type": compute_type or project.compute_type or settings.default_compute_type,
        "buildspec": buildspec or project.buildspec,
        "timeout_minutes": project.timeout_minutes or settings.build_timeout_minutes,
        "queued_timeout_minutes": project.queued_timeout_minutes or settings.build_queued_timeout_minutes,
    }


def _variables(
    project: BuildProject, environment: dict[str, str], secret_variables: list[dict[str, str]]
) -> tuple[dict[str, str], list[dict[str, str]]]:
    """A build's plain variables and its secret ones: those given for this build win over the project's of the same
    name, whichever kind either is."""
    overridden_secrets = {v["name"] for v in secret_variables}
    overrides = set(environment) | overridden_secrets
    plain = {
        name: value
        for name, value in {**_project_variables(project), **environment}.items()
        if name not in overridden_secrets
    }
    secrets = [*(v for v in _project_secrets(project) if v["name"] not in overrides), *secret_variables]
    return plain, secrets


def _project_for_update(session: Session, name: str) -> BuildProject:
    query = select(BuildProject).where(BuildProject.name == name).with_for_update()
    project = session.scalars(query).one_or_none()
    if project is not None:
        return project
    try:
        with session.begin_nested():
            session.add(BuildProject(name=name, last_build_number=0))
    except IntegrityError:
        pass  # another transaction registered it first
    return session.scalars(query).one()


def _project_variables(project: BuildProject) -> dict[str, str]:
    return {
        str(v["name"]): str(v.get("value", ""))
        for v in project.environment_variables or []
        if v.get("type", "PLAINTEXT") == "PLAINTEXT"
    }


def _project_secrets(project: BuildProject) -> list[dict[str, str]]:
    return [v for v in project.environment_variables or [] if v.get("type", "PLAINTEXT") != "PLAINTEXT"]


def _secret_reference(variable: dict[str, str]) -> SecretReference:
    """A project's PARAMETER_STORE or SECRETS_MANAGER variable, read as the buildspec's are."""
    if variable["type"] == "PARAMETER_STORE":
        return SecretReference(variable["name"], "parameter-store", variable["value"])
    return secrets_manager_reference(variable["name"], variable["value"])


def run_build(
    rt: Runtime, build_id: str, attempt: int, on_runner: Callable[[BuildRunner], None] | None = None
) -> Build:
    """Run a queued build to the end (on a worker); returns the finished row."""
    build = begin_attempt(rt.db, build_id, attempt)
    if BuildStatus(build.status).final:
        return build
    workspace = rt.settings.path("workspaces", f"{build.id.split(':')[-1]}-{attempt}")
    shutil.rmtree(workspace, ignore_errors=True)
    live = LogPublisher(rt.redis, build.id) if rt.redis is not None else None
    log = BuildLog(workspace / "build.log", on_flush=live.publish if live else None)
    if attempt > 1:
        log.container(f"Attempt {attempt}: the worker running the previous attempt stopped responding")
    recorder = PhaseRecorder(rt.db, build.id)
    runner = BuildRunner(
        _request(rt.settings, build, workspace),
        rt.blobs,
        recorder,
        log,
        secrets=AwsSecrets(rt.settings),
        cache_store=_cache_store(rt, build, log),
    )
    if on_runner is not None:
        on_runner(runner)
    try:
        result = runner.run()
    finally:
        log.close()
    log_key = _log_key(build.id)
    try:
        rt.blobs.put_file(log_key, log.path)
    except BaseException:
        recorder.checkpoint()  # the phases stay on record for whoever gives the build up
        raise
    finished = record_end(rt, build.id, result, log_key, recorder)
    if live is not None:
        live.finish(finished.status)
    if not rt.settings.keep_workspaces:
        shutil.rmtree(workspace, ignore_errors=True)
    return finished


def _cache_store(rt: Runtime, build: Build, log: BuildLog) -> CacheStore | None:
    config = CacheConfig(**build.cache) if build.cache else CacheConfig.for_project(None, build.project_name)
    try:
        return open_cache_store(rt.settings, config, rt.blobs)
    except (ValueError, OSError) as exc:  # a cache never fails a build
        log.container(f"Warning: the {config.type} cache cannot be opened: {exc}")
        return None


def _request(settings: Settings, build: Build, workspace: Path) -> BuildRequest:
    primary = build.input_artifacts[0] if build.input_artifacts else {}
    credentials, withheld = credentials_for(settings, build.environment)
    identity = BuildIdentity(
        build_id=build.id,
        build_number=build.build_number,
        project_name=build.project_name,
        initiator=build.initiator,
        start=build.start_time or utcnow(),
        region=settings.aws_region,
        source_version=build.source_version,
        resolved_source_version=build.resolved_source_version,
        repository_url=primary.get("repository_url"),
    )
    return BuildRequest(
        build_id=build.id,
        project_name=build.project_name,
        workspace=workspace,
        inputs=tuple(InputArtifact(i["name"], i["key"]) for i in build.input_artifacts),
        environment={**codebuild_variables(identity), **build.environment},
        secret_references=tuple(_secret_reference(v) for v in build.secret_variables),
        sandbox=settings.build_sandbox,
        network=settings.build_network,
        runtimes_dir=settings.runtimes_dir,
        git_credentials=credentials,
        git_credentials_withheld=withheld,
        timeout_seconds=build.timeout_minutes * 60,
        buildspec=build.buildspec,
        artifact_key_prefix=f"builds/{build.project_name}/{build.id.split(':')[-1]}/",
    )


def stop_key(build_id: str) -> str:
    """The Redis key a running build's worker watches for a stop request."""
    return f"conveyor:stop:{build_id}"


def stop_build(rt: Runtime, build_id: str) -> Build:
    """StopBuild: a queued build ends STOPPED at once; a running one is told to stop and ends STOPPED soon after.

    Returns the build as it is now (IN_PROGRESS with `stop_requested_at` set while the worker stops it).
    """
    with rt.db.session() as session:
        build = lock(session, Build, build_id)
        if build is None:
            raise NotFound(f"no build {build_id}")
        if BuildStatus(build.status).final:
            raise Conflict(f"build {build_id} already ended {build.status}")
        request_stop(session, build)
        session.flush()
    signal_stop(rt, build)
    return build


def request_stop(session: Session, build: Build) -> None:
    """Record a stop request in this transaction: a build still queued ends STOPPED at once."""
    build.stop_requested_at = utcnow()
    if build.current_phase in (PhaseType.SUBMITTED.value, PhaseType.QUEUED.value):
        _end_unstarted(session, build, BuildStatus.STOPPED, "BUILD_STOPPED", "the build was stopped before it started")


def signal_stop(rt: Runtime, build: Build) -> None:
    """After the stop request committed: tell the worker running the build, or a live-log follower that it ended."""
    if rt.redis is None:
        return
    if BuildStatus(build.status).final:
        LogPublisher(rt.redis, build.id).finish(build.status)
    else:
        rt.redis.set(stop_key(build.id), "1", ex=24 * 3600)


def time_out_queued(rt: Runtime, build_id: str) -> Build | None:
    """End a build that waited in the queue past its queued timeout; None if it had started or ended."""
    with rt.db.session() as session:
        build = lock(session, Build, build_id)
        if build is None or BuildStatus(build.status).final or build.current_phase != PhaseType.QUEUED.value:
            return None
        message = f"Build has timed out in the queue. {build.queued_timeout_minutes} mins"
        _end_unstarted(session, build, BuildStatus.TIMED_OUT, "BUILD_TIMED_OUT", message)
        session.flush()
    if rt.redis is not None:
        LogPublisher(rt.redis, build_id).finish(BuildStatus.TIMED_OUT.value)
    return build


def _end_unstarted(session: Session, build: Build, status: BuildStatus, code: str, message: str) -> None:
    now = utcnow()
    for phase in build.phases:
        if phase.end_time is None:
            phase.end_time, phase.phase_status = now, status.value
            phase.duration_seconds = int((now - phase.start_time).total_seconds())
            phase.contexts = [{"statusCode": code, "message": message}]
    build.phases.append(BuildPhase(phase_type=PhaseType.COMPLETED.value, start_time=now))
    build.status, build.status_reason = status.value, message
    build.current_phase, build.end_time = PhaseType.COMPLETED.value, now
    build_events.build_changed(session.connection(), build)
    dispatches = session.scalars(
        select(Dispatch).where(unfinished(), Dispatch.kind == Kind.BUILD.value, Dispatch.subject_id == build.id)
    )
    for dispatch in dispatches:  # its queue job, when a worker takes it, finds nothing to do
        dispatch.state, dispatch.finished_at = DispatchState.DONE.value, now


def give_up(rt: Runtime, build_id: str, reason: str) -> Build | None:
    """Record a build that no worker can finish as FAULT, with the reason; None if it had already ended.

    What the lost attempt had written to the live log becomes the stored log, with the reason at its end.
    """
    log_key = _log_key(build_id).replace(".log", ".given-up.log")  # never over a log a late finish stores
    written = live_text(rt.redis, build_id) if rt.redis is not None else ""
    rt.blobs.put_bytes(log_key, f"{written}[Container] {reason}\n".encode())
    with rt.db.session() as session:
        build = lock(session, Build, build_id)
        if build is None or BuildStatus(build.status).final:
            return None
        build.log_key = log_key
        now = utcnow()
        for phase in build.phases:
            if phase.end_time is None:
                phase.end_time = now
                phase.phase_status = BuildStatus.FAULT.value
                phase.contexts = [{"statusCode": "WORKER_LOST", "message": reason}]
        build.status = BuildStatus.FAULT.value
        build.status_reason = reason
        build.current_phase = PhaseType.COMPLETED.value
        build.end_time = now
        build_events.build_changed(session.connection(), build)
        session.flush()
    if rt.redis is not None:
        publisher = LogPublisher(rt.redis, build_id)
        publisher.publish(f"[Container] {reason}\n")
        publisher.finish(BuildStatus.FAULT.value)
    return build


def _log_key(build_id: str) -> str:
    project, _, build_uuid = build_id.rpartition(":")
    return f"logs/builds/{project}/{build_uuid}.log"
