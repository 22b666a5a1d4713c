"""Batch builds: submit one, read its buildspec's `batch` section, run its builds as the section says, end it.

A batch row exists from the start (status IN_PROGRESS, phase SUBMITTED). A job reads the batch section from the
source (DOWNLOAD_BATCHSPEC) and submits the builds that may start; each build that ends moves the batch on
(conveyor.build.batch_engine decides what next), from whichever worker ran it, under a lock on the batch row. When
nothing runs or can start, the artifacts of its builds are combined if asked (COMBINE_ARTIFACTS) and the batch
ends SUCCEEDED, FAILED or STOPPED.
"""

from __future__ import annotations

import tempfile
import zipfile
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from conveyor.build import batch_engine
from conveyor.build.batch_spec import BatchTask
from conveyor.build.request import is_inline
from conveyor.build.service import BuildInput, request_stop, signal_stop, submit_build
from conveyor.build.spec import parse_buildspec
from conveyor.build.starts import queue_build
from conveyor.build.status import BuildStatus
from conveyor.config import Settings
from conveyor.db import lock
from conveyor.db.models import Build, BuildBatch, BuildProject, utcnow
from conveyor.dispatch import Kind, Outbox
from conveyor.errors import Conflict, NotFound, Problem, SpecError
from conveyor.ids import new_id
from conveyor.queues import DEFAULT_QUEUE
from conveyor.runtime import Runtime

DOWNLOAD_BATCHSPEC, IN_PROGRESS, COMBINE_ARTIFACTS = "DOWNLOAD_BATCHSPEC", "IN_PROGRESS", "COMBINE_ARTIFACTS"


def submit_batch(
    session: Session,
    outbox: Outbox,
    project_name: str,
    *,
    initiator: str,
    inputs: list[BuildInput],
    action_execution_id: str | None = None,
    environment: dict[str, str] | None = None,
    combine_artifacts: bool = False,
    buildspec: str | None = None,
    secret_variables: list[dict[str, str]] | None = None,
) -> BuildBatch:
    """StartBuildBatch: the batch row, and the job that reads its batch section."""
    now = utcnow()
    primary = inputs[0] if inputs else None
    batch = BuildBatch(
        id=f"{project_name}:{new_id()}",
        project_name=project_name,
        status=BuildStatus.IN_PROGRESS.value,
        current_phase=DOWNLOAD_BATCHSPEC,
        phases=[_phase("SUBMITTED", now, now, BuildStatus.SUCCEEDED), _phase(DOWNLOAD_BATCHSPEC, now)],
        initiator=initiator,
        buildspec=buildspec,
        source_version=primary.revision if primary else None,
        resolved_source_version=primary.revision if primary else None,
        input_artifacts=[vars(i) for i in inputs],
        environment=environment or {},
        secret_variables=secret_variables or [],
        combine_artifacts=combine_artifacts,
        action_execution_id=action_execution_id,
        created_at=now,
        start_time=now,
    )
    session.add(batch)
    session.flush()
    outbox.add(Kind.BATCH, batch.id, DEFAULT_QUEUE, timeout_seconds=300)
    return batch


def prepare_batch(rt: Runtime, batch_id: str) -> BuildBatch | None:
    """DOWNLOAD_BATCHSPEC: read the tasks from the source's buildspec and start the first builds.

    Returns the batch if it ended here (a buildspec without a batch section, say), for its action to hear of it.
    """
    with rt.db.reader() as session:
        batch = session.get(BuildBatch, batch_id)
        if batch is None:
            raise NotFound(f"no build batch {batch_id}")
        if BuildStatus(batch.status).final or batch.current_phase != DOWNLOAD_BATCHSPEC:
            return None
        buildspec, inputs = batch.buildspec or _project_buildspec(session, batch.project_name), batch.input_artifacts
    try:
        text, source = _read_buildspec(rt, buildspec, inputs[0]["key"] if inputs else None)
        spec = parse_buildspec(text, source)
        if spec.batch is None:
            raise SpecError(source, [Problem("batch", "a batch build needs a batch section in its buildspec")])
    except (SpecError, FileNotFoundError, KeyError, zipfile.BadZipFile) as exc:
        return _end_early(rt, batch_id, "DOWNLOAD_BATCHSPEC", str(exc))
    with rt.transaction() as (session, outbox):
        batch = lock(session, BuildBatch, batch_id)
        if batch is None or batch.current_phase != DOWNLOAD_BATCHSPEC or BuildStatus(batch.status).final:
            return None
        batch.kind, batch.fast_fail = spec.batch.kind, spec.batch.fast_fail
        batch.tasks = [asdict(task) for task in spec.batch.tasks]
        _next_phase(batch, IN_PROGRESS)
        moved = _advance(rt.settings, session, outbox, batch)
    return _after(rt, batch, moved)


def member_finished(rt: Runtime, build: Build) -> BuildBatch | None:
    """A build of a batch ended: move the batch on. Returns the batch if this ended it."""
    if build.batch_id is None:
        return None
    with rt.transaction() as (session, outbox):
        batch = lock(session, BuildBatch, build.batch_id)
        if batch is None or batch.current_phase != IN_PROGRESS:
            return None
        moved = _advance(rt.settings, session, outbox, batch)
    return _after(rt, batch, moved)


def stop_batch(rt: Runtime, batch_id: str) -> BuildBatch:
    """StopBuildBatch: its builds are stopped, none starts any more; it ends STOPPED once they have."""
    with rt.transaction() as (session, outbox):
        batch = lock(session, BuildBatch, batch_id)
        if batch is None:
            raise NotFound(f"no build batch {batch_id}")
        if BuildStatus(batch.status).final:
            raise Conflict(f"build batch {batch_id} already ended {batch.status}")
        batch.stop_requested_at = utcnow()
        if batch.current_phase == DOWNLOAD_BATCHSPEC:
            _end(batch, BuildStatus.STOPPED, "the batch was stopped before its builds started")
            return batch
        moved = _advance(rt.settings, session, outbox, batch)
    _after(rt, batch, moved)
    return batch


def fail_batch(rt: Runtime, batch_id: str, reason: str) -> BuildBatch | None:
    """End a batch Conveyor could not move on (its job kept failing); None if it had ended."""
    return _end_early(rt, batch_id, None, reason)


# -- moving a batch on ----------------------------------------------------------------------------------------------


@dataclass
class _Moved:
    ended: bool = False  # the batch is over, or has its artifacts to combine
    stopped: list[Build] = field(default_factory=list)  # running builds told to stop (after the commit)


def _advance(settings: Settings, session: Session, outbox: Outbox, batch: BuildBatch) -> _Moved:
    """Carry out the engine's steps until nothing changes (a stopped queued build ends at once, and counts)."""
    tasks = tuple(BatchTask(**{**task, "depend_on": tuple(task["depend_on"])}) for task in batch.tasks)
    by_id = {task.identifier: task for task in tasks}
    moved = _Moved()
    while True:
        builds = {b.batch_identifier: b for b in batch.builds}
        states = {t.identifier: (builds[t.identifier].status if t.identifier in builds else None) for t in tasks}
        step = batch_engine.next_step(
            tasks, states, fast_fail=batch.fast_fail, stop_requested=batch.stop_requested_at is not None
        )
        stopping = [builds[i] for i in step.stop if builds[i].stop_requested_at is None]
        for build in stopping:
            request_stop(session, build)
        moved.stopped += [b for b in stopping if b.status == BuildStatus.IN_PROGRESS.value]
        for identifier in step.start:
            _submit_task(session, outbox, settings, batch, by_id[identifier])
        if step.status is not None:
            break
        if not step.start and all(b.status == BuildStatus.IN_PROGRESS.value for b in stopping):
            return moved  # builds are running: the next to end moves the batch on
    moved.ended = True
    if step.status is BuildStatus.SUCCEEDED and batch.combine_artifacts:
        _next_phase(batch, COMBINE_ARTIFACTS)
    else:
        _end(batch, step.status, _reason(step, states))
    return moved


def _after(rt: Runtime, batch: BuildBatch, moved: _Moved) -> BuildBatch | None:
    """Once the transaction committed: tell stopped builds' workers; combine artifacts; the batch if it ended."""
    for build in moved.stopped:
        signal_stop(rt, build)
    if not moved.ended:
        return None
    return _combine(rt, batch) if batch.current_phase == COMBINE_ARTIFACTS else batch


def _submit_task(session: Session, outbox: Outbox, settings: Settings, batch: BuildBatch, task: BatchTask) -> None:
    inputs = [BuildInput(**artifact) for artifact in batch.input_artifacts]
    environment = {**batch.environment, **task.variables, "CODEBUILD_BATCH_BUILD_IDENTIFIER": task.identifier}
    build = submit_build(
        session,
        settings,
        batch.project_name,
        initiator=f"batch/{batch.id}",
        inputs=inputs,
        environment=environment,
        buildspec=task.buildspec or batch.buildspec,
        compute_type=task.compute_type,
        batch=(batch.id, task.identifier),
        secret_variables=batch.secret_variables,
    )
    batch.builds.append(build)
    session.flush()
    queue_build(outbox, build)


def _combine(rt: Runtime, batch: BuildBatch) -> BuildBatch:
    """COMBINE_ARTIFACTS: each build's artifact in one zip, under a folder named by its identifier."""
    key = f"batches/{batch.project_name}/{batch.id.split(':')[-1]}/combined.zip"
    members = [(b.batch_identifier, b.artifact["key"]) for b in batch.builds if b.artifact and b.batch_identifier]
    try:
        with tempfile.TemporaryDirectory(prefix="conveyor-batch-") as scratch:
            combined = Path(scratch) / "combined.zip"
            with zipfile.ZipFile(combined, "w", allowZip64=True) as archive:
                for identifier, member_key in members:
                    part = Path(scratch) / f"{identifier}.zip"
                    rt.blobs.get_file(member_key, part)
                    with zipfile.ZipFile(part) as source:
                        for info in source.infolist():
                            name = f"{identifier}/{info.filename}"
                            archive.writestr(name, source.read(info), compress_type=info.compress_type)
            rt.blobs.put_file(key, combined)
        status, reason, artifact = BuildStatus.SUCCEEDED, None, {"key": key, "builds": len(members)}
    except (OSError, zipfile.BadZipFile) as exc:
        status, reason, artifact = BuildStatus.FAILED, f"could not combine the artifacts: {exc}", None
    with rt.db.session() as session:
        locked = lock(session, BuildBatch, batch.id)
        assert locked is not None
        locked.artifact = artifact
        _end(locked, status, reason)
        session.flush()
        return locked


def _end_early(rt: Runtime, batch_id: str, phase: str | None, reason: str) -> BuildBatch | None:
    with rt.db.session() as session:
        batch = lock(session, BuildBatch, batch_id)
        if batch is None or BuildStatus(batch.status).final:
            return None
        _end(batch, BuildStatus.FAILED, reason, phase or batch.current_phase)
        session.flush()
        return batch


def _end(batch: BuildBatch, status: BuildStatus, reason: str | None, failed_phase: str | None = None) -> None:
    """The batch ends `status`: its open phase closes so too (FAILED for `failed_phase`); a last phase names it."""
    now = utcnow()
    closing = BuildStatus.FAILED if failed_phase else status
    _close_open_phase(batch, now, closing, reason if closing is not BuildStatus.SUCCEEDED else None)
    batch.phases = [*batch.phases, _phase(status.value, now, now, status)]
    batch.status, batch.status_reason, batch.current_phase, batch.end_time = status.value, reason, status.value, now


def _next_phase(batch: BuildBatch, phase_type: str) -> None:
    now = utcnow()
    _close_open_phase(batch, now, BuildStatus.SUCCEEDED, None)
    batch.phases = [*batch.phases, _phase(phase_type, now)]
    batch.current_phase = phase_type


def _phase(
    phase_type: str, start: datetime, end: datetime | None = None, status: BuildStatus | None = None
) -> dict[str, Any]:
    return {
        "phaseType": phase_type,
        "phaseStatus": status.value if status else None,
        "startTime": start.isoformat(),
        "endTime": end.isoformat() if end else None,
        "durationInSeconds": int((end - start).total_seconds()) if end else None,
        "contexts": [],
    }


def _close_open_phase(batch: BuildBatch, now: datetime, status: BuildStatus, reason: str | None) -> None:
    """End the phase still open (a new list, so the JSON column sees the change)."""
    phases = [dict(p) for p in batch.phases]
    if phases and phases[-1]["endTime"] is None:
        started = datetime.fromisoformat(phases[-1]["startTime"])
        phases[-1].update(
            phaseStatus=status.value,
            endTime=now.isoformat(),
            durationInSeconds=int((now - started).total_seconds()),
            contexts=[{"statusCode": status.value, "message": reason}] if reason else [],
        )
    batch.phases = phases


def _reason(step: batch_engine.BatchStep, states: dict[str, str | None]) -> str | None:
    if step.status is BuildStatus.SUCCEEDED:
        return None
    if step.status is BuildStatus.STOPPED:
        return "the batch was stopped"
    failed = sorted(i for i, s in states.items() if s is not None and s not in ("SUCCEEDED", "IN_PROGRESS"))
    parts = [f"builds that failed: {', '.join(failed)}"] if failed else []
    if step.never:
        parts.append(f"not run: {', '.join(step.never)}")
    return "; ".join(parts) or None


# -- reading the batch section ---------------------------------------------------------------------------------------


def _project_buildspec(session: Session, project_name: str) -> str | None:
    project = session.scalars(select(BuildProject).where(BuildProject.name == project_name)).one_or_none()
    return project.buildspec if project else None


def _read_buildspec(rt: Runtime, buildspec: str | None, source_key: str | None) -> tuple[str, str]:
    """The batch's buildspec text and its name: inline, or a path in the primary source (buildspec.yml)."""
    if is_inline(buildspec):
        return buildspec, "buildspec (inline)"
    relative = PurePosixPath(buildspec or "buildspec.yml")
    if relative.is_absolute() or ".." in relative.parts or source_key is None:
        raise FileNotFoundError(f"buildspec path {str(relative)!r} is not a path in the source")
    name = str(relative).removeprefix("./")
    with tempfile.TemporaryDirectory(prefix="conveyor-batch-") as scratch:
        archive = Path(scratch) / "source.zip"
        rt.blobs.get_file(source_key, archive)
        with zipfile.ZipFile(archive) as source:
            try:
                return source.read(name).decode("utf-8", errors="replace"), name
            except KeyError:
                raise FileNotFoundError(f"no buildspec at {name} in the source") from None
