"""CloudFormation deploy actions: create, update, replace or delete a stack, or make and execute change sets.

`ActionMode` decides what happens to `StackName`:

* CREATE_UPDATE: create the stack when there is none, else update it ("no updates are to be performed" is a
  success). A stack in a failed state (`stacks.FAILED_STATES`) or holding only an unexecuted change set is not
  touched: the action fails and says so (REPLACE_ON_FAILURE is the mode that replaces such a stack).
* REPLACE_ON_FAILURE: create the stack when there is none; delete and create again one in a failed state (or in
  REVIEW_IN_PROGRESS); update any other.
* DELETE_ONLY: delete the stack; a stack that does not exist is a success.
* CHANGE_SET_REPLACE: make the change set `ChangeSetName` anew from the template and leave it unexecuted.
* CHANGE_SET_EXECUTE: execute that change set (one without changes leaves the stack as it is, a success).

A stack busy with an earlier operation is waited for first. The stack's Outputs become the action's output
variables in the modes that create or update a stack (CREATE_UPDATE, REPLACE_ON_FAILURE, CHANGE_SET_EXECUTE), and,
with `OutputFileName`, are written as a JSON object into the action's output artifact in every mode.

The action's job waits at most `STACK_WAIT_SECONDS` (one hour) for CloudFormation, not CodePipeline's three days:
the job holds a worker of the `default` queue while it polls, and source fetches wait behind it. A stack still busy
then fails the action; CloudFormation carries on, and running the action again waits for the stack to settle. The
job's queue timeout is that wait plus `JOB_MARGIN_SECONDS`, so the action's own deadline always speaks first.
"""

from __future__ import annotations

import io
import json
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, PartialCredentialsError

from conveyor.pipeline import stack_config
from conveyor.pipeline.actions.base import ActionConfigurationError, ActionOutcome, ActionRun, ActionStart, queue_run
from conveyor.pipeline.actions.stack_inputs import ArtifactFiles, StackInputError, stack_request
from conveyor.pipeline.actions.stacks import (
    FAILED_STATES,
    REVIEW_IN_PROGRESS,
    Result,
    StackFailed,
    StackRequest,
    Stacks,
    outputs,
)
from conveyor.pipeline.stack_config import StackConfiguration
from conveyor.pipeline.status import ActionStatus
from conveyor.runtime import Runtime

STACK_WAIT_SECONDS = 3600
JOB_MARGIN_SECONDS = 600  # fetching artifacts and the calls around the waits
PERMISSION_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "ExpiredToken",
        "ExpiredTokenException",
        "SignatureDoesNotMatch",
    }
)
UNAVAILABLE_CODES = frozenset(
    {"Throttling", "ThrottlingException", "RequestLimitExceeded", "ServiceUnavailable", "InternalFailure"}
)


def start(context: ActionStart) -> None:
    declaration = context.declaration
    try:
        stack_config.stack_configuration(
            context.configuration, declaration.input_artifacts, declaration.output_artifacts
        )
    except ValueError as exc:
        raise ActionConfigurationError(str(exc)) from None
    queue_run(context, timeout_seconds=STACK_WAIT_SECONDS + JOB_MARGIN_SECONDS)


def deploy(rt: Runtime, run: ActionRun) -> ActionOutcome:
    """Carry out the action's mode on its stack and report the stack's outputs."""
    declaration = run.declaration
    try:
        config = stack_config.stack_configuration(
            run.configuration, declaration.input_artifacts, declaration.output_artifacts
        )
    except ValueError as exc:
        return _failed(str(exc), "ConfigurationError")
    stacks = Stacks(run.aws_client("cloudformation", rt.settings), time.monotonic() + STACK_WAIT_SECONDS)
    try:
        result = MODES[config.mode](stacks, config, _request(rt, run, config))
    except StackInputError as exc:
        return _failed(str(exc), "ConfigurationError")
    except StackFailed as exc:
        return _failed(exc.message, exc.error_code)
    except (ClientError, BotoCoreError) as exc:
        return _failed(f"CloudFormation call for stack {config.stack_name} failed: {exc}", _error_code(exc))
    return _succeeded(rt, run, config, result)


def _request(rt: Runtime, run: ActionRun, config: StackConfiguration) -> StackRequest | None:
    """What the stack is sent, read from the input artifacts (None for the modes that send no template)."""
    if config.template is None:
        return None
    with (
        tempfile.TemporaryDirectory(prefix="conveyor-stack-") as scratch,
        ArtifactFiles(rt.blobs, run.input_artifacts, Path(scratch)) as files,
    ):
        return stack_request(config, files, rt.settings)


def _create_update(stacks: Stacks, config: StackConfiguration, request: StackRequest | None) -> Result:
    assert request is not None
    stack = stacks.settle(config.stack_name)
    if stack is None:
        return stacks.create(config.stack_name, request)
    status = stack["StackStatus"]
    if status in FAILED_STATES or status == REVIEW_IN_PROGRESS:
        why = stacks.failure_reason(stack) if status in FAILED_STATES else "it holds only an unexecuted change set"
        raise StackFailed(
            f"stack {config.stack_name} is {status} ({why}) and cannot be updated: delete it, or use ActionMode "
            "REPLACE_ON_FAILURE to have it replaced"
        )
    return stacks.update(stack, request)


def _replace_on_failure(stacks: Stacks, config: StackConfiguration, request: StackRequest | None) -> Result:
    assert request is not None
    stack = stacks.settle(config.stack_name)
    if stack is not None and (stack["StackStatus"] in FAILED_STATES or stack["StackStatus"] == REVIEW_IN_PROGRESS):
        status = stack["StackStatus"]
        stacks.delete(stack, config.role_arn)
        created = stacks.create(config.stack_name, request)
        return Result(f"Stack {config.stack_name} was {status}: deleted and created again", created.stack)
    if stack is None:
        return stacks.create(config.stack_name, request)
    return stacks.update(stack, request)


def _delete_only(stacks: Stacks, config: StackConfiguration, _request: StackRequest | None) -> Result:
    stack = stacks.settle(config.stack_name)
    if stack is None:
        return Result(f"Stack {config.stack_name} does not exist: nothing to delete", None)
    stacks.delete(stack, config.role_arn)
    return Result(f"Stack {config.stack_name} deleted", None)


def _change_set_replace(stacks: Stacks, config: StackConfiguration, request: StackRequest | None) -> Result:
    assert request is not None
    assert config.change_set_name is not None
    return stacks.replace_change_set(config.stack_name, config.change_set_name, request)


def _change_set_execute(stacks: Stacks, config: StackConfiguration, _request: StackRequest | None) -> Result:
    assert config.change_set_name is not None
    return stacks.execute_change_set(config.stack_name, config.change_set_name)


MODES: dict[str, Callable[[Stacks, StackConfiguration, StackRequest | None], Result]] = {
    stack_config.CREATE_UPDATE: _create_update,
    stack_config.REPLACE_ON_FAILURE: _replace_on_failure,
    stack_config.DELETE_ONLY: _delete_only,
    stack_config.CHANGE_SET_REPLACE: _change_set_replace,
    stack_config.CHANGE_SET_EXECUTE: _change_set_execute,
}


def _succeeded(rt: Runtime, run: ActionRun, config: StackConfiguration, result: Result) -> ActionOutcome:
    values = outputs(result.stack)
    artifacts: dict[str, Any] = {}
    if config.output_file_name:
        name = run.declaration.output_artifacts[0]
        key = run.output_key(name)
        rt.blobs.put_bytes(key, _outputs_zip(config.output_file_name, values))
        artifacts[name] = {"key": key, "revision": (result.stack or {}).get("StackId")}
    return ActionOutcome(
        ActionStatus.SUCCEEDED,
        summary=result.summary,
        output_artifacts=artifacts,
        output_variables=values if config.outputs_variables else {},
    )


def _outputs_zip(file_name: str, values: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(file_name, json.dumps(values, indent=2, sort_keys=True) + "\n")
    return buffer.getvalue()


def _failed(summary: str, error_code: str) -> ActionOutcome:
    return ActionOutcome(ActionStatus.FAILED, summary=summary, error_code=error_code)


def _error_code(exc: ClientError | BotoCoreError) -> str:
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return "PermissionError"
    if isinstance(exc, BotoCoreError):
        return "SystemUnavailable"
    code = str(exc.response.get("Error", {}).get("Code", ""))
    if code in PERMISSION_CODES:
        return "PermissionError"
    return "SystemUnavailable" if code in UNAVAILABLE_CODES else "JobFailed"
