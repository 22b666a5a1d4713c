"""Deleting a pipeline (DeletePipeline): its versions, its executions and their history go with it, in one
transaction; the name is free again at once.

What its actions made in the other services stays, as it does in AWS: builds, batch builds and deployments keep
their records and logs, no longer tied to an action. An execution still in progress refuses the deletion (stop it
first): its running actions would otherwise report to rows that are gone. Schedules and notification rules that
name the pipeline are left as they are; a schedule that fires for it records that there is no such pipeline.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select, update

from conveyor.db import lock
from conveyor.db.deploy_models import Deployment
from conveyor.db.models import ActionExecution, Build, BuildBatch, Pipeline, PipelineExecution
from conveyor.errors import Conflict
from conveyor.pipeline.definitions import find_pipeline
from conveyor.pipeline.status import ExecutionStatus
from conveyor.runtime import Runtime

RUNNING = tuple(status.value for status in ExecutionStatus if not status.final)


def delete_pipeline(rt: Runtime, name: str) -> dict[str, Any]:
    """Delete pipeline `name` and its executions; a 404 for an unknown name, a 409 while an execution runs."""
    with rt.db.session() as session:
        pipeline = lock(session, Pipeline, find_pipeline(session, name).id)  # no execution starts meanwhile
        assert pipeline is not None  # found just above, in this transaction
        of_pipeline = PipelineExecution.pipeline_id == pipeline.id
        running = session.scalars(
            select(PipelineExecution.id).where(of_pipeline, PipelineExecution.status.in_(RUNNING)).limit(3)
        ).all()
        if running:
            raise Conflict(
                f"pipeline {name!r} has executions in progress ({', '.join(running)}): stop them first "
                "(conveyor executions stop ID), then delete it"
            )
        actions = select(ActionExecution.id).join(PipelineExecution).where(of_pipeline)
        for made in (Build, BuildBatch, Deployment):  # kept, as in AWS, but no longer tied to a deleted action
            session.execute(update(made).where(made.action_execution_id.in_(actions)).values(action_execution_id=None))
        executions = session.scalar(select(func.count()).select_from(PipelineExecution).where(of_pipeline)) or 0
        session.execute(delete(Pipeline).where(Pipeline.id == pipeline.id))  # versions, executions: ON DELETE CASCADE
        return {"pipelineName": name, "executionsDeleted": executions}
