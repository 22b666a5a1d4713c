"""Reading what a hook function reports through PutLifecycleEventHookExecutionStatus."""

from __future__ import annotations

from typing import Any

import pytest

from conveyor.deploy.hook_reports import HookStatusError, HookStatusReport, parse_hook_status
from conveyor.deploy.status import LifecycleEventStatus

GOOD = {"deploymentId": "d-AB1CDEF23", "lifecycleEventHookExecutionId": "exec-7f3a", "status": "Succeeded"}


def test_a_well_formed_report_is_read() -> None:
    assert parse_hook_status(GOOD) == HookStatusReport("d-AB1CDEF23", "exec-7f3a", LifecycleEventStatus.SUCCEEDED)
    failed = parse_hook_status({**GOOD, "status": "Failed", "extra": 1})
    assert failed.status is LifecycleEventStatus.FAILED


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        ({**GOOD, "deploymentId": None}, "DeploymentIdRequiredException", "deploymentId is required"),
        ({**GOOD, "deploymentId": 7}, "InvalidDeploymentIdException", "deploymentId 7 is not an id"),
        (
            {k: v for k, v in GOOD.items() if k != "lifecycleEventHookExecutionId"},
            "InvalidLifecycleEventHookExecutionIdException",
            "lifecycleEventHookExecutionId is required",
        ),
        (
            {**GOOD, "lifecycleEventHookExecutionId": "a b"},
            "InvalidLifecycleEventHookExecutionIdException",
            "lifecycleEventHookExecutionId 'a b' is not an id",
        ),
        (
            {**GOOD, "status": "Skipped"},
            "InvalidLifecycleEventHookExecutionStatusException",
            "status must be Succeeded or Failed, not 'Skipped'",
        ),
        (
            {k: v for k, v in GOOD.items() if k != "status"},
            "InvalidLifecycleEventHookExecutionStatusException",
            "status must be Succeeded or Failed, not missing",
        ),
        (["not", "an", "object"], "SerializationException", "the request body must be a JSON object"),
    ],
    ids=["no-deployment", "deployment-not-text", "no-execution", "bad-execution", "skipped", "no-status", "list"],
)
def test_a_malformed_report_names_the_field_and_aws_exception(body: Any, code: str, message: str) -> None:
    with pytest.raises(HookStatusError) as info:
        parse_hook_status(body)
    assert info.value.code == code
    assert info.value.message.startswith(message)
    assert info.value.status_code == 400
