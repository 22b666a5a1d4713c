"""Pipeline events: every state change of an execution, a stage or an action, written in the transaction that made
it, in the shape EventBridge gives CodePipeline's events.

This table is the one place state changes are told: notifications, commit statuses and chat read it from here (by
id, which only grows) and never hook into the engine. Detail types and states are CodePipeline's:

* `CodePipeline Pipeline Execution State Change`: STARTED, RESUMED (a retry), STOPPING, STOPPED, SUCCEEDED, FAILED,
  SUPERSEDED, CANCELED;
* `CodePipeline Stage Execution State Change`: STARTED, RESUMED, STOPPING, STOPPED, SUCCEEDED, FAILED;
* `CodePipeline Action Execution State Change`: STARTED, SUCCEEDED, FAILED, ABANDONED. An Approval action STARTED
  is "approval needed".

A transaction's events are kept on its session and written together, in the order they happened, with one INSERT as
it commits (nothing reads them back before that): a settle emits three to five, each of which, as an ORM object,
cost more than the statement that wrote it.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, event, insert, select
from sqlalchemy.orm import Session, SessionTransaction

from conveyor.db.models import ActionExecution, PipelineEvent, PipelineExecution, utcnow
from conveyor.pipeline.definitions import find_pipeline
from conveyor.runtime import Runtime
from conveyor.timefmt import iso

EXECUTION = "CodePipeline Pipeline Execution State Change"
STAGE = "CodePipeline Stage Execution State Change"
ACTION = "CodePipeline Action Execution State Change"

_INSERT = insert(cast(Table, PipelineEvent.__table__))
_UNWRITTEN = "pipeline_events"  # the key, in a session's info, of the events its transaction has not written yet
_SAVEPOINTS = "pipeline_event_savepoints"  # savepoint → how many events were unwritten when it began

_STATES = {
    "InProgress": "STARTED",
    "Stopping": "STOPPING",
    "Stopped": "STOPPED",
    "Succeeded": "SUCCEEDED",
    "Failed": "FAILED",
    "Superseded": "SUPERSEDED",
    "Cancelled": "CANCELED",
    "Abandoned": "ABANDONED",
    "Skipped": "SKIPPED",
}


def execution_changed(session: Session, execution: PipelineExecution, status: str, resumed: bool = False) -> None:
    detail = {"trigger-type": execution.trigger_type, "execution-type": execution.execution_type}
    if execution.status_summary and status not in ("InProgress",):
        detail["summary"] = execution.status_summary
    _emit(session, execution, EXECUTION, _state(status, resumed), None, None, detail)


def stage_changed(session: Session, execution: PipelineExecution, stage: str, status: str, resumed: bool) -> None:
    _emit(session, execution, STAGE, _state(status, resumed), stage, None, {})


def action_changed(session: Session, execution: PipelineExecution, action: ActionExecution) -> None:
    detail: dict[str, Any] = {
        "type": {"category": action.category, "provider": action.provider},
        "attempt": action.attempt,
        "action-execution-id": action.id,
    }
    for key, value in (
        ("external-execution-id", action.external_execution_id),
        ("summary", action.summary),
        ("error-code", action.error_code),
    ):
        if value:
            detail[key] = value
    _emit(session, execution, ACTION, _state(action.status, False), action.stage_name, action.action_name, detail)


def list_events(
    rt: Runtime, *, execution_id: str | None = None, pipeline: str | None = None, after: int = 0, limit: int = 100
) -> list[dict[str, Any]]:
    """Events in the order they happened, after the id `after`, of one execution or one pipeline or all."""
    with rt.db.reader() as session:
        query = select(PipelineEvent, PipelineExecution).join(
            PipelineExecution, PipelineExecution.id == PipelineEvent.execution_id
        )
        if execution_id:
            query = query.where(PipelineEvent.execution_id == execution_id)
        if pipeline:
            query = query.where(PipelineEvent.pipeline_id == find_pipeline(session, pipeline).id)
        query = query.where(PipelineEvent.id > after).order_by(PipelineEvent.id).limit(limit)
        return [_shown(event, execution) for event, execution in session.execute(query)]


def _shown(event: PipelineEvent, execution: PipelineExecution) -> dict[str, Any]:
    detail: dict[str, Any] = {
        "pipeline": execution.pipeline.name,
        "version": execution.pipeline_version,
        "execution-id": event.execution_id,
        "state": event.state,
    }
    if event.stage:
        detail["stage"] = event.stage
    if event.action:
        detail["action"] = event.action
    return {
        "id": event.id,
        "detail-type": event.detail_type,
        "time": iso(event.created_at),
        "detail": detail | event.detail,
    }


def _state(status: str, resumed: bool) -> str:
    return "RESUMED" if resumed and status == "InProgress" else _STATES[status]


def _emit(
    session: Session,
    execution: PipelineExecution,
    detail_type: str,
    state: str,
    stage: str | None,
    action: str | None,
    detail: dict[str, Any],
) -> None:
    row = {
        "pipeline_id": execution.pipeline_id,
        "execution_id": execution.id,
        "detail_type": detail_type,
        "state": state,
        "stage": stage,
        "action": action,
        "detail": detail,
        "created_at": utcnow(),
    }
    session.info.setdefault(_UNWRITTEN, []).append(row)


@event.listens_for(Session, "before_commit")
def _write_unwritten(session: Session) -> None:
    """Write the transaction's events, after its other changes (which the events' rows refer to)."""
    if session.in_nested_transaction():  # a savepoint released: its events are the transaction's now
        session.info.get(_SAVEPOINTS, {}).pop(session.get_nested_transaction(), None)
        return
    session.info.pop(_SAVEPOINTS, None)
    rows = session.info.pop(_UNWRITTEN, None)
    if rows:
        session.flush()
        session.connection().execute(_INSERT, rows)


@event.listens_for(Session, "after_transaction_create")
def _mark_savepoint(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested:  # a savepoint: what was emitted before it stays if it rolls back
        session.info.setdefault(_SAVEPOINTS, {})[transaction] = len(session.info.get(_UNWRITTEN, ()))


@event.listens_for(Session, "after_soft_rollback")
def _drop_unwritten(session: Session, previous: SessionTransaction) -> None:
    """A transaction rolled back told nothing: its events go with it (a savepoint's, with the savepoint)."""
    mark = session.info.get(_SAVEPOINTS, {}).pop(previous, None) if previous.nested else None
    if mark is None:
        session.info.pop(_UNWRITTEN, None)
        session.info.pop(_SAVEPOINTS, None)
    elif _UNWRITTEN in session.info:
        del session.info[_UNWRITTEN][mark:]
