"""Creating executions: the rows, and the dispatch of each one's first advance, in the caller's transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from conveyor.db.models import PipelineExecution, utcnow
from conveyor.dispatch import Kind, Outbox
from conveyor.ids import new_id
from conveyor.pipeline.status import ExecutionStatus, TriggerType
from conveyor.queues import PIPELINE_QUEUE

_INSERT_EXECUTION = insert(cast(Table, PipelineExecution.__table__))


@dataclass(frozen=True)
class ExecutionStart:
    """What an execution is started with. `rollback` = (target execution id, stage) makes it a rollback execution
    (see `conveyor.pipeline.rollback`)."""

    pipeline_id: int
    pipeline_version: int
    trigger_type: TriggerType
    trigger_detail: str
    source_revisions: dict[str, Any] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)
    execution_id: str = field(default_factory=new_id)
    rollback: tuple[str, str] | None = None


def start_execution(
    session: Session,
    outbox: Outbox,
    pipeline_id: int,
    pipeline_version: int,
    trigger_type: TriggerType,
    trigger_detail: str,
    source_revisions: dict[str, Any] | None = None,
    variables: dict[str, str] | None = None,
    execution_id: str | None = None,
    rollback: tuple[str, str] | None = None,
) -> str:
    """Create an execution of a pipeline version and queue its first advance; returns the execution id."""
    start = ExecutionStart(
        pipeline_id,
        pipeline_version,
        trigger_type,
        trigger_detail,
        source_revisions or {},
        variables or {},
        execution_id or new_id(),
        rollback,
    )
    start_executions(session, outbox, [start])
    return start.execution_id


def start_executions(session: Session, outbox: Outbox, starts: list[ExecutionStart]) -> None:
    """Create several executions with one statement, and queue the first advance of each."""
    if not starts:
        return
    now = utcnow()
    rows = [_row(start, now) for start in starts]
    session.connection().execute(_INSERT_EXECUTION, rows)  # a prebuilt Core INSERT: this is on the webhook's path
    outbox.add_many(Kind.ADVANCE, [start.execution_id for start in starts], PIPELINE_QUEUE, timeout_seconds=120)


def _row(start: ExecutionStart, now: Any) -> dict[str, Any]:
    rollback = start.rollback
    return {
        "id": start.execution_id,
        "pipeline_id": start.pipeline_id,
        "pipeline_version": start.pipeline_version,
        "status": ExecutionStatus.IN_PROGRESS.value,
        "trigger_type": start.trigger_type.value,
        "trigger_detail": start.trigger_detail,
        "source_revisions": start.source_revisions,
        "variables": start.variables,
        "execution_type": "ROLLBACK" if rollback else "STANDARD",
        "rollback_target_id": rollback[0] if rollback else None,
        "rollback_stage": rollback[1] if rollback else None,
        "created_at": now,
        "updated_at": now,
    }
