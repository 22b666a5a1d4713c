"""Control calls under `/api/v1/pipelines/<name>`: stop, retry, approve or reject, transitions, rollback.

They share the API blueprint (and so its token check); each body is CodePipeline's request of the same name, as
JSON, and each answer is JSON.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from conveyor.errors import InvalidRequest
from conveyor.pipeline import control
from conveyor.pipeline.rollback import rollback_stage
from handlers.api import bp, check_fields, json_body
from handlers.context import runtime


@bp.post("/pipelines/<name>/executions/<execution_id>/stop")
def stop_execution(name: str, execution_id: str) -> tuple[Response, int]:
    """StopPipelineExecution {abandon, reason}."""
    body = json_body(optional=True)
    check_fields(body, frozenset({"abandon", "reason"}), pipelineName=name, pipelineExecutionId=execution_id)
    abandon = body.get("abandon", False)
    if not isinstance(abandon, bool):
        raise InvalidRequest("'abandon' must be true or false")
    control.stop_execution(runtime(), name, execution_id, abandon, _text(body, "reason"))
    return jsonify({"pipelineExecutionId": execution_id}), 202


@bp.post("/pipelines/<name>/executions/<execution_id>/retry")
def retry_stage(name: str, execution_id: str) -> tuple[Response, int]:
    """RetryStageExecution {stageName, retryMode}."""
    body = json_body()
    check_fields(body, frozenset({"stageName", "retryMode"}), pipelineName=name, pipelineExecutionId=execution_id)
    control.retry_stage(
        runtime(), name, execution_id, _text(body, "stageName", required=True), _text(body, "retryMode", required=True)
    )
    return jsonify({"pipelineExecutionId": execution_id}), 202


@bp.post("/pipelines/<name>/approvals")
def put_approval_result(name: str) -> Response:
    """PutApprovalResult {stageName, actionName, token, result: {status, summary}}; `by` names who answered."""
    body = json_body()
    check_fields(body, frozenset({"stageName", "actionName", "token", "result", "by"}), pipelineName=name)
    result = body.get("result")
    if not isinstance(result, dict):
        raise InvalidRequest('\'result\' must be an object: {"status": "Approved"|"Rejected", "summary": …}')
    answer = control.put_approval_result(
        runtime(),
        name,
        _text(body, "stageName", required=True),
        _text(body, "actionName", required=True),
        _text(body, "token", required=True),
        _text(result, "status", required=True),
        _text(result, "summary"),
        _text(body, "by") or "api",
    )
    return jsonify(answer)


@bp.post("/pipelines/<name>/stages/<stage>/disable")
def disable_transition(name: str, stage: str) -> Response:
    """DisableStageTransition {transitionType, reason}."""
    body = json_body()
    check_fields(body, frozenset({"transitionType", "reason", "by"}), pipelineName=name, stageName=stage)
    transition = _text(body, "transitionType", required=True)
    control.set_transition(runtime(), name, stage, transition, False, _text(body, "reason"), _text(body, "by") or "api")
    return jsonify({"stageName": stage, "transitionType": transition, "enabled": False})


@bp.post("/pipelines/<name>/stages/<stage>/enable")
def enable_transition(name: str, stage: str) -> Response:
    """EnableStageTransition {transitionType}."""
    body = json_body()
    check_fields(body, frozenset({"transitionType", "by"}), pipelineName=name, stageName=stage)
    transition = _text(body, "transitionType", required=True)
    control.set_transition(runtime(), name, stage, transition, True)
    return jsonify({"stageName": stage, "transitionType": transition, "enabled": True})


@bp.post("/pipelines/<name>/stages/<stage>/rollback")
def rollback(name: str, stage: str) -> tuple[Response, int]:
    """RollbackStage {targetPipelineExecutionId}."""
    body = json_body()
    check_fields(body, frozenset({"targetPipelineExecutionId", "by"}), pipelineName=name, stageName=stage)
    target = _text(body, "targetPipelineExecutionId", required=True)
    execution_id = rollback_stage(runtime(), name, stage, target, by=_text(body, "by") or "api")
    return jsonify({"pipelineExecutionId": execution_id}), 202


def _text(body: dict[str, Any], key: str, *, required: bool = False) -> str:
    value = body.get(key)
    if value is None:
        if required:
            raise InvalidRequest(f"'{key}' is required")
        return ""
    if not isinstance(value, str):
        raise InvalidRequest(f"'{key}' must be a string")
    return value
