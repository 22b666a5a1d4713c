"""Running pipeline executions: start them, advance them under a row lock, record what actions report.

Every change to an execution happens in a transaction that first locks the execution row, so two workers finishing
parallel actions at the same moment apply their results one after the other and never lose an update. The rules
themselves live in the pure engine; this module only loads, applies and saves.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from conveyor.build import batches
from conveyor.build.status import BuildStatus
from conveyor.db import lock
from conveyor.db.models import ActionExecution, Build, BuildBatch, PipelineExecution, StageExecution, new_id, utcnow
from conveyor.dispatch import Kind, Outbox
from conveyor.errors import InvalidRequest, NotFound
from conveyor.pipeline import engine
from conveyor.pipeline.actions import ActionStart, codebuild, outcome_of_build, starter_for
from conveyor.pipeline.actions.base import ActionConfigurationError, ActionOutcome
from conveyor.pipeline.definitions import action_in_context, find_pipeline, load_definition
from conveyor.pipeline.spec import ActionDeclaration, PipelineDefinition
from conveyor.pipeline.status import ActionStatus, ExecutionStatus, StageStatus, TriggerType
from conveyor.pipeline.variables import (
    UnresolvedReference,
    execution_scope,
    pipeline_variable_values,
    resolve_configuration,
)
from conveyor.queues import PIPELINE_QUEUE
from conveyor.runtime import Runtime

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
) -> str:
    """Create an execution of a pipeline version and queue its first advance; returns the execution id."""
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
            "created_at": now,
            "updated_at": now,
        },
    )
    outbox.add(Kind.ADVANCE, execution_id, PIPELINE_QUEUE, timeout_seconds=120)
    return execution_id


def start_pipeline(
    rt: Runtime,
    name: str,
    variables: dict[str, str] | None = None,
    revision: str | None = None,
    requested_by: str = "manual",
) -> str:
    """StartPipelineExecution: run the current version now, optionally at a given commit of the source."""
    with rt.transaction() as (session, outbox):
        pipeline = find_pipeline(session, name)
        definition = load_definition(session, pipeline.id, pipeline.version)
        revisions = _revision_overrides(definition, revision)
        _check_variables(definition, variables or {})
        return start_execution(
            session,
            outbox,
            pipeline.id,
            pipeline.version,
            TriggerType.START_PIPELINE_EXECUTION,
            f"started by {requested_by}",
            revisions,
            variables,
        )


def advance(rt: Runtime, execution_id: str) -> None:
    """Settle an execution: record stage and execution outcomes and start the actions that may start."""
    with rt.transaction() as (session, outbox):
        execution = lock(session, PipelineExecution, execution_id)
        if execution is None:
            raise NotFound(f"no pipeline execution {execution_id}")
        _advance_locked(rt, session, outbox, execution)


def complete_action(
    rt: Runtime,
    action_execution_id: str,
    outcome: ActionOutcome,
    still: Callable[[ActionExecution], bool] | None = None,
) -> bool:
    """Record an action's result and advance its execution; False when the action had already ended.

    `still`, when given, is asked about the action under the execution's lock: False leaves everything as it is
    (the condition a caller checked before no longer holds) and returns False.
    """
    with rt.transaction() as (session, outbox):
        action = session.get(ActionExecution, action_execution_id)
        if action is None:
            raise NotFound(f"no action execution {action_execution_id}")
        execution = lock(session, PipelineExecution, action.execution_id)
        assert execution is not None
        session.refresh(action)
        if still is not None and not still(action):
            return False
        before = _state_of(execution)
        result = engine.ActionResult(action.stage_name, action.action_name, outcome.status)
        if engine.record(before, result) is before:
            return False
        action.status = outcome.status.value
        action.summary = outcome.summary
        action.error_code = outcome.error_code
        action.output_artifacts = outcome.output_artifacts
        action.output_variables = outcome.output_variables
        if outcome.external_execution_id is not None:
            action.external_execution_id = outcome.external_execution_id
        action.ended_at = utcnow()
        _advance_locked(rt, session, outbox, execution)
        return True


def report_build(rt: Runtime, build: Build) -> None:
    """Tell the pipeline action (or the batch) that started a build how it ended (nothing while it runs)."""
    if not BuildStatus(build.status).final:
        return
    if build.batch_id is not None:
        ended = batches.member_finished(rt, build)
        if ended is not None:
            report_batch(rt, ended)
        return
    if build.action_execution_id is None:
        return
    declaration = action_declaration(rt, build.action_execution_id)
    complete_action(rt, build.action_execution_id, outcome_of_build(declaration, build))


def report_batch(rt: Runtime, batch: BuildBatch) -> None:
    """Tell the pipeline action that started a batch build how it ended."""
    if batch.action_execution_id is None or not BuildStatus(batch.status).final:
        return
    declaration = action_declaration(rt, batch.action_execution_id)
    with rt.db.reader() as session:
        builds = [
            (b.batch_identifier, b.status, b.artifact)
            for b in session.scalars(select(Build).where(Build.batch_id == batch.id))
        ]
    complete_action(
        rt, batch.action_execution_id, codebuild.outcome_of_batch(batch, builds, declaration.output_artifacts)
    )


def fail_execution(rt: Runtime, execution_id: str, reason: str) -> None:
    """End an execution that cannot go on: it fails, and whatever was still running is abandoned."""
    with rt.db.session() as session:
        execution = lock(session, PipelineExecution, execution_id)
        if execution is None or ExecutionStatus(execution.status).final:
            return
        now = utcnow()
        for action in execution.actions:
            if action.status == ActionStatus.IN_PROGRESS.value:
                action.status, action.ended_at = ActionStatus.ABANDONED.value, now
        for stage in execution.stages:
            if stage.status == StageStatus.IN_PROGRESS.value:
                stage.status, stage.ended_at = StageStatus.FAILED.value, now
        execution.status, execution.status_summary = ExecutionStatus.FAILED.value, reason
        execution.ended_at = execution.updated_at = now


def action_declaration(rt: Runtime, action_execution_id: str) -> ActionDeclaration:
    """The declaration (from the execution's own pipeline version) of an action execution."""
    with rt.db.reader() as session:
        return action_in_context(session, action_execution_id).declaration


def _advance_locked(rt: Runtime, session: Session, outbox: Outbox, execution: PipelineExecution) -> None:
    if ExecutionStatus(execution.status).final:
        return
    definition = load_definition(session, execution.pipeline_id, execution.pipeline_version)
    state = _state_of(execution)
    while True:  # an action that cannot start (a reference that does not resolve) fails at once: settle again
        transition = engine.advance(definition, state)
        _save_state(session, execution, state, transition.state)
        failed = [
            result
            for start in transition.start
            if (result := _start_action(rt, session, outbox, execution, definition, start)) is not None
        ]
        if not failed:
            return
        state = transition.state
        for result in failed:
            state = engine.record(state, result)


def _state_of(execution: PipelineExecution) -> engine.ExecutionState:
    return engine.ExecutionState(
        status=ExecutionStatus(execution.status),
        stages={s.name: StageStatus(s.status) for s in execution.stages},
        actions={(a.stage_name, a.action_name): ActionStatus(a.status) for a in execution.actions},
        summary=execution.status_summary,
    )


def _save_state(
    session: Session, execution: PipelineExecution, before: engine.ExecutionState, after: engine.ExecutionState
) -> None:
    now = utcnow()
    rows = {s.name: s for s in execution.stages}
    for position, (name, status) in enumerate(after.stages.items()):
        row = rows.get(name)
        if row is None:
            row = StageExecution(execution_id=execution.id, name=name, position=position, status=status.value)
            session.add(row)
            execution.stages.append(row)
        elif row.status != status.value:
            row.status = status.value
        if status is not StageStatus.IN_PROGRESS and row.ended_at is None:
            row.ended_at = now
    if after.status is not before.status:
        execution.status = after.status.value
        execution.status_summary = _failure_summary(execution, after) or after.summary
        execution.ended_at = now if after.status.final else None
    execution.updated_at = now


def _failure_summary(execution: PipelineExecution, state: engine.ExecutionState) -> str | None:
    if state.status is not ExecutionStatus.FAILED:
        return None
    failed = [a for a in execution.actions if a.status == ActionStatus.FAILED.value and a.summary]
    if not failed:
        return None
    return f"Action {failed[0].action_name} in stage {failed[0].stage_name} failed: {failed[0].summary}"


def _start_action(
    rt: Runtime,
    session: Session,
    outbox: Outbox,
    execution: PipelineExecution,
    definition: PipelineDefinition,
    start: engine.StartAction,
) -> engine.ActionResult | None:
    """Start an action with its configuration resolved; the failed result if it cannot start."""
    declaration = definition.stage(start.stage).action(start.action)
    row = ActionExecution(
        execution_id=execution.id,
        stage_name=start.stage,
        action_name=start.action,
        run_order=declaration.run_order,
        category=declaration.type_id.category,
        provider=declaration.type_id.provider,
        status=ActionStatus.IN_PROGRESS.value,
    )
    session.add(row)
    execution.actions.append(row)
    session.flush()
    artifacts = {name: record for a in execution.actions for name, record in (a.output_artifacts or {}).items()}
    try:
        scope = _variable_scope(execution, definition)
        row.resolved_configuration = resolve_configuration(declaration.configuration, scope)
        context = ActionStart(
            session=session,
            outbox=outbox,
            settings=rt.settings,
            execution=execution,
            pipeline_name=definition.name,
            declaration=declaration,
            action=row,
            input_artifacts={name: artifacts[name] for name in declaration.input_artifacts},
            configuration=row.resolved_configuration,
            variables=scope,
        )
        starter_for(declaration)(context)
    except (UnresolvedReference, ActionConfigurationError) as exc:
        row.status, row.summary, row.error_code = ActionStatus.FAILED.value, str(exc), "ConfigurationError"
        row.ended_at = utcnow()
        return engine.ActionResult(start.stage, start.action, ActionStatus.FAILED)
    return None


def _variable_scope(execution: PipelineExecution, definition: PipelineDefinition) -> dict[str, dict[str, str]]:
    outputs = {}
    for action in execution.actions:
        namespace = definition.stage(action.stage_name).action(action.action_name).namespace
        if namespace and action.status == ActionStatus.SUCCEEDED.value:
            outputs[namespace] = action.output_variables
    variables = pipeline_variable_values(definition.document.get("variables", []), execution.variables)
    return execution_scope(execution.id, definition.name, variables, outputs)


def _revision_overrides(definition: PipelineDefinition, revision: str | None) -> dict[str, Any]:
    if not revision:
        return {}
    sources = definition.source_actions()
    if "=" in revision:
        action, _, value = revision.partition("=")
        if action not in {s.name for s in sources}:
            raise InvalidRequest(f"no source action named {action!r} in pipeline {definition.name!r}")
        return {action: {"commit": value, "ref": None}}
    if len(sources) != 1:
        raise InvalidRequest("this pipeline has several source actions: give the revision as ACTION=SHA")
    return {sources[0].name: {"commit": revision, "ref": None}}


def _check_variables(definition: PipelineDefinition, variables: dict[str, str]) -> None:
    declared = {v["name"] for v in definition.document.get("variables", [])}
    unknown = sorted(set(variables) - declared)
    if unknown:
        raise InvalidRequest(f"pipeline {definition.name!r} declares no variable named {', '.join(unknown)}")
    empty = sorted(name for name, value in variables.items() if not value)
    if empty:
        raise InvalidRequest(f"pipeline variables must not be empty: {', '.join(empty)}")
