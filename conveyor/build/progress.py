"""A build's progress as the worker running it records it: the attempt's beginning, each phase, the end.

Every statement here runs in each build, so they are prebuilt Core statements. A build worker that forks a work horse
per build (`conveyor worker --fork-builds`) rehearses them once before its first fork (`rehearse`): a horse then
finds them compiled instead of compiling them with cold caches, which costs it several milliseconds of CPU per build
in copied pages as much as in compiling.

Transactions of one attempt: `begin_attempt`; a `PhaseRecorder.checkpoint` before commands run (and whenever a
phase starts long after the last write); `record_end`, which also writes the phases still waiting and, for a
pipeline action's build, the `build.ended` dispatch that tells the action.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, delete, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from conveyor.build import events as build_events
from conveyor.build.phase_records import PhaseRecorder
from conveyor.build.report_store import save_reports
from conveyor.build.request import BuildResult
from conveyor.build.status import BuildStatus, PhaseType
from conveyor.db import Database
from conveyor.db.models import Build, BuildPhase, utcnow
from conveyor.dispatch import Kind, Outbox
from conveyor.errors import NotFound
from conveyor.queues import PIPELINE_QUEUE
from conveyor.runtime import Runtime

_PHASES = cast(Table, BuildPhase.__table__)
_BUILDS = cast(Table, Build.__table__)
_START_PHASE = insert(_PHASES).returning(_PHASES.c.id)
_END_PHASE = update(_PHASES).where(_PHASES.c.id == bindparam("phase_id"))
_BEGIN = (
    update(_BUILDS)
    .where(_BUILDS.c.id == bindparam("build_id"), _BUILDS.c.status == BuildStatus.IN_PROGRESS.value)
    .returning(*_BUILDS.c)
)
_END = update(_BUILDS).where(_BUILDS.c.id == bindparam("build_id")).returning(*_BUILDS.c)
_DROP_LATER_PHASES = delete(_PHASES).where(
    _PHASES.c.build_id == bindparam("build_id"), _PHASES.c.phase_type.not_in(["SUBMITTED", "QUEUED"])
)
_QUEUED_PHASE = (  # the last of the phases kept (QUEUED; SUBMITTED for a build that never queued)
    select(_PHASES.c.id, _PHASES.c.start_time, _PHASES.c.end_time)
    .where(_PHASES.c.build_id == bindparam("build_id"), _PHASES.c.phase_type.in_(["SUBMITTED", "QUEUED"]))
    .order_by(_PHASES.c.id.desc())
    .limit(1)
)
_FAILED_PHASES = (
    select(_PHASES.c.phase_type, _PHASES.c.contexts)
    .where(
        _PHASES.c.build_id == bindparam("build_id"),
        _PHASES.c.phase_status.is_not(None),
        _PHASES.c.phase_status != BuildStatus.SUCCEEDED.value,
    )
    .order_by(_PHASES.c.id)
)
_REHEARSAL_BUILD = "conveyor-rehearsal:00000000-0000-0000-0000-000000000000"


def begin_attempt(db: Database, build_id: str, attempt: int) -> Build:
    """The build begun by this attempt (the phases of an attempt before it dropped, QUEUED ended), or the build as it
    ended when it is final already."""
    with db.session() as session:
        begun = _begin(session.connection(), build_id, attempt)
        if begun is not None:
            return begun
        build = session.get(Build, build_id)
        if build is None:
            raise NotFound(f"no build {build_id}")
        return build


def _begin(connection: Connection, build_id: str, attempt: int) -> Build | None:
    now = utcnow()
    phase = PhaseType.PROVISIONING.value
    begun = {"build_id": build_id, "attempt": attempt, "start_time": now, "current_phase": phase}
    row = connection.execute(_BEGIN, begun).first()
    if row is None:
        return None
    connection.execute(_DROP_LATER_PHASES, {"build_id": build_id})
    queued = connection.execute(_QUEUED_PHASE, {"build_id": build_id}).first()
    if queued is not None:
        ended = queued.end_time or now
        duration = int((ended - queued.start_time).total_seconds())
        values = {"phase_id": queued.id, "end_time": ended, "phase_status": "SUCCEEDED", "duration_seconds": duration}
        connection.execute(_END_PHASE, values)
    build = _detached(row)
    build_events.build_changed(connection, build)
    return build


def record_end(rt: Runtime, build_id: str, result: BuildResult, log_key: str, recorder: PhaseRecorder) -> Build:
    """Record how the build ended, with the phases still waiting; a pipeline action's build also queues the job that
    tells the action, in the same transaction (the worker is done with the build once it has committed)."""
    with rt.transaction() as (session, outbox):
        return _end(session, outbox, build_id, result, log_key, recorder)


def _end(
    session: Session, outbox: Outbox, build_id: str, result: BuildResult, log_key: str, recorder: PhaseRecorder
) -> Build:
    connection = session.connection()
    recorder.write(connection)
    now = utcnow()
    values = {
        "build_id": build_id,
        "status": result.status.value,
        "current_phase": PhaseType.COMPLETED.value,
        "end_time": now,
        "log_key": log_key,
        "exported_variables": result.exported_variables,
        "artifact": result.artifact,
        "status_reason": result.reason or _failed_phase_reason(connection, build_id),
    }
    build = _detached(connection.execute(_END, values).one())
    connection.execute(_START_PHASE, _phase_start(build_id, PhaseType.COMPLETED, now))
    save_reports(session, build_id, result.reports)
    build_events.build_changed(connection, build)
    if build.action_execution_id is not None:
        outbox.add(Kind.BUILD_ENDED, build.id, PIPELINE_QUEUE, timeout_seconds=120)
    return build


def _failed_phase_reason(connection: Connection, build_id: str) -> str | None:
    for phase_type, contexts in connection.execute(_FAILED_PHASES, {"build_id": build_id}):
        if contexts:
            return f"{phase_type}: {contexts[0]['message']}"
    return None


def _detached(row: Row[Any]) -> Build:
    """A build as this row has it, in no session."""
    return Build(**row._asdict())


def _phase_start(build_id: str, phase: PhaseType, at: datetime) -> dict[str, Any]:
    return {"build_id": build_id, "phase_type": phase.value, "start_time": at, "contexts": []}


def rehearse(db: Database) -> None:
    """Run once what a build runs — begin an attempt, write phases, record the end and its report —
    on a build made for the purpose, and roll it all back: the statements stay compiled in this process."""
    with db.rehearsal() as session:
        connection = session.connection()
        now = utcnow()
        connection.execute(insert(_BUILDS), _rehearsal_build(now))
        connection.execute(_START_PHASE, _phase_start(_REHEARSAL_BUILD, PhaseType.QUEUED, now))
        _begin(connection, _REHEARSAL_BUILD, 1)
        recorder = PhaseRecorder(db, _REHEARSAL_BUILD)
        recorder.phase_started(PhaseType.PROVISIONING)
        recorder.phase_ended(PhaseType.PROVISIONING, BuildStatus.SUCCEEDED, [])
        recorder.phase_started(PhaseType.BUILD)
        recorder.write(connection)
        recorder.phase_ended(PhaseType.BUILD, BuildStatus.SUCCEEDED, [])
        outbox = Outbox(session)  # what it collects is never sent: nothing is committed
        _end(session, outbox, _REHEARSAL_BUILD, BuildResult(BuildStatus.SUCCEEDED), "rehearsal.log", recorder)
        outbox.add(Kind.BUILD_ENDED, _REHEARSAL_BUILD, PIPELINE_QUEUE, timeout_seconds=120)


def _rehearsal_build(now: datetime) -> dict[str, Any]:
    return {
        "id": _REHEARSAL_BUILD,
        "project_name": _REHEARSAL_BUILD.partition(":")[0],
        "build_number": 0,
        "status": BuildStatus.IN_PROGRESS.value,
        "current_phase": PhaseType.QUEUED.value,
        "initiator": "rehearsal",
        "compute_type": "rehearsal",
        "timeout_minutes": 1,
        "action_execution_id": None,
        "created_at": now,
    }
