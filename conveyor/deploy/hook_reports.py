"""What a Lambda or ECS hook function sends back: `PutLifecycleEventHookExecutionStatus`'s request, read. Pure.

The request body is `{"deploymentId", "lifecycleEventHookExecutionId", "status"}`, as boto3's `codedeploy` client
sends it. `parse_hook_status` returns a `HookStatusReport`, or raises `HookStatusError` naming the field that is
wrong, with the exception name CodeDeploy answers with (`code`), so the endpoint can answer in AWS's JSON error
shape. Only `Succeeded` and `Failed` may be reported, as in AWS. Keys the request does not define are ignored, as
AWS's JSON protocol ignores them. Whether the deployment and the hook execution exist, and whether the event is
still waiting for its report, are the orchestration's checks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from conveyor.deploy.status import LifecycleEventStatus
from conveyor.errors import InvalidRequest

REPORTABLE = (LifecycleEventStatus.SUCCEEDED, LifecycleEventStatus.FAILED)
_IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}\Z")


class HookStatusError(InvalidRequest):
    """A hook function's report is malformed; `code` is the exception CodeDeploy names for it."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class HookStatusReport:
    deployment_id: str
    execution_id: str  # the lifecycleEventHookExecutionId the function was invoked with
    status: LifecycleEventStatus  # Succeeded or Failed


def parse_hook_status(body: Any) -> HookStatusReport:
    """The report in a `PutLifecycleEventHookExecutionStatus` request body (decoded JSON)."""
    if not isinstance(body, dict):
        raise HookStatusError("the request body must be a JSON object", "SerializationException")
    deployment_id = _identifier(body, "deploymentId", "DeploymentIdRequiredException", "InvalidDeploymentIdException")
    execution_id = _identifier(
        body,
        "lifecycleEventHookExecutionId",
        "InvalidLifecycleEventHookExecutionIdException",
        "InvalidLifecycleEventHookExecutionIdException",
    )
    return HookStatusReport(deployment_id, execution_id, _status(body.get("status")))


def _identifier(body: dict[str, Any], key: str, missing_code: str, invalid_code: str) -> str:
    value = body.get(key)
    if value is None or value == "":
        raise HookStatusError(f"{key} is required", missing_code)
    if not isinstance(value, str) or not _IDENTIFIER.match(value):
        raise HookStatusError(f"{key} {value!r} is not an id (up to 128 letters, digits and . _ : -)", invalid_code)
    return value


def _status(value: Any) -> LifecycleEventStatus:
    for status in REPORTABLE:
        if value == status.value:
            return status
    allowed = " or ".join(s.value for s in REPORTABLE)
    shown = "missing" if value is None else repr(value)
    raise HookStatusError(f"status must be {allowed}, not {shown}", "InvalidLifecycleEventHookExecutionStatusException")
