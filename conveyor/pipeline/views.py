"""Executions as the API and the CLI show them: GetPipelineExecution and GetPipelineState in one answer."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from conveyor.db import newest_first
from conveyor.db.models import ActionExecution, PipelineExecution, StageExecution
from conveyor.errors import NotFound
from conveyor.paging import Page, after_newest, newest_key, page_of
from conveyor.pipeline.definitions import find_pipeline, load_definition
from conveyor.pipeline.records import current_actions
from conveyor.pipeline.secrets import masked_configuration
from conveyor.pipeline.spec import ActionDeclaration
from conveyor.pipeline.status import ActionStatus
from conveyor.pipeline.variables import pipeline_variable_values
from conveyor.runtime import Runtime
from conveyor.timefmt import iso


def get_execution(rt: Runtime, execution_id: str) -> dict[str, Any]:
    with rt.db.reader() as session:
        execution = session.get(PipelineExecution, execution_id)
        if execution is None:
            raise NotFound(f"no pipeline execution {execution_id}")
        return describe_execution(session, execution)


def list_executions(rt: Runtime, pipeline_name: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
    return page_of_executions(rt, pipeline_name, limit).items


def page_of_executions(
    rt: Runtime, pipeline_name: str | None = None, limit: int = 20, next_token: str | None = None
) -> Page:
    """The newest executions (of one pipeline when named), `limit` of them, from where `next_token` left off."""
    after = after_newest(next_token, "executions")
    with rt.db.reader() as session:
        order = [PipelineExecution.created_at, PipelineExecution.id]
        query = newest_first(select(PipelineExecution), order, after, limit)
        if pipeline_name:
            query = query.where(PipelineExecution.pipeline_id == find_pipeline(session, pipeline_name).id)
        return page_of(list(session.scalars(query)), limit, "executions", newest_key, summarise)


def summarise(execution: PipelineExecution) -> dict[str, Any]:
    """A line of ListPipelineExecutions."""
    return {
        "pipelineExecutionId": execution.id,
        "pipelineName": execution.pipeline.name,
        "pipelineVersion": execution.pipeline_version,
        "status": execution.status,
        "statusSummary": execution.status_summary,
        "executionType": execution.execution_type,
        "rollbackMetadata": (
            {"rollbackTargetPipelineExecutionId": execution.rollback_target_id}
            if execution.rollback_target_id
            else None
        ),
        "waitingForStage": execution.waiting_stage,
        "trigger": {"triggerType": execution.trigger_type, "triggerDetail": execution.trigger_detail},
        "sourceRevisions": [
            {"actionName": name, "revisionId": revision.get("commit"), "ref": revision.get("ref")}
            for name, revision in execution.source_revisions.items()
        ],
        "startTime": iso(execution.created_at),
        "lastUpdateTime": iso(execution.updated_at),
        "endTime": iso(execution.ended_at),
    }


def describe_execution(session: Session, execution: PipelineExecution) -> dict[str, Any]:
    definition = load_definition(session, execution.pipeline_id, execution.pipeline_version)
    stage_rows = {s.name: s for s in execution.stages}
    action_rows = current_actions(execution)
    stages = [
        _describe_stage(
            stage_rows.get(stage.name),
            stage.name,
            [_describe_action(action, action_rows.get((stage.name, action.name))) for action in stage.actions],
        )
        for stage in definition.stages
    ]
    variables = pipeline_variable_values(definition.document.get("variables", []), execution.variables)
    return {**summarise(execution), "variables": variables, "stages": stages}


def _describe_stage(row: StageExecution | None, name: str, actions: list[dict[str, Any]]) -> dict[str, Any]:
    """A stage as GetPipelineExecution's stage states show it; a stage not entered yet has no status."""
    conditions = (row.conditions or {}) if row else {}
    return {
        "stageName": name,
        "status": row.status if row else None,
        "startTime": iso(row.started_at) if row else None,
        "endTime": iso(row.ended_at) if row else None,
        "retryStageMetadata": row.retry if row and row.retry else None,
        "beforeEntryConditionState": conditions.get("beforeEntry"),
        "onSuccessConditionState": conditions.get("onSuccess"),
        "actions": actions,
    }


def _describe_action(action: ActionDeclaration, a: ActionExecution | None) -> dict[str, Any]:
    """An action's declaration with its current attempt (none yet: no status)."""
    return {
        "actionName": action.name,
        "runOrder": action.run_order,
        "category": action.type_id.category,
        "provider": action.type_id.provider,
        "status": a.status if a else None,
        "actionExecutionId": a.id if a else None,
        "summary": a.summary if a else None,
        "errorCode": a.error_code if a else None,
        "externalExecutionId": a.external_execution_id if a else None,
        "token": _approval_token(a),
        "attempt": a.attempt if a else None,
        "outputArtifacts": a.output_artifacts if a else {},
        "outputVariables": a.output_variables if a else {},
        "resolvedConfiguration": _shown(a.resolved_configuration) if a else None,
        "startTime": iso(a.started_at) if a else None,
        "endTime": iso(a.ended_at) if a else None,
    }


def _shown(configuration: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if configuration is None else masked_configuration(configuration)


def _approval_token(action: ActionExecution | None) -> str | None:
    """GetPipelineState's `token`: only for an approval still waiting for its answer."""
    if action is None or action.category != "Approval" or action.status != ActionStatus.IN_PROGRESS.value:
        return None
    return action.external_execution_id
