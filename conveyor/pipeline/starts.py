"""Creating an execution: the row, and the dispatch of its first advance, in the caller's transaction."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from conveyor.db.models import PipelineExecution, new_id, utcnow
from conveyor.dispatch import Kind, Outbox
from conveyor.pipeline.status import ExecutionStatus, TriggerType
from conveyor.queues import PIPELINE_QUEUE

_INSERT_EXECUTION = insert(cast(Table, PipelineExecution.__table__))


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
    """Create an execution of a pipeline version and queue its first advance; returns the execution id.

    `rollback` = (target execution id, stage) makes it a rollback execution (see `conveyor.pipeline.rollback`).
    """
    now = utcnow()
    execution_id = execution_id or new_id()
    session.connection().execute(  # a prebuilt Core INSERT: this is on the webhook's path
        _INSERT_EXECUTION,
        {
            "id": execution_id,
            "pipeline_id": pipeline_id,
            "pipeline_version": pipeline_version,
            "status": ExecutionStatus.IN_PROGRESS.value,
            "trigger_type": trigger_type.value,
            "trigger_detail": trigger_detail,
            "source_revisions": source_revisions or {},
            "variables": variables or {},
            "execution_type": "ROLLBACK" if rollback else "STANDARD",
            "rollback_target_id": rollback[0] if rollback else None,
            "rollback_stage": rollback[1] if rollback else None,
            "created_at": now,
            "updated_at": now,
        },
    )
    outbox.add(Kind.ADVANCE, execution_id, PIPELINE_QUEUE, timeout_seconds=120)
    return execution_id
