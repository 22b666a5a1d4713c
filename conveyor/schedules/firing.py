"""Firing schedules: the scheduler's pass over due slots, run-now, and the history of what each firing started.

One firing per slot, whatever the number of schedulers: a scheduler takes a due schedule's row FOR UPDATE SKIP
LOCKED (on SQLite, writers go one at a time) and, in that one transaction, records the firing, starts the target
and moves `next_fire_at` on — so another scheduler either skips the locked row or, once it is committed, no longer
finds it due. The unique (schedule, slot) row refuses a second firing of a slot should two ever meet anyway (a
scheduler whose clock is behind another's may resume a schedule onto a slot fired already): the one refused starts
nothing and moves the schedule past that slot.

The target starts in that same transaction rather than in a job: the pipeline execution (with the dispatch of its
first advance) or the build (with its queue dispatch) commits together with the firing that started it, or not at
all, and the outbox then hands it to the workers like any other work. A target that cannot start — its pipeline no
longer declares a variable, its project lost its inline buildspec — fails the firing with the reason, and the slot
is spent all the same. Which slot fires, and what a missed slot does, is the engine's decision.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from conveyor.build.starts import start_build
from conveyor.config import Settings
from conveyor.db import lock
from conveyor.db.models import Build, PipelineExecution, utcnow
from conveyor.db.schedule_models import Schedule, ScheduleFiring
from conveyor.dispatch import Outbox
from conveyor.errors import Conflict, InvalidRequest, NotFound
from conveyor.pipeline.service import start_in
from conveyor.pipeline.status import TriggerType
from conveyor.runtime import Runtime
from conveyor.schedules import engine
from conveyor.schedules.engine import FiringStatus, MissedSlots
from conveyor.schedules.registry import find_schedule, timing_of
from conveyor.schedules.spec import ScheduleState, TargetKind
from conveyor.timefmt import iso

log = logging.getLogger(__name__)
SCHEDULE, RUN_NOW = "schedule", "run-now"  # what made a firing


class SlotTaken(Exception):
    """Another scheduler recorded the firing of this slot first: the slot is fired, once."""

    def __init__(self, schedule_id: int, slot: datetime) -> None:
        super().__init__(f"schedule {schedule_id}: slot {slot.isoformat()} was fired already")
        self.schedule_id = schedule_id
        self.slot = slot


@dataclass(frozen=True)
class Fired:
    schedule: str
    slot: datetime
    status: FiringStatus
    target_id: str | None


def fire_due(rt: Runtime, now: datetime | None = None) -> list[Fired]:
    """Fire every enabled schedule whose pending slot is at or before `now`; what this scheduler fired."""
    now = now or utcnow()
    with rt.db.reader() as session:
        due = session.scalars(
            select(Schedule.id)
            .where(Schedule.state == ScheduleState.ENABLED.value, Schedule.next_fire_at <= now)
            .order_by(Schedule.next_fire_at)
        ).all()
    fired = []
    for schedule_id in due:
        try:
            result = _fire_slot(rt, schedule_id, now)
        except SlotTaken as taken:
            log.info("%s", taken)
            _pass_taken_slot(rt, taken, now)
            continue
        except Exception:  # one schedule's trouble must not hold the others back; the next pass tries again
            log.exception("schedule %s could not be fired", schedule_id)
            continue
        if result is not None:
            fired.append(result)
    return fired


def _fire_slot(rt: Runtime, schedule_id: int, now: datetime) -> Fired | None:
    with rt.transaction() as (session, outbox):
        schedule = session.scalars(
            select(Schedule)
            .where(
                Schedule.id == schedule_id,
                Schedule.state == ScheduleState.ENABLED.value,
                Schedule.next_fire_at <= now,
            )
            .with_for_update(skip_locked=True)
        ).one_or_none()
        if schedule is None or schedule.next_fire_at is None:  # another scheduler holds it, or fired it already
            return None
        decision = engine.decide(timing_of(schedule), schedule.next_fire_at, now, MissedSlots(schedule.missed))
        firing = _record(session, schedule, decision.slot, SCHEDULE, now)
        if decision.fire:
            _start_target(session, outbox, rt.settings, schedule, firing)
        else:
            firing.status = FiringStatus.SKIPPED.value
        summary = decision.summary()
        if summary:
            firing.message = f"{summary}; {firing.message}" if firing.message else summary
        schedule.next_fire_at = decision.next_fire_at
        return Fired(schedule.name, decision.slot, FiringStatus(firing.status), firing.target_id)


def _pass_taken_slot(rt: Runtime, taken: SlotTaken, now: datetime) -> None:
    """A slot fired already stays fired: move the schedule past it, unless it has moved on meanwhile (a scheduler
    that raced this one moves it in the transaction that fired it; a clock behind another's can land on it again)."""
    with rt.db.session() as session:
        schedule = lock(session, Schedule, taken.schedule_id)
        if schedule is not None and schedule.next_fire_at == taken.slot:
            schedule.next_fire_at = timing_of(schedule).next_after(max(now, taken.slot))


def run_now(rt: Runtime, name: str, now: datetime | None = None) -> dict[str, Any]:
    """Fire a schedule at once, paused or not, leaving its slots as they are; a target that cannot start is a
    Conflict with the reason (the failed firing stays in the history)."""
    now = now or utcnow()
    with rt.transaction() as (session, outbox):
        schedule = find_schedule(session, name, for_update=True)
        firing = _record(session, schedule, None, RUN_NOW, now)
        _start_target(session, outbox, rt.settings, schedule, firing)
        answer = describe_firing(firing)
    if firing.status == FiringStatus.FAILED.value:
        raise Conflict(f"schedule {name!r} could not start {_what(firing)}: {firing.message}")
    return answer


def history(rt: Runtime, name: str, limit: int = 20) -> list[dict[str, Any]]:
    """The schedule's firings, newest first, each with the current status of what it started."""
    with rt.db.reader() as session:
        schedule = find_schedule(session, name)
        firings = session.scalars(
            select(ScheduleFiring)
            .where(ScheduleFiring.schedule_id == schedule.id)
            .order_by(ScheduleFiring.id.desc())
            .limit(limit)
        ).all()
        statuses = _target_statuses(session, firings)
        return [describe_firing(f, statuses.get(f.target_id or "")) for f in firings]


def describe_firing(firing: ScheduleFiring, target_status: str | None = None) -> dict[str, Any]:
    if firing.target_kind == TargetKind.PIPELINE.value:
        target = {"pipelineName": firing.target_name, "pipelineExecutionId": firing.target_id}
    else:
        target = {"projectName": firing.target_name, "buildId": firing.target_id}
    return {
        "firingId": firing.id,
        "trigger": firing.trigger,
        "slot": iso(firing.slot),
        "firedAt": iso(firing.fired_at),
        "status": firing.status,
        "message": firing.message,
        "target": target,
        "targetStatus": target_status,
    }


def _record(session: Session, schedule: Schedule, slot: datetime | None, trigger: str, now: datetime) -> ScheduleFiring:
    """The firing's row, written first: a second firing of the slot fails here, before anything starts."""
    schedule_id = schedule.id  # read now: once a flush fails, the session reads nothing more
    firing = ScheduleFiring(
        schedule_id=schedule_id,
        slot=slot,
        trigger=trigger,
        status=FiringStatus.STARTED.value,
        target_kind=schedule.target_kind,
        target_name=schedule.target_name,
        fired_at=now,
    )
    session.add(firing)
    try:
        session.flush()
    except IntegrityError as exc:  # the unique (schedule, slot): this transaction is spent, and rolls back
        if slot is None:
            raise
        raise SlotTaken(schedule_id, slot) from exc
    return firing


def _start_target(
    session: Session, outbox: Outbox, settings: Settings, schedule: Schedule, firing: ScheduleFiring
) -> None:
    """Start the pipeline execution or the build; when it cannot start, nothing of it stays and the firing fails."""
    sent = len(outbox.pending)
    try:
        with session.begin_nested():
            firing.target_id = _start(session, outbox, settings, schedule, firing)
    except (NotFound, InvalidRequest) as exc:
        del outbox.pending[sent:]  # their rows went with the savepoint
        firing.target_id = None
        firing.status, firing.message = FiringStatus.FAILED.value, exc.message


def _start(session: Session, outbox: Outbox, settings: Settings, schedule: Schedule, firing: ScheduleFiring) -> str:
    when = f"slot {iso(firing.slot)}" if firing.slot else "run now"
    if schedule.target_kind == TargetKind.PIPELINE.value:
        trigger = (TriggerType.SCHEDULE, f"schedule {schedule.name}, {when}")
        return start_in(session, outbox, schedule.target_name, schedule.variables, schedule.revision, trigger)
    build = start_build(
        session, outbox, settings, schedule.target_name, f"schedule/{schedule.name}", schedule.variables
    )
    return build.id


def _what(firing: ScheduleFiring) -> str:
    if firing.target_kind == TargetKind.PIPELINE.value:
        return f"pipeline {firing.target_name!r}"
    return f"a build of project {firing.target_name!r}"


def _target_statuses(session: Session, firings: Sequence[ScheduleFiring]) -> dict[str, str]:
    ids = {kind: [f.target_id for f in firings if f.target_id and f.target_kind == kind] for kind in TargetKind}
    executions = select(PipelineExecution.id, PipelineExecution.status).where(
        PipelineExecution.id.in_(ids[TargetKind.PIPELINE])
    )
    builds = select(Build.id, Build.status).where(Build.id.in_(ids[TargetKind.PROJECT]))
    return {row[0]: row[1] for query in (executions, builds) for row in session.execute(query)}
