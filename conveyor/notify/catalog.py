"""The event types a notification rule may name, and which of them a state change is.

The names are those of AWS's notification rules (CodeStar Notifications' event type ids), so a rule written for
AWS names the same events here. Where AWS has no notification event type for a change that CodeDeploy tells
(a deployment stopped, ready, rolled back) or that Conveyor's pipelines tell (an execution stopped), Conveyor adds
one in the same spelling; they are marked below.

A change may be of more than one type: an approval action that starts is both
`codepipeline-pipeline-action-execution-started` and `codepipeline-pipeline-manual-approval-needed`. A change of
no type (a stage STOPPING, a build phase of a batch) is never sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PIPELINE, BUILD, DEPLOY, TEST = "codepipeline", "codebuild", "codedeploy", "conveyor"
EXECUTION_CHANGE = "CodePipeline Pipeline Execution State Change"
STAGE_CHANGE = "CodePipeline Stage Execution State Change"
ACTION_CHANGE = "CodePipeline Action Execution State Change"
BUILD_STATE_CHANGE = "CodeBuild Build State Change"
BUILD_PHASE_CHANGE = "CodeBuild Build Phase Change"
DEPLOYMENT_CHANGE = "CodeDeploy Deployment State-change Notification"
TEST_EVENT = "Conveyor Notification Test"
TEST_TYPE = "conveyor-notification-test"

_P = "codepipeline-pipeline-"
_EXECUTION = {s: f"{_P}pipeline-execution-{s.lower()}" for s in ("STARTED", "RESUMED", "SUCCEEDED", "FAILED")}
_EXECUTION |= {"SUPERSEDED": f"{_P}pipeline-execution-superseded", "CANCELED": f"{_P}pipeline-execution-canceled"}
_EXECUTION["STOPPED"] = f"{_P}pipeline-execution-stopped"  # Conveyor's
_STAGE = {s: f"{_P}stage-execution-{s.lower()}" for s in ("STARTED", "RESUMED", "SUCCEEDED", "FAILED", "CANCELED")}
_ACTION = {s: f"{_P}action-execution-{s.lower()}" for s in ("STARTED", "SUCCEEDED", "FAILED")}
_ACTION["ABANDONED"] = f"{_P}action-execution-canceled"
_APPROVAL = {
    "STARTED": f"{_P}manual-approval-needed",
    "SUCCEEDED": f"{_P}manual-approval-succeeded",
    "FAILED": f"{_P}manual-approval-failed",
}
_BUILD_STATE = {
    "IN_PROGRESS": "codebuild-project-build-state-in-progress",
    "SUCCEEDED": "codebuild-project-build-state-succeeded",
    "FAILED": "codebuild-project-build-state-failed",
    "FAULT": "codebuild-project-build-state-failed",
    "TIMED_OUT": "codebuild-project-build-state-failed",
    "STOPPED": "codebuild-project-build-state-stopped",
}
_D = "codedeploy-application-deployment-"
_DEPLOYMENT = {
    "START": f"{_D}started",
    "SUCCESS": f"{_D}succeeded",
    "FAILURE": f"{_D}failed",
    "STOP": f"{_D}stopped",  # Conveyor's
    "READY": f"{_D}ready",  # Conveyor's
    "ROLLBACK": f"{_D}rolled-back",  # Conveyor's
}
_PHASE_SUCCESS, _PHASE_FAILURE = "codebuild-project-build-phase-success", "codebuild-project-build-phase-failure"

EVENT_TYPE_IDS: tuple[str, ...] = tuple(
    dict.fromkeys(
        [
            *_EXECUTION.values(),
            *_STAGE.values(),
            *_ACTION.values(),
            *_APPROVAL.values(),
            *_BUILD_STATE.values(),
            _PHASE_SUCCESS,
            _PHASE_FAILURE,
            *_DEPLOYMENT.values(),
        ]
    )
)
CONVEYOR_ADDITIONS = frozenset(
    {_EXECUTION["STOPPED"], _DEPLOYMENT["STOP"], _DEPLOYMENT["READY"], _DEPLOYMENT["ROLLBACK"]}
)


def type_ids(source: str, detail_type: str, state: str, detail: Mapping[str, Any]) -> tuple[str, ...]:
    """The event types of one change, most specific first; () when it is of none."""
    if source == TEST:
        return (TEST_TYPE,)
    if detail_type == EXECUTION_CHANGE:
        return _one(_EXECUTION.get(state))
    if detail_type == STAGE_CHANGE:
        return _one(_STAGE.get(state))
    if detail_type == ACTION_CHANGE:
        category = (detail.get("type") or {}).get("category")
        approval = _APPROVAL.get(state) if category == "Approval" else None
        return _one(approval) + _one(_ACTION.get(state))
    if detail_type == BUILD_STATE_CHANGE:
        return _one(_BUILD_STATE.get(state))
    if detail_type == BUILD_PHASE_CHANGE:
        return (_PHASE_SUCCESS,) if state == "SUCCEEDED" else (_PHASE_FAILURE,)
    if detail_type == DEPLOYMENT_CHANGE:
        return _one(_DEPLOYMENT.get(state))
    return ()


def _one(type_id: str | None) -> tuple[str, ...]:
    return (type_id,) if type_id else ()


def resource_kind(source: str) -> str:
    """The key of a rule's `resources` that filters events of this source."""
    return {PIPELINE: "pipelines", BUILD: "projects", DEPLOY: "applications"}.get(source, "")
