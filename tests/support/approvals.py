"""Pipelines gated by manual approvals: an approval holds its stage for as long as a test wants, with no timing."""

from __future__ import annotations

from typing import Any

from conveyor.pipeline import control, views
from conveyor.runtime import Runtime
from tests.support.pipelines import as_yaml, source_action

APPROVAL_TYPE = {"category": "Approval", "owner": "AWS", "provider": "Manual", "version": "1"}


def approval_action(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "actionTypeId": APPROVAL_TYPE, **extra}


def gated_pipeline(
    name: str, url: str, mode: str = "SUPERSEDED", review: dict[str, Any] | None = None, **stage_extra: Any
) -> str:
    """Source → Gate (approval Review, with `review`'s extra fields) → Release (approval Ship)."""
    document = {
        "pipeline": {
            "name": name,
            "pipelineType": "V2",
            "executionMode": mode,
            "stages": [
                {"name": "Source", "actions": [source_action(url)]},
                {"name": "Gate", "actions": [approval_action("Review", **(review or {}))], **stage_extra},
                {"name": "Release", "actions": [approval_action("Ship")]},
            ],
        }
    }
    return as_yaml(document)


def stage_of(rt: Runtime, execution_id: str, stage: str) -> dict[str, Any]:
    execution = views.get_execution(rt, execution_id)
    return next(s for s in execution["stages"] if s["stageName"] == stage)


def token(rt: Runtime, execution_id: str, stage: str, action: str) -> str:
    found = next(a for a in stage_of(rt, execution_id, stage)["actions"] if a["actionName"] == action)
    assert found["token"], f"{stage}.{action} of {execution_id} is not waiting for approval: {found}"
    return str(found["token"])


def answer(
    rt: Runtime, pipeline: str, execution_id: str, stage: str, action: str, status: str = "Approved", summary: str = ""
) -> dict[str, Any]:
    approval_token = token(rt, execution_id, stage, action)
    return control.put_approval_result(rt, pipeline, stage, action, approval_token, status, summary, "tester")


def status(rt: Runtime, execution_id: str) -> str:
    return str(views.get_execution(rt, execution_id)["status"])
