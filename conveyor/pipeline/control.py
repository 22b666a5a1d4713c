"""Operating executions by hand: stop, retry a stage, answer an approval, disable and enable transitions.

Each is CodePipeline's API call of the same meaning (§3.5 of the AWS semantics); each changes an execution through
the pure engine and `service.settle`, under the same locks as everything else.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any

from sqlalchemy import Select, exists, select
from sqlalchemy.orm import Session

from conveyor.build import batches
from conveyor.build import service as builds
from conveyor.db import lock
from conveyor.db.models import ActionExecution, Pipeline, PipelineExecution, StageExecution, utcnow
from conveyor.errors import Conflict, ConveyorError, InvalidRequest, NotFound
from conveyor.pipeline import engine, gates
from conveyor.pipeline.actions.base import ActionOutcome
from conveyor.pipeline.definitions import find_pipeline, load_definition
from conveyor.pipeline.records import LATEST_TRIGGER, MANUAL_RETRY, current_actions, state_of
from conveyor.pipeline.service import complete_action, report_batch, report_build, settle
from conveyor.pipeline.spec import StageDeclaration
from conveyor.pipeline.status import ActionStatus
from conveyor.runtime import Runtime
from conveyor.timefmt import iso

log = logging.getLogger(__name__)
TRANSITION_REASON = re.compile(r"^[a-zA-Z0-9!@ ().*?-]{1,300}$")
APPROVAL_STATUSES = ("Approved", "Rejected")


def stop_execution(rt: Runtime, pipeline_name: str, execution_id: str, abandon: bool, reason: str = "") -> None:
    """StopPipelineExecution: stop and wait (actions in progress finish), or abandon them.

    Pending approvals are abandoned either way: nobody is going to answer them for a stopped execution. The builds
    of abandoned CodeBuild actions are stopped as well (CodePipeline lets them run on; nothing would use them).
    """
    if len(reason) > 200:
        raise InvalidRequest(f"the reason has {len(reason)} characters; at most 200 are allowed")
    with rt.transaction() as (session, outbox):
        locked = _locked_in(session, pipeline_name, execution_id)
        state = state_of(locked.execution)
        approvals = frozenset(
            key for key, row in current_actions(locked.execution).items() if row.category == "Approval"
        )
        stopped = engine.stop(state, abandon, _stop_summary(abandon, reason), approvals)
        if stopped is state:
            hint = " (an execution already stopping can only be abandoned)" if not abandon else ""
            raise Conflict(f"execution {execution_id} is {state.status.value}: it cannot be stopped{hint}")
        settle(rt, session, outbox, locked, stopped)
        abandoned = [
            row.external_execution_id
            for key, row in current_actions(locked.execution).items()
            if row.provider == "CodeBuild"
            and state.actions.get(key) is ActionStatus.IN_PROGRESS
            and row.status == ActionStatus.ABANDONED.value
            and row.external_execution_id
        ]
    for work_id in abandoned:
        _stop_work(rt, work_id)


def retry_stage(rt: Runtime, pipeline_name: str, execution_id: str, stage: str, mode: str) -> None:
    """RetryStageExecution with its preconditions: same pipeline version, no newer execution in the stage."""
    with rt.transaction() as (session, outbox):
        locked = _locked_in(session, pipeline_name, execution_id)
        execution = locked.execution
        pipeline = locked.lock_pipeline(session)
        if execution.pipeline_version != pipeline.version:
            raise Conflict(
                f"pipeline {pipeline_name!r} was updated (version {execution.pipeline_version} → {pipeline.version}) "
                "since this execution started: its stages cannot be retried"
            )
        if _newer_entered(session, execution, stage):
            raise Conflict(f"a newer execution has entered stage {stage}: this execution's stage cannot be retried")
        try:
            retried = engine.retry(locked.definition, state_of(execution), stage, mode)
        except engine.RetryRefused as exc:
            raise Conflict(str(exc)) from None
        row = next(s for s in execution.stages if s.name == stage)
        metadata = row.retry or {}
        row.retry = {**metadata, MANUAL_RETRY: metadata.get(MANUAL_RETRY, 0) + 1, LATEST_TRIGGER: "ManualStageRetry"}
        settle(rt, session, outbox, locked, retried)


def put_approval_result(
    rt: Runtime, pipeline_name: str, stage: str, action: str, token: str, status: str, summary: str, by: str
) -> dict[str, Any]:
    """PutApprovalResult: Approved lets the stage go on; Rejected fails the action."""
    if status not in APPROVAL_STATUSES:
        raise InvalidRequest(f"result status must be Approved or Rejected, not {status!r}")
    if len(summary) > 512:
        raise InvalidRequest(f"the summary has {len(summary)} characters; at most 512 are allowed")
    with rt.db.reader() as session:
        row = session.scalars(
            _approvals(session, pipeline_name, stage, action).where(ActionExecution.external_execution_id == token)
        ).one_or_none()
    where = f"action {action!r} in stage {stage!r} of pipeline {pipeline_name!r}"
    if row is None:
        raise InvalidRequest(f"the token does not belong to an approval of {where}")
    said = f"{status} by {by}" + (f": {summary}" if summary else "")
    outcome = ActionOutcome(ActionStatus.SUCCEEDED if status == "Approved" else ActionStatus.FAILED, summary=said)
    if row.retired or not complete_action(rt, row.id, outcome):
        raise Conflict(f"the approval of {where} was already answered, timed out or abandoned")
    return {"approvedAt": iso(utcnow())} if status == "Approved" else {}


def waiting_approval_token(rt: Runtime, pipeline_name: str, stage: str, action: str) -> str:
    """The token of the approval `action` in `stage` waiting for an answer now (the newest, if several are)."""
    with rt.db.reader() as session:
        waiting = _approvals(session, pipeline_name, stage, action).where(
            ActionExecution.status == ActionStatus.IN_PROGRESS.value, ActionExecution.retired.is_(False)
        )
        row = session.scalars(waiting.order_by(ActionExecution.started_at.desc()).limit(1)).first()
        token = row.external_execution_id if row is not None else None
    if token is None:
        raise NotFound(f"no approval named {action!r} in stage {stage!r} of pipeline {pipeline_name!r} is waiting")
    return token


def _approvals(session: Session, pipeline_name: str, stage: str, action: str) -> Select[ActionExecution]:
    """The executions of approval `action` in `stage` of the pipeline, every attempt of every execution."""
    pipeline = find_pipeline(session, pipeline_name)
    return (
        select(ActionExecution)
        .join(PipelineExecution, PipelineExecution.id == ActionExecution.execution_id)
        .where(
            PipelineExecution.pipeline_id == pipeline.id,
            ActionExecution.stage_name == stage,
            ActionExecution.action_name == action,
            ActionExecution.category == "Approval",
        )
    )


def expire_deadlines(rt: Runtime, now: datetime | None = None) -> list[str]:
    """Actions waiting for an answer (approvals) past their deadline fail; returns their ids."""
    now = now or utcnow()
    with rt.db.reader() as session:
        due = session.execute(
            select(ActionExecution.id, ActionExecution.deadline_at).where(
                ActionExecution.deadline_at < now,
                ActionExecution.status == ActionStatus.IN_PROGRESS.value,
                ActionExecution.retired.is_(False),
            )
        ).all()
    expired = []
    for action_id, deadline in due:
        outcome = ActionOutcome(
            ActionStatus.FAILED, summary=f"No answer by {iso(deadline)}: the action timed out", error_code="JobFailed"
        )
        if complete_action(rt, action_id, outcome):
            expired.append(action_id)
    return expired


def set_transition(
    rt: Runtime, pipeline_name: str, stage: str, transition_type: str, enabled: bool, reason: str = "", by: str = ""
) -> None:
    """DisableStageTransition / EnableStageTransition.

    The transition between two stages is one gate: the Inbound transition of a stage and the Outbound transition of
    the stage before it name the same one. Executions wait behind a disabled transition; on enabling it, the one
    whose turn it is enters (SUPERSEDED: the latest; QUEUED: the first; PARALLEL: all).
    """
    with rt.transaction() as (session, outbox):
        found = find_pipeline(session, pipeline_name)
        pipeline = lock(session, Pipeline, found.id, key_share=True)
        assert pipeline is not None
        definition = load_definition(session, pipeline.id, pipeline.version)
        gate = _gated_stage(definition.stages, stage, transition_type)
        disabled = dict(pipeline.disabled_transitions or {})
        if enabled:
            if disabled.pop(gate, None) is None:
                return
            pipeline.disabled_transitions = disabled
            gates.wake_next(session, outbox, pipeline.id, gate, definition.execution_mode)
            return
        if not TRANSITION_REASON.match(reason):
            raise InvalidRequest("the reason must be 1 to 300 characters of letters, digits, spaces and !@().*?-")
        disabled[gate] = {"reason": reason, "lastChangedAt": iso(utcnow()), "lastChangedBy": by}
        pipeline.disabled_transitions = disabled


def _gated_stage(stages: tuple[StageDeclaration, ...], stage: str, transition_type: str) -> str:
    names = [s.name for s in stages]
    if stage not in names:
        raise NotFound(f"no stage named {stage!r}")
    index = names.index(stage)
    if transition_type == "Inbound":
        if index == 0:
            raise InvalidRequest(f"stage {stage} is the first stage: it has no inbound transition")
        return stage
    if transition_type == "Outbound":
        if index == len(names) - 1:
            raise InvalidRequest(f"stage {stage} is the last stage: it has no outbound transition")
        return str(names[index + 1])
    raise InvalidRequest(f"transitionType must be Inbound or Outbound, not {transition_type!r}")


def _locked_in(session: Session, pipeline_name: str, execution_id: str) -> gates.Locked:
    pipeline = find_pipeline(session, pipeline_name)
    locked = gates.lock_execution(session, execution_id)
    if locked.execution.pipeline_id != pipeline.id:
        raise NotFound(f"pipeline {pipeline_name!r} has no execution {execution_id}")
    return locked


def _newer_entered(session: Session, execution: PipelineExecution, stage: str) -> bool:
    newer = (
        select(StageExecution.id)
        .join(PipelineExecution, PipelineExecution.id == StageExecution.execution_id)
        .where(
            PipelineExecution.pipeline_id == execution.pipeline_id,
            PipelineExecution.created_at > execution.created_at,
            StageExecution.name == stage,
        )
    )
    return bool(session.scalar(select(exists(newer))))


def _stop_summary(abandon: bool, reason: str) -> str:
    how = "Stopped and abandoned" if abandon else "Stopped"
    return f"{how}: {reason}" if reason else how


def _stop_work(rt: Runtime, work_id: str) -> None:
    """Stop the build or batch of an abandoned CodeBuild action; one already ended is left alone."""
    try:
        try:
            report_build(rt, builds.stop_build(rt, work_id))
        except NotFound:  # not a build: the action ran a batch
            report_batch(rt, batches.stop_batch(rt, work_id))
    except ConveyorError as exc:
        log.info("did not stop %s of an abandoned action: %s", work_id, exc.message)
