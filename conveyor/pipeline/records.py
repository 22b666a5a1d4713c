"""An execution's rows read as the engine's state, and the engine's new state written back to them.

Action rows are attempts: a stage retry retires the attempts it replaces (kept as history) and the engine starts
new ones. Only the current attempt of each action — the one not retired — is part of the state.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from conveyor.db.models import ActionExecution, PipelineExecution, StageExecution, utcnow
from conveyor.pipeline import engine, events
from conveyor.pipeline.status import ActionStatus, ConditionStatus, ExecutionStatus, StageStatus

AUTO_RETRY = "autoStageRetryAttempt"
MANUAL_RETRY = "manualStageRetryAttempt"
LATEST_TRIGGER = "latestRetryTrigger"


def current_actions(execution: PipelineExecution) -> dict[engine.ActionKey, ActionExecution]:
    """The current attempt of every action started in the execution."""
    return {(a.stage_name, a.action_name): a for a in execution.actions if not a.retired}


def next_attempt(execution: PipelineExecution, stage: str, action: str) -> int:
    attempts = [a.attempt for a in execution.actions if (a.stage_name, a.action_name) == (stage, action)]
    return max(attempts, default=0) + 1


def state_of(execution: PipelineExecution) -> engine.ExecutionState:
    return engine.ExecutionState(
        status=ExecutionStatus(execution.status),
        stages={s.name: StageStatus(s.status) for s in execution.stages},
        actions={key: ActionStatus(a.status) for key, a in current_actions(execution).items()},
        summary=execution.status_summary,
        waiting=execution.waiting_stage,
        auto_retries={s.name: s.retry[AUTO_RETRY] for s in execution.stages if AUTO_RETRY in (s.retry or {})},
        conditions={
            (s.name, kind): ConditionStatus(check["status"])
            for s in execution.stages
            for kind, check in (s.conditions or {}).items()
        },
    )


def save_state(
    session: Session, execution: PipelineExecution, before: engine.ExecutionState, after: engine.ExecutionState
) -> None:
    """Write what changed between two states; new action attempts are written by whoever starts them."""
    now = utcnow()
    _save_stages(session, execution, before, after, now)
    if after.waiting != execution.waiting_stage:
        execution.waiting_stage, execution.waiting_since = after.waiting, now if after.waiting else None
    for key, row in current_actions(execution).items():
        status = after.actions.get(key)
        if status is None:  # a retry replaces this attempt
            row.retired = True
        elif status.value != row.status and status.final:
            row.status = status.value
            row.ended_at = row.ended_at or now
            events.action_changed(session, execution, row)
    if after.status is not before.status:
        execution.status = after.status.value
        execution.status_summary = failure_summary(execution, after) or after.summary
        execution.ended_at = now if after.status.final else None
        events.execution_changed(session, execution, after.status.value, resumed=before.status.final)
    execution.updated_at = now


def _save_stages(
    session: Session,
    execution: PipelineExecution,
    before: engine.ExecutionState,
    after: engine.ExecutionState,
    now: datetime,
) -> None:
    rows = {s.name: s for s in execution.stages}
    for position, (name, status) in enumerate(after.stages.items()):
        if before.stages.get(name) is not status:
            events.stage_changed(session, execution, name, status.value, resumed=name in before.stages)
        row = rows.get(name)
        if row is None:
            row = StageExecution(execution_id=execution.id, name=name, position=position, status=status.value)
            session.add(row)
            execution.stages.append(row)
        elif row.status != status.value:
            row.status = status.value
            if status is StageStatus.IN_PROGRESS:  # entered again by a retry
                row.ended_at = None
        if status not in (StageStatus.IN_PROGRESS, StageStatus.STOPPING) and row.ended_at is None:
            row.ended_at = now
        _save_conditions(row, name, after)
        automatic = after.auto_retries.get(name, 0)
        if automatic != (row.retry or {}).get(AUTO_RETRY, 0):
            row.retry = {**(row.retry or {}), AUTO_RETRY: automatic, LATEST_TRIGGER: "AutomatedStageRetry"}


def _save_conditions(row: StageExecution, stage: str, after: engine.ExecutionState) -> None:
    """Condition statuses as the engine has them; a retry that forgets one drops its record."""
    stored = dict(row.conditions or {})
    wanted = {kind: status for (name, kind), status in after.conditions.items() if name == stage}
    changed = {kind for kind in stored if kind not in wanted}
    for kind, status in wanted.items():
        if stored.get(kind, {}).get("status") != status.value:
            stored[kind] = {**stored.get(kind, {}), "status": status.value}
            changed.add(kind)
    if changed:
        row.conditions = {kind: check for kind, check in stored.items() if kind in wanted}


def failure_summary(execution: PipelineExecution, state: engine.ExecutionState) -> str | None:
    if state.status is not ExecutionStatus.FAILED:
        return None
    failed = [a for a in current_actions(execution).values() if a.status == ActionStatus.FAILED.value and a.summary]
    if not failed:
        return None
    return f"Action {failed[0].action_name} in stage {failed[0].stage_name} failed: {failed[0].summary}"
