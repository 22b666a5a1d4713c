"""Stage rollback (V2): run one stage again with the source revisions, variables and artifacts of an earlier
execution that succeeded in it.

A rollback is an execution of its own (`executionType` ROLLBACK, `rollbackMetadata.rollbackTargetPipelineExecutionId`)
of the target's pipeline version. The stages before the rolled-back one are copied from the target as Succeeded —
with their actions' output artifacts and variables, so the stage's actions find the inputs and references the target
gave them — and only that one stage runs; the execution ends with it. It takes the stage's lock like any execution.
Not available in PARALLEL mode; the source stage is never rolled back.
"""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from conveyor.db.models import ActionExecution, PipelineExecution, StageExecution, utcnow
from conveyor.dispatch import Outbox
from conveyor.errors import Conflict, InvalidRequest, NotFound
from conveyor.pipeline.definitions import find_pipeline, load_definition
from conveyor.pipeline.records import current_actions
from conveyor.pipeline.spec import PipelineDefinition
from conveyor.pipeline.starts import start_execution
from conveyor.pipeline.status import StageStatus, TriggerType
from conveyor.runtime import Runtime

ROLLBACK = "ROLLBACK"


def rollback_stage(rt: Runtime, pipeline_name: str, stage: str, target_execution_id: str, by: str = "manual") -> str:
    """RollbackStage: returns the id of the rollback execution."""
    with rt.transaction() as (session, outbox):
        pipeline = find_pipeline(session, pipeline_name)
        target = session.get(PipelineExecution, target_execution_id)
        if target is None or target.pipeline_id != pipeline.id:
            raise NotFound(f"pipeline {pipeline_name!r} has no execution {target_execution_id}")
        detail = f"rollback of stage {stage} to execution {target.id}, asked by {by}"
        return start_rollback(session, outbox, target, stage, TriggerType.MANUAL_ROLLBACK, detail)


def start_rollback(
    session: Session, outbox: Outbox, target: PipelineExecution, stage: str, trigger: TriggerType, detail: str
) -> str:
    definition = load_definition(session, target.pipeline_id, target.pipeline_version)
    if definition.execution_mode == "PARALLEL":
        raise InvalidRequest("stage rollback is not available in PARALLEL execution mode")
    names = [s.name for s in definition.stages]
    if stage not in names:
        raise NotFound(f"pipeline {definition.name!r} has no stage {stage!r}")
    if names.index(stage) == 0:
        raise InvalidRequest(f"stage {stage} is the source stage: it cannot be rolled back")
    if not any(s.name == stage and s.status == StageStatus.SUCCEEDED.value for s in target.stages):
        raise Conflict(f"execution {target.id} did not succeed in stage {stage}: it cannot be a rollback target")
    execution_id = start_execution(
        session,
        outbox,
        target.pipeline_id,
        target.pipeline_version,
        trigger,
        detail,
        target.source_revisions,
        target.variables,
        rollback=(target.id, stage),
    )
    _copy_stages_before(session, target, execution_id, names[: names.index(stage)])
    return execution_id


def last_succeeded_in(session: Session, execution: PipelineExecution, stage: str) -> PipelineExecution | None:
    """The latest other execution of the pipeline that succeeded in `stage`: an automatic rollback's target."""
    query = (
        select(PipelineExecution)
        .join(StageExecution, StageExecution.execution_id == PipelineExecution.id)
        .where(
            PipelineExecution.pipeline_id == execution.pipeline_id,
            PipelineExecution.id != execution.id,
            StageExecution.name == stage,
            StageExecution.status == StageStatus.SUCCEEDED.value,
        )
        .order_by(PipelineExecution.created_at.desc())
        .limit(1)
    )
    return session.scalars(query).first()


def rollback_view(definition: PipelineDefinition, execution: PipelineExecution) -> PipelineDefinition:
    """What the engine runs for this execution: for a rollback, the stages up to and including the rolled-back one."""
    if not execution.rollback_stage:
        return definition
    names = [s.name for s in definition.stages]
    return replace(definition, stages=definition.stages[: names.index(execution.rollback_stage) + 1])


def _copy_stages_before(session: Session, target: PipelineExecution, execution_id: str, stages: list[str]) -> None:
    now = utcnow()
    for position, name in enumerate(stages):
        session.add(
            StageExecution(
                execution_id=execution_id,
                name=name,
                position=position,
                status=StageStatus.SUCCEEDED.value,
                started_at=now,
                ended_at=now,
            )
        )
    for (stage, action), row in current_actions(target).items():
        if stage in stages:
            session.add(
                ActionExecution(
                    execution_id=execution_id,
                    stage_name=stage,
                    action_name=action,
                    run_order=row.run_order,
                    category=row.category,
                    provider=row.provider,
                    status=row.status,
                    summary=f"From execution {target.id}",
                    external_execution_id=row.external_execution_id,
                    output_artifacts=row.output_artifacts,
                    output_variables=row.output_variables,
                    resolved_configuration=row.resolved_configuration,
                    started_at=now,
                    ended_at=now,
                )
            )
