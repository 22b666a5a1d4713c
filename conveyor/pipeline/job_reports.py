"""What Lambda functions report on their jobs (PutJobSuccessResult, PutJobFailureResult), and jobs never reported on.

Who may report: whoever holds the job id (see `conveyor.pipeline.actions.lambda_jobs`), while it is the current job
of an action in progress. The requests' AWS signatures are not checked: Conveyor does not know the callers' secret
keys, and the job id is the secret that matters.

* A failure report (`failureDetails {type, message, externalExecutionId?}`) fails the action at once: the type (one
  of CodePipeline's failure types) becomes its error code and the message its summary.
* A success report with a `continuationToken` ends the job and queues the next invocation, which carries the token:
  a new job, with a new id and 20 minutes of its own (CodePipeline's continuation). It may not carry output
  variables.
* Any other success report is accepted and queued for a check that the function wrote every declared output
  artifact; the action then succeeds with the report's `outputVariables` (names of `[A-Za-z0-9@_-]`, at most
  122,880 bytes of names and values together, CodePipeline's limit), `executionDetails.summary` as its summary and
  `currentRevision.revision` as the revision of its output artifacts.
* `externalExecutionId` (of `executionDetails` or `failureDetails`) becomes the action's external execution id.

A refused report changes nothing. Errors carry CodePipeline's names, all HTTP 400: JobNotFoundException (no job
with this id: unknown, forged, or a job a continuation replaced), InvalidJobStateException (the action has ended,
or this job already reported success), ValidationException (a request of the wrong shape, naming the member), and
OutputVariablesSizeExceededException.

A job nobody reports on fails its action with JobFailed 20 minutes after it was created or its function invoked:
`expire_jobs`, called by the reconciler every few seconds.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from conveyor.db.models import ActionExecution, utcnow
from conveyor.dispatch import Kind, Outbox
from conveyor.errors import ConveyorError
from conveyor.pipeline import gates
from conveyor.pipeline.actions.base import ActionOutcome
from conveyor.pipeline.actions.lambda_invoke import RUN_TIMEOUT_SECONDS
from conveyor.pipeline.actions.lambda_jobs import TIMEOUT, WaitingJob, action_of_job, keep_waiting_job, waiting_job
from conveyor.pipeline.service import complete_action
from conveyor.pipeline.status import ActionStatus
from conveyor.queues import DEFAULT_QUEUE
from conveyor.runtime import Runtime

FAILURE_TYPES = frozenset(
    {
        "JobFailed",
        "ConfigurationError",
        "PermissionError",
        "RevisionOutOfSync",
        "RevisionUnavailable",
        "SystemUnavailable",
    }
)
MAX_OUTPUT_VARIABLE_BYTES = 122_880  # CodePipeline's limit on one action's output variables
OUTPUT_VARIABLE_NAME = re.compile(r"[A-Za-z0-9@_-]+\Z")


class JobReportError(ConveyorError):
    """A report refused; `code` is CodePipeline's name for the error."""

    status_code = 400
    code = "ValidationException"


class JobNotFound(JobReportError):
    code = "JobNotFoundException"


class InvalidJobState(JobReportError):
    code = "InvalidJobStateException"


class OutputVariablesTooLarge(JobReportError):
    code = "OutputVariablesSizeExceededException"


def put_job_success_result(rt: Runtime, request: Any) -> None:
    """PutJobSuccessResult: continue the job under a new one, or accept the success for its final check."""
    body = _object(request, "the request")
    job_id = _job_id(body)
    token = _text(body, "continuationToken", 1, 2048)
    details = _object(body.get("executionDetails"), "executionDetails")
    summary = _text(details, "summary", 1, 2048, where="executionDetails")
    external_id = _text(details, "externalExecutionId", 1, 1500, where="executionDetails")
    _percentage(details.get("percentComplete"))
    variables = _output_variables(body.get("outputVariables"))
    if token is not None and variables is not None:
        raise JobReportError("outputVariables can be given only with no continuationToken: the job goes on")
    report = {
        "summary": summary,
        "externalExecutionId": external_id,
        "revision": _revision(body.get("currentRevision")),
        "outputVariables": variables,
    }
    with rt.transaction() as (session, outbox):
        action, job = _current_job(session, job_id)
        if token is None:
            keep_waiting_job(action, replace(job, report=report))
        else:
            keep_waiting_job(action, WaitingJob(job.invocation + 1, since=utcnow(), continuation_token=token))
        action.summary = summary or action.summary
        action.external_execution_id = external_id or action.external_execution_id
        _queue_run(outbox, action.id)


def put_job_failure_result(rt: Runtime, request: Any) -> None:
    """PutJobFailureResult: the action fails with the function's reason."""
    body = _object(request, "the request")
    job_id = _job_id(body)
    failure = _object(body.get("failureDetails"), "failureDetails", required=True)
    failure_type = _text(failure, "type", 1, 64, required=True, where="failureDetails")
    if failure_type not in FAILURE_TYPES:
        raise JobReportError(f"failureDetails.type must be one of {', '.join(sorted(FAILURE_TYPES))}")
    outcome = ActionOutcome(
        ActionStatus.FAILED,
        summary=_text(failure, "message", 1, 5000, required=True, where="failureDetails"),
        error_code=failure_type,
        external_execution_id=_text(failure, "externalExecutionId", 1, 1500, where="failureDetails"),
    )
    with rt.db.session() as session:
        action_id = _current_job(session, job_id)[0].id
    if not complete_action(rt, action_id, outcome, still=lambda action: _is_current(action, job_id)):
        raise InvalidJobState("the job ended while this report arrived")


def expire_jobs(rt: Runtime, now: datetime | None = None) -> list[str]:
    """Fail the Lambda actions whose current job was not reported on in time; returns their ids."""
    now = now or utcnow()
    with rt.db.reader() as session:
        query = select(ActionExecution).where(
            ActionExecution.status == ActionStatus.IN_PROGRESS.value,
            ActionExecution.category == "Invoke",
            ActionExecution.provider == "Lambda",
        )
        due = [
            (action.id, (action.resolved_configuration or {}).get("FunctionName"))
            for action in session.scalars(query)
            if (job := waiting_job(action)) is not None and job.expired(now)
        ]
    expired = []
    for action_id, function in due:
        minutes = int(TIMEOUT.total_seconds() // 60)
        outcome = ActionOutcome(
            ActionStatus.FAILED,
            error_code="JobFailed",
            summary=f"function {function} did not report on its job within {minutes} minutes "
            "(PutJobSuccessResult or PutJobFailureResult): the job timed out",
        )
        if complete_action(rt, action_id, outcome, still=lambda action: _expired(action, now)):
            expired.append(action_id)
    return expired


def _current_job(session: Session, job_id: str) -> tuple[ActionExecution, WaitingJob]:
    """The action whose current job `job_id` is, with the job, under its execution's lock."""
    action_id = action_of_job(job_id)
    action = session.get(ActionExecution, action_id) if action_id else None
    if action is None or (action.category, action.provider) != ("Invoke", "Lambda"):
        raise JobNotFound("no job with this id")
    gates.lock_execution(session, action.execution_id)
    session.refresh(action)
    if action.status != ActionStatus.IN_PROGRESS.value:
        raise InvalidJobState("this job's action has already ended")  # said before the id is checked: no detail
    job = waiting_job(action)
    if job is None or not job.holds(job_id):
        raise JobNotFound("no job in progress with this id (a continued job goes on under a new id)")
    if job.report is not None:
        raise InvalidJobState("this job has already reported success")
    return action, job


def _is_current(action: ActionExecution, job_id: str) -> bool:
    job = waiting_job(action)
    return action.status == ActionStatus.IN_PROGRESS.value and job is not None and job.holds(job_id) and not job.report


def _expired(action: ActionExecution, now: datetime) -> bool:
    job = waiting_job(action)
    return job is not None and job.expired(now)


def _queue_run(outbox: Outbox, action_execution_id: str) -> None:
    outbox.add(Kind.ACTION, action_execution_id, DEFAULT_QUEUE, timeout_seconds=RUN_TIMEOUT_SECONDS)


def _object(value: Any, where: str, *, required: bool = False) -> dict[str, Any]:
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise JobReportError(f"{where} must be an object")
    return value


def _text(
    body: dict[str, Any], name: str, low: int, high: int, *, required: bool = False, where: str = ""
) -> str | None:
    member = f"{where}.{name}" if where else name
    value = body.get(name)
    if value is None:
        if required:
            raise JobReportError(f"{member} is required")
        return None
    if not isinstance(value, str) or not low <= len(value) <= high:
        raise JobReportError(f"{member} must be a string of {low} to {high} characters")
    return value


def _job_id(body: dict[str, Any]) -> str:
    job_id = _text(body, "jobId", 1, 1500, required=True)
    assert job_id is not None  # required
    return job_id


def _percentage(value: Any) -> None:
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 100):
        raise JobReportError("executionDetails.percentComplete must be a whole number from 0 to 100")


def _revision(value: Any) -> str | None:
    """`currentRevision.revision`, once the whole member is checked."""
    if value is None:
        return None
    revision = _object(value, "currentRevision")
    _text(revision, "changeIdentifier", 1, 100, required=True, where="currentRevision")
    _text(revision, "revisionSummary", 1, 2048, where="currentRevision")
    return _text(revision, "revision", 1, 1500, required=True, where="currentRevision")


def _output_variables(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    variables = _object(value, "outputVariables")
    for name, text in variables.items():
        if not OUTPUT_VARIABLE_NAME.match(name):
            raise JobReportError(f"outputVariables: {name!r} is not a variable name ([A-Za-z0-9@_-])")
        if not isinstance(text, str):
            raise JobReportError(f"outputVariables.{name} must be a string")
    size = sum(len(name.encode()) + len(text.encode()) for name, text in variables.items())
    if size > MAX_OUTPUT_VARIABLE_BYTES:
        raise OutputVariablesTooLarge(
            f"the output variables take {size} bytes, above the limit of {MAX_OUTPUT_VARIABLE_BYTES}"
        )
    return dict(variables)
