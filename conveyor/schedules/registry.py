"""Saving schedules and reading them back: create, update, pause, resume, delete, and how a schedule is shown.

A schedule is read whole first (`spec`), then checked against the database: its pipeline exists, declares the
variables and has the source action a revision names (StartPipelineExecution's own checks), or its project is
registered with an inline buildspec (a build started on its own has no source). An expression that will never fire
again is refused.

The pending slot (`next_fire_at`) is counted from now when a schedule is created, when its expression or time zone
changes (a rate then restarts its count from now) and when it is resumed; pausing clears it. So slots that pass while a
schedule is paused never fire, and resuming never catches up.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from conveyor.build.starts import check_sourceless
from conveyor.db import lock
from conveyor.db.models import utcnow
from conveyor.db.schedule_models import Schedule
from conveyor.errors import Conflict, InvalidRequest, NotFound, Problem, SpecError
from conveyor.pipeline.service import check_start
from conveyor.runtime import Runtime
from conveyor.schedules.expressions import Timing, floor_minute
from conveyor.schedules.spec import ScheduleSpec, ScheduleState, ScheduleTarget, TargetKind, parse_schedule
from conveyor.timefmt import iso

SHOWN_FIRE_TIMES = 5


def create_schedule(rt: Runtime, body: Any, now: datetime | None = None) -> dict[str, Any]:
    """Save a new schedule; its name must be free."""
    spec = parse_schedule(body)
    now = now or utcnow()
    with rt.db.session() as session:
        if _find(session, spec.name) is not None:
            raise Conflict(f"a schedule named {spec.name!r} already exists; update it instead")
        _check_target(session, spec.target)
        schedule = Schedule(name=spec.name, state=(spec.state or ScheduleState.ENABLED).value, created_at=now)
        _apply(schedule, spec, now, retime=True, restart=True)
        session.add(schedule)
        session.flush()
        return describe(schedule)


def update_schedule(rt: Runtime, name: str, body: Any, now: datetime | None = None) -> dict[str, Any]:
    """Replace a schedule's definition; `state`, when given, pauses or resumes it too."""
    spec = parse_schedule(body, name)
    now = now or utcnow()
    with rt.db.session() as session:
        schedule = find_schedule(session, name, for_update=True)
        _check_target(session, spec.target)
        restart = (spec.expression, spec.timezone) != (schedule.expression, schedule.timezone)
        restate = spec.state is not None and spec.state.value != schedule.state
        if spec.state is not None:
            schedule.state = spec.state.value
        _apply(schedule, spec, now, retime=restart or restate, restart=restart)
        return describe(schedule)


def get_schedule(rt: Runtime, name: str, count: int = SHOWN_FIRE_TIMES) -> dict[str, Any]:
    with rt.db.reader() as session:
        return describe(find_schedule(session, name), count)


def list_schedules(rt: Runtime) -> list[dict[str, Any]]:
    with rt.db.reader() as session:
        return [describe(s, count=1) for s in session.scalars(select(Schedule).order_by(Schedule.name))]


def delete_schedule(rt: Runtime, name: str) -> None:
    """Delete a schedule and its history; what it started goes on."""
    with rt.db.session() as session:
        session.delete(find_schedule(session, name, for_update=True))


def pause_schedule(rt: Runtime, name: str) -> dict[str, Any]:
    """No slot fires until it is resumed (run-now still does); pausing a paused schedule changes nothing."""
    with rt.db.session() as session:
        schedule = find_schedule(session, name, for_update=True)
        if schedule.state != ScheduleState.DISABLED.value:
            schedule.state = ScheduleState.DISABLED.value
            schedule.next_fire_at = None
            schedule.updated_at = utcnow()
        return describe(schedule)


def resume_schedule(rt: Runtime, name: str, now: datetime | None = None) -> dict[str, Any]:
    """Fire again from the first slot after now; resuming a schedule that runs changes nothing."""
    now = now or utcnow()
    with rt.db.session() as session:
        schedule = find_schedule(session, name, for_update=True)
        if schedule.state != ScheduleState.ENABLED.value:
            schedule.state = ScheduleState.ENABLED.value
            schedule.next_fire_at = timing_of(schedule).next_after(now)
            schedule.updated_at = now
        return describe(schedule)


def find_schedule(session: Session, name: str, *, for_update: bool = False) -> Schedule:
    schedule = _find(session, name, for_update=for_update)
    if schedule is None:
        raise NotFound(f"no schedule named {name!r}")
    return schedule


def _find(session: Session, name: str, *, for_update: bool = False) -> Schedule | None:
    found = session.scalars(select(Schedule.id).where(Schedule.name == name)).one_or_none()
    if found is None:
        return None
    return lock(session, Schedule, found) if for_update else session.get(Schedule, found)


def timing_of(schedule: Schedule) -> Timing:
    return Timing.parse(schedule.expression, schedule.timezone, schedule.anchor_at)


def _check_target(session: Session, target: ScheduleTarget) -> None:
    """What only the database knows about the target: a missing pipeline or project is a problem at its name, one
    that does not fit (variables, revision, buildspec) at the target."""
    name_path = "target.pipelineName" if target.kind is TargetKind.PIPELINE else "target.projectName"
    try:
        if target.kind is TargetKind.PIPELINE:
            check_start(session, target.name, target.variables, target.revision)
        else:
            check_sourceless(session, target.name)
    except NotFound as exc:
        raise SpecError("schedule", [Problem(name_path, exc.message)]) from None
    except InvalidRequest as exc:
        raise SpecError("schedule", [Problem("target", exc.message)]) from None


def _apply(schedule: Schedule, spec: ScheduleSpec, now: datetime, *, retime: bool, restart: bool) -> None:
    """Save the definition; `retime` counts the pending slot from now, `restart` also restarts a rate's count."""
    schedule.description = spec.description
    schedule.expression = spec.expression
    schedule.timezone = spec.timezone
    schedule.missed = spec.missed.value
    schedule.target_kind = spec.target.kind.value
    schedule.target_name = spec.target.name
    schedule.variables = dict(spec.target.variables)
    schedule.revision = spec.target.revision
    schedule.updated_at = now
    if restart:
        schedule.anchor_at = floor_minute(now)
    if not retime:
        return
    upcoming = timing_of(schedule).next_after(now)
    if upcoming is None and restart:
        raise SpecError("schedule", [Problem("scheduleExpression", f"never fires after {iso(now)}")])
    enabled = schedule.state == ScheduleState.ENABLED.value
    schedule.next_fire_at = upcoming if enabled else None


def describe(schedule: Schedule, count: int = SHOWN_FIRE_TIMES) -> dict[str, Any]:
    """The schedule as the API shows it, with its next fire times (the pending slot first, due or not)."""
    pending = schedule.next_fire_at
    upcoming = [pending, *timing_of(schedule).fire_times(pending, count - 1)] if pending is not None else []
    return {
        "name": schedule.name,
        "description": schedule.description,
        "scheduleExpression": schedule.expression,
        "scheduleExpressionTimezone": schedule.timezone,
        "state": schedule.state,
        "missed": schedule.missed,
        "target": describe_target(schedule),
        "nextFireTimes": [iso(moment) for moment in upcoming[:count]],
        "createdAt": iso(schedule.created_at),
        "updatedAt": iso(schedule.updated_at),
    }


def describe_target(schedule: Schedule) -> dict[str, Any]:
    if schedule.target_kind == TargetKind.PIPELINE.value:
        target: dict[str, Any] = {"pipelineName": schedule.target_name, "variables": schedule.variables}
        return {**target, "revision": schedule.revision} if schedule.revision else target
    return {"projectName": schedule.target_name, "environmentVariables": schedule.variables}
