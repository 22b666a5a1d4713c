"""Running pipeline executions: start them, advance them under a row lock, record what actions report.

Every change to an execution happens in a transaction that first locks the execution row, so two workers finishing
parallel actions at the same moment apply their results one after the other and never lose an update. The rules
themselves live in the pure engine; this module only loads, applies and saves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from conveyor.build import batches
from conveyor.build.status import BuildStatus
from conveyor.db.models import ActionExecution, Build, BuildBatch, Pipeline, PipelineExecution, utcnow
from conveyor.dispatch import Outbox
from conveyor.errors import NotFound
from conveyor.ids import new_id
from conveyor.pipeline import conditions, engine, events, gates
from conveyor.pipeline.actions import ActionStart, codebuild, outcome_of_build, starter_for
from conveyor.pipeline.actions.base import ActionConfigurationError, ActionOutcome
from conveyor.pipeline.definitions import action_in_context, find_pipeline, load_definition
from conveyor.pipeline.records import current_actions, next_attempt, save_state, state_of
from conveyor.pipeline.rollback import last_succeeded_in, rollback_view, start_rollback
from conveyor.pipeline.spec import ActionDeclaration, PipelineDefinition
from conveyor.pipeline.start_checks import check_variables, revision_overrides
from conveyor.pipeline.starts import start_execution
from conveyor.pipeline.status import ActionStatus, ExecutionStatus, StageStatus, TriggerType
from conveyor.pipeline.variables import (
    UnresolvedReference,
    execution_scope,
    pipeline_variable_values,
    resolve_configuration,
)
from conveyor.runtime import Runtime

_ABANDON = {ActionStatus.IN_PROGRESS: ActionStatus.ABANDONED}


def start_pipeline(
    rt: Runtime,
    name: str,
    variables: dict[str, str] | None = None,
    revision: str | None = None,
    requested_by: str = "manual",
) -> str:
    """StartPipelineExecution: run the current version now, optionally at a given commit of the source."""
    with rt.transaction() as (session, outbox):
        return start_in(session, outbox, name, variables, revision, asked_by(requested_by))


def asked_by(requested_by: str) -> tuple[TriggerType, str]:
    """The trigger type and detail of a start someone asked for (API, CLI, chat)."""
    return TriggerType.START_PIPELINE_EXECUTION, f"started by {requested_by}"


def start_in(
    session: Session,
    outbox: Outbox,
    name: str,
    variables: dict[str, str] | None,
    revision: str | None,
    trigger: tuple[TriggerType, str],
) -> str:
    """Start the pipeline's current version in the caller's transaction, with StartPipelineExecution's checks;
    `trigger` is the execution's trigger type and detail."""
    pipeline, revisions = check_start(session, name, variables, revision)
    return start_execution(session, outbox, pipeline.id, pipeline.version, *trigger, revisions, variables)


def check_start(
    session: Session, name: str, variables: dict[str, str] | None, revision: str | None
) -> tuple[Pipeline, dict[str, Any]]:
    """The pipeline a start names, and its source revision overrides, once the variables and revision fit it."""
    pipeline = find_pipeline(session, name)
    definition = load_definition(session, pipeline.id, pipeline.version)
    revisions = revision_overrides(definition, revision)
    check_variables(definition, variables or {})
    return pipeline, revisions


def advance(rt: Runtime, execution_id: str) -> None:
    """Settle an execution: record stage and execution outcomes and start the actions that may start."""
    with rt.transaction() as (session, outbox):
        advance_in(rt, session, outbox, execution_id)


def advance_in(rt: Runtime, session: Session, outbox: Outbox, execution_id: str) -> None:
    """`advance` in the caller's transaction."""
    settle(rt, session, outbox, gates.lock_execution(session, execution_id))


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
        return _complete(rt, session, outbox, action_execution_id, lambda _declaration: outcome, still)


def _complete(
    rt: Runtime,
    session: Session,
    outbox: Outbox,
    action_execution_id: str,
    outcome_for: Callable[[ActionDeclaration], ActionOutcome],
    still: Callable[[ActionExecution], bool] | None = None,
) -> bool:
    """`complete_action` in the caller's transaction, with the outcome made from the action's declaration."""
    locked, action = gates.lock_action_execution(session, action_execution_id)
    if action.retired or (still is not None and not still(action)):
        return False
    before = state_of(locked.execution)
    outcome = outcome_for(locked.definition.stage(action.stage_name).action(action.action_name))
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
    if outcome.revision:
        _keep_fetched_revision(locked.execution, action.action_name, outcome.revision)
    action.ended_at = utcnow()
    events.action_changed(session, locked.execution, action)
    settle(rt, session, outbox, locked)
    return True


def _keep_fetched_revision(execution: PipelineExecution, action_name: str, revision: dict[str, str]) -> None:
    """A source action fetched `revision` for an execution whose start named none for it (a manual start, a
    schedule): it becomes the execution's, marked `fetched`, so the execution shows what it ran and a retry of the
    action fetches it again rather than the branch's new head."""
    revisions = execution.source_revisions
    if (revisions.get(action_name) or {}).get("commit"):
        return  # the start named the revision, and the action fetched exactly that
    kept = {**revisions.get(action_name, {}), **revision, "fetched": True}
    execution.source_revisions = {**revisions, action_name: kept}  # a new dict: the JSON column sees the change


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
    with rt.transaction() as (session, outbox):
        _complete(rt, session, outbox, build.action_execution_id, partial(outcome_of_build, build=build))


def report_ended_build(rt: Runtime, session: Session, outbox: Outbox, build_id: str) -> None:
    """Tell the pipeline action that started a build how it ended (the `build.ended` job its end queued), reading
    the build in the caller's transaction, which records the action's result."""
    build = session.get(Build, build_id)
    if build is None:
        raise NotFound(f"no build {build_id}")
    if build.action_execution_id is not None and BuildStatus(build.status).final:
        _complete(rt, session, outbox, build.action_execution_id, partial(outcome_of_build, build=build))


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
    with rt.transaction() as (session, outbox):
        try:
            locked = gates.lock_execution(session, execution_id)
        except NotFound:
            return
        before = state_of(locked.execution)
        if before.status.final:
            return
        failed = replace(
            before,
            status=ExecutionStatus.FAILED,
            summary=reason,
            waiting=None,
            stages={n: StageStatus.FAILED if s is StageStatus.IN_PROGRESS else s for n, s in before.stages.items()},
            actions={
                k: ActionStatus.ABANDONED if a is ActionStatus.IN_PROGRESS else a for k, a in before.actions.items()
            },
        )
        save_state(session, locked.execution, before, failed)
        locked.execution.status_summary = reason
        _release(session, outbox, locked, before, failed)


def action_declaration(rt: Runtime, action_execution_id: str) -> ActionDeclaration:
    """The declaration (from the execution's own pipeline version) of an action execution."""
    with rt.db.reader() as session:
        return action_in_context(session, action_execution_id).declaration


def settle(
    rt: Runtime, session: Session, outbox: Outbox, locked: gates.Locked, state: engine.ExecutionState | None = None
) -> None:
    """Advance a locked execution from `state` (default: as stored) and save it: the one way executions move.

    Stop and retry hand in the state they made; an action that cannot start (a reference that does not resolve)
    fails at once, and the execution is settled again.
    """
    execution, definition = locked.execution, rollback_view(locked.definition, locked.execution)
    before = saved = state_of(execution)
    rollbacks: list[str] = []
    state = state or before
    if state.status.final and state == before:
        return
    if _first_settle(execution, before):
        events.execution_changed(session, execution, ExecutionStatus.IN_PROGRESS.value)
    while True:
        stage = engine.entering(definition, state)
        blocked = frozenset({stage}) if stage and gates.is_blocked(session, locked, stage) else frozenset()
        if execution.status == ExecutionStatus.SUPERSEDED.value:  # a newer execution waits at that stage already
            return
        transition = engine.advance(definition, state, blocked)
        save_state(session, execution, saved, transition.state)
        saved = transition.state
        rollbacks += [transition.rollback] if transition.rollback else []
        for stage_name, kind in transition.check:
            conditions.queue_check(outbox, execution.id, definition, stage_name, kind)
        failed = [
            result
            for start in transition.start
            if (result := _start_action(rt, session, outbox, execution, definition, start)) is not None
        ]
        if not failed:
            break
        state = transition.state
        for result in failed:
            state = engine.record(state, result)
    _release(session, outbox, locked, before, saved)
    for stage_name in rollbacks:
        _roll_back_automatically(session, outbox, execution, stage_name)


def _first_settle(execution: PipelineExecution, state: engine.ExecutionState) -> bool:
    """Whether this settle is the execution's first: nothing entered yet (a rollback's copied stages aside)."""
    if state.status is not ExecutionStatus.IN_PROGRESS or state.waiting is not None:
        return False
    return execution.rollback_stage not in state.stages if execution.rollback_stage else not state.stages


def _roll_back_automatically(session: Session, outbox: Outbox, execution: PipelineExecution, stage: str) -> None:
    """onFailure ROLLBACK: back to the last execution that succeeded in the stage (a rollback never rolls back)."""
    if execution.rollback_stage:
        return
    target = last_succeeded_in(session, execution, stage)
    if target is None:
        execution.status_summary = f"{execution.status_summary}; no earlier execution succeeded in stage {stage}"
        return
    detail = f"automatic rollback of stage {stage} to execution {target.id} after execution {execution.id} failed"
    rollback_id = start_rollback(session, outbox, target, stage, TriggerType.AUTOMATED_ROLLBACK, detail)
    execution.status_summary = f"{execution.status_summary}; rolled back by execution {rollback_id}"


def _release(
    session: Session, outbox: Outbox, locked: gates.Locked, before: engine.ExecutionState, after: engine.ExecutionState
) -> None:
    """Stages this change freed, and a queue place it gave up: the next execution waiting there may go."""
    if locked.mode == gates.PARALLEL:
        return
    freed = [
        name
        for name, status in before.stages.items()
        if status is StageStatus.IN_PROGRESS and after.stages.get(name) is not StageStatus.IN_PROGRESS
    ]
    if before.waiting and after.waiting != before.waiting and before.waiting not in after.stages:
        freed.append(before.waiting)
    for name in freed:
        gates.wake_next(session, outbox, locked.execution.pipeline_id, name, locked.mode)


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
    row = _new_attempt(session, execution, declaration, start)
    artifacts = {n: record for a in current_actions(execution).values() for n, record in a.output_artifacts.items()}
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
        session.flush()  # written with its configuration: what the starter writes may refer to it
        starter_for(declaration)(context)
    except (UnresolvedReference, ActionConfigurationError) as exc:
        row.status, row.summary, row.error_code = ActionStatus.FAILED.value, str(exc), "ConfigurationError"
        row.ended_at = utcnow()
        events.action_changed(session, execution, row)
        return engine.ActionResult(start.stage, start.action, ActionStatus.FAILED)
    events.action_changed(session, execution, row)
    return None


def _new_attempt(
    session: Session, execution: PipelineExecution, declaration: ActionDeclaration, start: engine.StartAction
) -> ActionExecution:
    """The row of an action's new attempt, in progress, added to the session but not written yet; an earlier
    attempt (a retry) is retired and stays as history."""
    replaced = current_actions(execution).get((start.stage, start.action))
    if replaced is not None:
        replaced.retired = True
    row = ActionExecution(
        # every column that has a default given here: the row is read, and named by its id, before it is written
        id=new_id(),
        execution_id=execution.id,
        stage_name=start.stage,
        action_name=start.action,
        attempt=next_attempt(execution, start.stage, start.action),
        run_order=declaration.run_order,
        category=declaration.type_id.category,
        provider=declaration.type_id.provider,
        status=ActionStatus.IN_PROGRESS.value,
        retired=False,
        output_artifacts={},
        output_variables={},
        started_at=utcnow(),
    )
    session.add(row)
    execution.actions.append(row)
    return row


def _variable_scope(execution: PipelineExecution, definition: PipelineDefinition) -> dict[str, dict[str, str]]:
    outputs = {}
    for action in current_actions(execution).values():
        namespace = definition.stage(action.stage_name).action(action.action_name).namespace
        if namespace and action.status == ActionStatus.SUCCEEDED.value:
            outputs[namespace] = action.output_variables
    variables = pipeline_variable_values(definition.document.get("variables", []), execution.variables)
    return execution_scope(execution.id, definition.name, variables, outputs)
