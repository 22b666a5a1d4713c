"""Stage locks and the executions waiting in front of stages: what the execution modes mean in SQL.

* SUPERSEDED (default): a stage works on one execution at a time. An execution arriving at a locked stage (or a
  disabled transition) waits in front of it; a newer execution arriving there replaces the one waiting, which ends
  Superseded.
* QUEUED: the same locks, but the waiting executions enter one by one, first come first served; none is superseded.
* PARALLEL: no locks; an execution waits only behind a disabled transition.

Locking order. Every transaction that changes an execution of a SUPERSEDED or QUEUED pipeline locks the pipeline
row first and the execution row second, so the checks below (who holds the stage, who waits) and the changes that
follow them are serialised per pipeline, and superseding a waiting execution needs no lock of its own. A PARALLEL
execution locks its own row first and the pipeline row only when it enters a stage; nothing holding the pipeline
row ever locks a PARALLEL execution, so the two orders cannot deadlock. The pipeline row is locked FOR NO KEY
UPDATE (see `conveyor.db.lock`): rows inserted meanwhile that refer to it (executions, events) do not wait.

A stage is held by an execution while its stage execution is InProgress. A stop releases it at once (the stage is
Stopping, then Stopped), as does a failure; a succeeded stage is released when the execution moves on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, select
from sqlalchemy.orm import Session

from conveyor.db import lock
from conveyor.db.models import ActionExecution, Pipeline, PipelineExecution, PipelineVersion, StageExecution, utcnow
from conveyor.dispatch import Kind, Outbox
from conveyor.errors import NotFound
from conveyor.pipeline import events
from conveyor.pipeline.definitions import definition_of_version, load_definition
from conveyor.pipeline.spec import PipelineDefinition
from conveyor.pipeline.status import ExecutionStatus, StageStatus
from conveyor.queues import PIPELINE_QUEUE

SUPERSEDED, QUEUED, PARALLEL = "SUPERSEDED", "QUEUED", "PARALLEL"
_ACTIVE = (ExecutionStatus.IN_PROGRESS.value, ExecutionStatus.STOPPING.value)

_EXECUTIONS, _VERSIONS = cast(Table, PipelineExecution.__table__), cast(Table, PipelineVersion.__table__)
_PIPELINES, _ACTIONS = cast(Table, Pipeline.__table__), cast(Table, ActionExecution.__table__)
# Where an execution stands, read before it is locked, with one prebuilt statement: its id and pipeline, the id of
# its pipeline version (whose parsed definition is kept per process) and the pipeline's disabled transitions as
# they are now (unlocked: see `is_blocked`).
_PLACE = (
    select(_EXECUTIONS.c.id, _EXECUTIONS.c.pipeline_id, _VERSIONS.c.id, _PIPELINES.c.disabled_transitions)
    .join(
        _VERSIONS,
        (_VERSIONS.c.pipeline_id == _EXECUTIONS.c.pipeline_id)
        & (_VERSIONS.c.version == _EXECUTIONS.c.pipeline_version),
    )
    .join(_PIPELINES, _PIPELINES.c.id == _EXECUTIONS.c.pipeline_id)
)
_EXECUTION_PLACE = _PLACE.where(_EXECUTIONS.c.id == bindparam("subject"))
_ACTION_PLACE = _PLACE.join(_ACTIONS, _ACTIONS.c.execution_id == _EXECUTIONS.c.id).where(
    _ACTIONS.c.id == bindparam("subject")
)


@dataclass
class Locked:
    """An execution locked for change, with its definition and (outside PARALLEL mode) its locked pipeline.

    `disabled_seen` holds the stages whose inbound transition was disabled when the execution was locked, read
    without locking the pipeline.
    """

    execution: PipelineExecution
    definition: PipelineDefinition
    pipeline: Pipeline | None
    disabled_seen: frozenset[str]

    @property
    def mode(self) -> str:
        return self.definition.execution_mode

    def lock_pipeline(self, session: Session) -> Pipeline:
        """The pipeline row, locked (a PARALLEL execution takes it only to enter a stage)."""
        if self.pipeline is None:
            self.pipeline = lock(session, Pipeline, self.execution.pipeline_id, key_share=True)
            assert self.pipeline is not None
        return self.pipeline


def lock_execution(session: Session, execution_id: str) -> Locked:
    """Lock an execution for change, in the order above."""
    place = session.connection().execute(_EXECUTION_PLACE, {"subject": execution_id}).one_or_none()
    if place is None:
        raise NotFound(f"no pipeline execution {execution_id}")
    return _lock_at(session, *place)


def lock_action_execution(session: Session, action_execution_id: str) -> tuple[Locked, ActionExecution]:
    """Lock the execution of an action execution for change (as `lock_execution`), and that action's row, read
    under the lock."""
    place = session.connection().execute(_ACTION_PLACE, {"subject": action_execution_id}).one_or_none()
    if place is None:
        raise NotFound(f"no action execution {action_execution_id}")
    locked = _lock_at(session, *place)
    action = next((a for a in locked.execution.actions if a.id == action_execution_id), None)
    if action is None:  # deleted after the first read
        raise NotFound(f"no action execution {action_execution_id}")
    return locked, action


def _lock_at(
    session: Session, execution_id: str, pipeline_id: int, version_id: int, disabled: dict[str, Any] | None
) -> Locked:
    definition = definition_of_version(session, version_id)
    parallel = definition.execution_mode == PARALLEL
    pipeline = None if parallel else lock(session, Pipeline, pipeline_id, key_share=True)
    execution = lock(session, PipelineExecution, execution_id)
    if execution is None:  # deleted after the first read
        raise NotFound(f"no pipeline execution {execution_id}")
    return Locked(execution, definition, pipeline, frozenset(disabled or {}))


def is_blocked(session: Session, locked: Locked, stage: str) -> bool:
    """Whether the execution must wait in front of `stage`; supersedes the waiting executions it replaces.

    A PARALLEL execution waits only behind a disabled transition. It locks the pipeline only when the transition
    was disabled as it read it without the lock, and then reads it again under the lock: an enable that committed
    meanwhile lets it in, and one that commits later waits for this commit and so finds the execution waiting. A
    disable that commits after the unlocked read overlaps this change, which may then count as the earlier one.
    """
    if locked.mode == PARALLEL and locked.pipeline is None and stage not in locked.disabled_seen:
        return False
    pipeline = locked.lock_pipeline(session)
    execution = locked.execution
    disabled = stage in (pipeline.disabled_transitions or {})
    if locked.mode == PARALLEL:
        return disabled
    held = _held_by_another(session, execution, stage)
    waiters = _waiters(session, execution.pipeline_id, stage, exclude=execution.id)
    if locked.mode == SUPERSEDED:
        for waiter in waiters:
            if _mode_of(session, waiter) == PARALLEL:  # a waiter of another version, in another mode: not ours
                continue
            if _arrival(waiter) < _arrival(execution):
                supersede(session, waiter, execution.id)
            else:
                supersede(session, execution, waiter.id)
                return True
        return disabled or held
    mine = execution.waiting_since if execution.waiting_stage == stage else None
    ahead = [w for w in waiters if mine is None or (w.waiting_since, w.id) < (mine, execution.id)]
    return disabled or held or bool(ahead)


def _held_by_another(session: Session, execution: PipelineExecution, stage: str) -> bool:
    """Whether another active execution of the pipeline is inside `stage` (the stage's lock)."""
    held = session.scalar(
        select(func.count())
        .select_from(StageExecution)
        .join(PipelineExecution, PipelineExecution.id == StageExecution.execution_id)
        .where(
            PipelineExecution.pipeline_id == execution.pipeline_id,
            PipelineExecution.id != execution.id,
            PipelineExecution.status.in_(_ACTIVE),
            StageExecution.name == stage,
            StageExecution.status == StageStatus.IN_PROGRESS.value,
        )
    )
    return bool(held)


def supersede(session: Session, waiting: PipelineExecution, newer_id: str) -> None:
    now = utcnow()
    waiting.status = ExecutionStatus.SUPERSEDED.value
    waiting.status_summary = f"Superseded by the newer execution {newer_id}"
    waiting.waiting_stage = waiting.waiting_since = None
    waiting.ended_at = waiting.updated_at = now
    events.execution_changed(session, waiting, waiting.status)


def wake_next(session: Session, outbox: Outbox, pipeline_id: int, stage: str, mode: str) -> None:
    """A stage came free (or its transition was enabled): let the execution whose turn it is try to enter."""
    waiters = _waiters(session, pipeline_id, stage)
    if not waiters:
        return
    if mode == PARALLEL:
        chosen = waiters
    elif mode == QUEUED:
        chosen = [min(waiters, key=lambda w: (w.waiting_since, w.id))]
    else:
        chosen = [max(waiters, key=_arrival)]
    for waiter in chosen:
        outbox.add(Kind.ADVANCE, waiter.id, PIPELINE_QUEUE, timeout_seconds=120)


def _waiters(session: Session, pipeline_id: int, stage: str, exclude: str | None = None) -> list[PipelineExecution]:
    query = select(PipelineExecution).where(
        PipelineExecution.pipeline_id == pipeline_id,
        PipelineExecution.waiting_stage == stage,
        PipelineExecution.status == ExecutionStatus.IN_PROGRESS.value,
    )
    if exclude is not None:
        query = query.where(PipelineExecution.id != exclude)
    return list(session.scalars(query))


def _mode_of(session: Session, execution: PipelineExecution) -> str:
    return load_definition(session, execution.pipeline_id, execution.pipeline_version).execution_mode


def _arrival(execution: PipelineExecution) -> tuple[object, str]:
    return (execution.created_at, execution.id)
