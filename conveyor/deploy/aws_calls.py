"""What the deploy engine's AWS steps share: the error a failed step raises, and how AWS's refusals read in it.

Every AWS side of a deployment (load balancers, Lambda aliases, ECS listeners, CloudWatch alarms) goes through
`conveyor.aws.client` and raises `AwsStepFailed` when it cannot do its step. The error's message names what failed
and where (the target group and host, the function and alias, the listener), then AWS's own error code and message;
`error_code` is the deployment's `errorInformation.code` the orchestration records.
"""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from conveyor.deploy.status import DeploymentErrorCode
from conveyor.errors import ConveyorError

AWS_ERRORS = (ClientError, BotoCoreError)  # what a boto3 call raises when AWS refuses or cannot be reached


class AwsStepFailed(ConveyorError):
    """An AWS step of a deployment did not happen; the message says what and where, `error_code` why."""

    code = "DeploymentStepFailed"

    def __init__(self, message: str, error_code: DeploymentErrorCode) -> None:
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
