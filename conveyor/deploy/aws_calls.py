"""What the deploy engine's AWS steps share: the error a failed step raises, and how AWS's refusals read in it.

Every AWS side of a deployment (load balancers, Lambda aliases, ECS listeners, CloudWatch alarms) goes through
`conveyor.aws.client` and raises `AwsStepFailed` when it cannot do its step. The error's message names what failed
and where (the target group or Classic Load Balancer and the host, the function and alias, the listener), then AWS's
own error code and message; `error_code` is the deployment's `errorInformation.code` the orchestration records: one of
`conveyor.deploy.status.DeploymentErrorCode`, or one of CodeDeploy's codes only AWS steps give (`StepErrorCode`).
"""

from __future__ import annotations

from enum import Enum

from botocore.exceptions import BotoCoreError, ClientError

from conveyor.deploy.status import DeploymentErrorCode
from conveyor.errors import ConveyorError

AWS_ERRORS = (ClientError, BotoCoreError)  # what a boto3 call raises when AWS refuses or cannot be reached
_THROTTLING = frozenset({"Throttling", "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded"})


class StepErrorCode(str, Enum):
    """CodeDeploy's `errorInformation.code`s that only the AWS steps of a deployment give."""

    INVALID_LAMBDA_FUNCTION = "INVALID_LAMBDA_FUNCTION"  # the function, its alias or a version does not exist
    INVALID_LAMBDA_CONFIGURATION = "INVALID_LAMBDA_CONFIGURATION"  # the alias is not where the appspec says
    ELASTIC_LOAD_BALANCING_INVALID = (
        "ELASTIC_LOAD_BALANCING_INVALID"  # a target group, listener or Classic ELB is wrong
    )
    ELB_INVALID_INSTANCE = "ELB_INVALID_INSTANCE"  # a host has no target (instance), or one its balancer cannot take
    ECS_UPDATE_ERROR = "ECS_UPDATE_ERROR"  # the service or a task set could not be read, made or changed
    THROTTLED = "THROTTLED"


ErrorCode = DeploymentErrorCode | StepErrorCode


class AwsStepFailed(ConveyorError):
    """An AWS step of a deployment did not happen; the message says what and where, `error_code` why."""

    code = "DeploymentStepFailed"

    def __init__(self, message: str, error_code: ErrorCode) -> None:
        super().__init__(message)
        self.error_code = error_code


def aws_error_text(exc: ClientError | BotoCoreError) -> str:
    """AWS's reason as `Code: message` (a refusal), or botocore's text (AWS could not be reached)."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'Error')}: {error.get('Message') or exc}"
    return str(exc)


def aws_error_code(exc: ClientError | BotoCoreError) -> str:
    """AWS's error code of a refusal; empty when AWS could not be reached."""
    return str(exc.response.get("Error", {}).get("Code", "")) if isinstance(exc, ClientError) else ""


def step_failed(what: str, exc: ClientError | BotoCoreError, missing: ErrorCode, *missing_codes: str) -> AwsStepFailed:
    """The error of a step AWS refused: `missing` when AWS's code is one of `missing_codes` (something named does
    not exist), THROTTLED when AWS throttled the call, INTERNAL_ERROR otherwise."""
    code = aws_error_code(exc)
    error_code: ErrorCode = DeploymentErrorCode.INTERNAL_ERROR
    if code in missing_codes:
        error_code = missing
    elif code in _THROTTLING:
        error_code = StepErrorCode.THROTTLED
    return AwsStepFailed(f"{what}: {aws_error_text(exc)}", error_code)
