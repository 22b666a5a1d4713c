"""Build events: a build that begins running or ends, and each phase that ends, written as a `state_events` row in
the transaction that made the change, in the shape EventBridge gives CodeBuild's events.

Notifications read them from there (`conveyor.notify.feed`) and never hook into the build engine. Decisions where
AWS says nothing: `build-id` is Conveyor's build id (`<project>:<uuid>`), not an ARN; IN_PROGRESS is told when a
worker begins the build (again for each new attempt); phase changes are told for the phases a worker runs
(PROVISIONING to FINALIZING), not for SUBMITTED and QUEUED.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, insert

from conveyor.build.status import BuildStatus, PhaseType
from conveyor.db.models import Build, utcnow
from conveyor.db.notify_models import StateEvent
from conveyor.notify.catalog import BUILD, BUILD_PHASE_CHANGE, BUILD_STATE_CHANGE
from conveyor.timefmt import iso

_INSERT = insert(cast(Table, StateEvent.__table__))


def build_changed(connection: Connection, build: Build) -> None:
    """The build began running, or ended (its status and current phase as they are now); written at once on the
    connection of the transaction that made the change (a prebuilt Core INSERT: every build runs it)."""
    detail: dict[str, Any] = {
        "build-status": build.status,
        "project-name": build.project_name,
        "build-id": build.id,
        "current-phase": build.current_phase,
        "additional-information": {
            "build-number": build.build_number,
            "initiator": build.initiator,
            "build-complete": BuildStatus(build.status).final,
            "source-version": build.resolved_source_version,
            "start-time": iso(build.start_time),
            "end-time": iso(build.end_time),
        },
        "version": "1",
    }
    if build.status_reason:
        detail["status-reason"] = build.status_reason
    values = {
        "source": BUILD,
        "detail_type": BUILD_STATE_CHANGE,
        "state": build.status,
        "resource": build.id,
        "name": build.project_name,
        "detail": detail,
        "created_at": utcnow(),
    }
    connection.execute(_INSERT, values)


@dataclass(frozen=True)
class PhaseEnd:
    phase: PhaseType
    started: datetime
    ended: datetime
    status: BuildStatus
    contexts: list[dict[str, str]]


def phases_ended(connection: Connection, build_id: str, ends: list[PhaseEnd]) -> None:
    """Phases ended; written on the connection of the transaction that records them (one prebuilt Core INSERT)."""
    if ends:
        connection.execute(_INSERT, [_phase_event(build_id, end) for end in ends])


def _phase_event(build_id: str, end: PhaseEnd) -> dict[str, Any]:
    project = build_id.rpartition(":")[0]
    detail = {
        "completed-phase": end.phase.value,
        "completed-phase-status": end.status.value,
        "completed-phase-duration-seconds": int((end.ended - end.started).total_seconds()),
        "completed-phase-start": iso(end.started),
        "completed-phase-end": iso(end.ended),
        "completed-phase-context": [f"{c.get('statusCode')}: {c.get('message')}" for c in end.contexts],
        "project-name": project,
        "build-id": build_id,
        "version": "1",
    }
    return {
        "source": BUILD,
        "detail_type": BUILD_PHASE_CHANGE,
        "state": end.status.value,
        "resource": build_id,
        "name": project,
        "detail": detail,
        "created_at": utcnow(),
    }
