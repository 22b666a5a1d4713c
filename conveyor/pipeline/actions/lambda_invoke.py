"""Lambda invoke actions: invoke the function asynchronously with a CodePipeline job, then wait for its report.

Starting the action records its first job and queues a run. The run gives the job a fresh id (see `lambda_jobs`)
and invokes the function through boto3 `lambda` (InvocationType Event), in the action's `region` and as its
`roleArn`, with the event CodePipeline sends:

    {"CodePipeline.job": {"id": <job id>, "accountId": "000000000000", "data": {
        "actionConfiguration": {"configuration": {"FunctionName": …, "UserParameters": …}},
        "inputArtifacts": [{"name", "revision", "location"}, …],
        "outputArtifacts": [{"name", "revision": null, "location"}, …],
        "continuationToken": …}}}            (the token only when the previous job asked to continue)

A `location` is `{"type": "S3", "s3Location": {"bucketName", "objectKey"}}` when the blob store is S3, and otherwise
Conveyor's own `{"type": "Conveyor", "conveyorLocation": {"blobKey", "url"}}`: the blob's key and its `file://` URL
on Conveyor's machine, for functions that can reach it. The function writes each output artifact (a zip) at its
location. No `artifactCredentials` are sent: the function reaches the artifacts with its own role's permissions.

The function reports through Conveyor's CodePipeline endpoint (`conveyor.pipeline.job_reports`). A report that
continues the job queues the run again to invoke the next job; an accepted success report queues it to finish the
action, which succeeds only if every declared output artifact is in the blob store. An invocation that fails fails
the action with the reason: ConfigurationError for a function that does not exist, PermissionError when access is
denied (the role cannot be assumed, or may not invoke), JobFailed for anything else AWS refuses, SystemUnavailable
when AWS cannot be reached.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from conveyor.blobs import BlobStore, S3BlobStore
from conveyor.build.environment import ACCOUNT
from conveyor.db.models import ActionExecution, utcnow
from conveyor.pipeline import gates
from conveyor.pipeline.actions.base import ActionOutcome, ActionRun, ActionStart, queue_run
from conveyor.pipeline.actions.lambda_jobs import (
    WaitingJob,
    job_hash,
    keep_waiting_job,
    new_job_id,
    waiting_job,
)
from conveyor.pipeline.status import ActionStatus
from conveyor.runtime import Runtime

RUN_TIMEOUT_SECONDS = 300  # one invocation, or one check of the output artifacts
_DENIED = frozenset(
    {"AccessDeniedException", "AccessDenied", "UnrecognizedClientException", "InvalidSignatureException"}
)


def start(context: ActionStart) -> None:
    keep_waiting_job(context.action, WaitingJob(invocation=1, since=utcnow()))
    context.action.summary = f"invoking function {context.configuration['FunctionName']}"
    queue_run(context, timeout_seconds=RUN_TIMEOUT_SECONDS)


def run(rt: Runtime, run: ActionRun) -> ActionOutcome:
    """Invoke the function for the action's current job, or finish the action its success report ended."""
    job_id = new_job_id(run.action_execution_id)
    job = _take_job(rt, run, job_id)
    if job is None:
        return still_waiting()
    if job.report is not None:
        return finish(rt, run, job.report)
    return _invoke(rt, run, job_event(rt.blobs, run, job_id, job.continuation_token))


def still_waiting() -> ActionOutcome:
    """The outcome of a run after which the action waits on: not final, so recording it changes nothing."""
    return ActionOutcome(ActionStatus.IN_PROGRESS)


def job_event(blobs: BlobStore, run: ActionRun, job_id: str, continuation_token: str | None) -> dict[str, Any]:
    """The event a function is invoked with, in CodePipeline's shape."""
    data: dict[str, Any] = {
        "actionConfiguration": {"configuration": dict(run.configuration)},
        "inputArtifacts": [
            {"name": name, "revision": record.get("revision"), "location": artifact_location(blobs, record["key"])}
            for name, record in run.input_artifacts.items()
        ],
        "outputArtifacts": [
            {"name": name, "revision": None, "location": artifact_location(blobs, run.output_key(name))}
            for name in run.declaration.output_artifacts
        ],
    }
    if continuation_token is not None:
        data["continuationToken"] = continuation_token
    return {"CodePipeline.job": {"id": job_id, "accountId": ACCOUNT, "data": data}}


def artifact_location(blobs: BlobStore, key: str) -> dict[str, Any]:
    """Where a function finds (or writes) the artifact stored under `key`."""
    if isinstance(blobs, S3BlobStore):
        bucket, _, object_key = blobs.url(key).removeprefix("s3://").partition("/")
        return {"type": "S3", "s3Location": {"bucketName": bucket, "objectKey": object_key}}
    return {"type": "Conveyor", "conveyorLocation": {"blobKey": key, "url": blobs.url(key)}}


def finish(rt: Runtime, run: ActionRun, report: dict[str, Any]) -> ActionOutcome:
    """The outcome of a job its function reported a success on: every declared output artifact must be there."""
    function = run.configuration["FunctionName"]
    outputs: dict[str, Any] = {}
    for name in run.declaration.output_artifacts:
        key = run.output_key(name)
        if not rt.blobs.exists(key):
            return ActionOutcome(
                ActionStatus.FAILED,
                error_code="JobFailed",
                summary=f"function {function} reported success but wrote no output artifact {name} "
                f"(expected at {rt.blobs.url(key)})",
            )
        outputs[name] = {"key": key, "revision": report.get("revision")}
    return ActionOutcome(
        ActionStatus.SUCCEEDED,
        summary=report.get("summary") or f"function {function} reported success",
        output_artifacts=outputs,
        output_variables=dict(report.get("outputVariables") or {}),
        external_execution_id=report.get("externalExecutionId"),
    )


def _take_job(rt: Runtime, run: ActionRun, job_id: str) -> WaitingJob | None:
    """Under the execution's lock: the job to work on, now known by `job_id` unless a report already ended it."""
    with rt.db.session() as session:
        action = session.get_one(ActionExecution, run.action_execution_id)
        gates.lock_execution(session, action.execution_id)
        session.refresh(action)
        job = waiting_job(action)
        if action.status != ActionStatus.IN_PROGRESS.value or job is None:
            return None
        if job.report is None:
            job = replace(job, since=utcnow(), job_sha256=job_hash(job_id))
            keep_waiting_job(action, job)
            action.summary = (
                f"waiting for function {run.configuration['FunctionName']} to report on job {job.invocation}"
            )
        return job


def _invoke(rt: Runtime, run: ActionRun, event: dict[str, Any]) -> ActionOutcome:
    function = run.configuration["FunctionName"]
    try:
        client = run.aws_client("lambda", rt.settings)
        client.invoke(FunctionName=function, InvocationType="Event", Payload=json.dumps(event).encode())
    except ClientError as exc:
        return _refused(function, exc)
    except BotoCoreError as exc:
        return ActionOutcome(
            ActionStatus.FAILED, error_code="SystemUnavailable", summary=f"could not invoke function {function}: {exc}"
        )
    return still_waiting()


def _refused(function: str, exc: ClientError) -> ActionOutcome:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if code == "ResourceNotFoundException":
        error_code = "ConfigurationError"
    elif code in _DENIED or status == 403:
        error_code = "PermissionError"
    else:
        error_code = "JobFailed"
    message = error.get("Message") or str(exc)
    return ActionOutcome(
        ActionStatus.FAILED, error_code=error_code, summary=f"could not invoke function {function}: {code}: {message}"
    )
