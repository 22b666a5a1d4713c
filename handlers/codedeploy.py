"""`POST /aws/codedeploy`: the part of CodeDeploy's API a hook function calls to report on its lifecycle event.

It speaks what boto3's `codedeploy` client sends when pointed here with `endpoint_url`: the AWS JSON 1.1 protocol,
the operation in `X-Amz-Target` (`CodeDeploy_20141006.PutLifecycleEventHookExecutionStatus`) and its input as a
JSON body `{deploymentId, lifecycleEventHookExecutionId, status}`. Success is 200 with
`{"lifecycleEventHookExecutionId": ...}`; a refusal is 400 with `{"__type": <CodeDeploy's exception name>,
"message": …}`, which boto3 raises as that exception. The hook execution id is the credential, as the job id is for
`/aws/codepipeline`: the API token does not apply here and the request's AWS signature is not checked (Conveyor
does not know the callers' secret keys).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from flask import Blueprint, Response, request

from conveyor.deploy.hook_reports import HookStatusError, parse_hook_status
from conveyor.deploy.traffic_deployments import record_hook_report
from handlers.context import runtime

bp = Blueprint("codedeploy", __name__)
TARGET_PREFIX = "CodeDeploy_20141006."
OPERATION = TARGET_PREFIX + "PutLifecycleEventHookExecutionStatus"
CONTENT_TYPE = "application/x-amz-json-1.1"


@bp.post("/aws/codedeploy")
@bp.post("/aws/codedeploy/")
def receive() -> Response:
    target = request.headers.get("X-Amz-Target", "")
    if target != OPERATION:
        raise HookStatusError(
            f"X-Amz-Target {target or '(none)'} is not served here; send {OPERATION}", "UnknownOperationException"
        )
    report = parse_hook_status(_body())
    execution_id = record_hook_report(runtime(), report)
    return _answer({"lifecycleEventHookExecutionId": execution_id}, 200)


@bp.errorhandler(HookStatusError)
def _refused(error: HookStatusError) -> Response:
    return _answer({"__type": error.code, "message": error.message}, error.status_code)


def _body() -> Any:
    try:
        return json.loads(request.get_data(cache=False) or b"{}")
    except ValueError as exc:
        raise HookStatusError(f"the body is not valid JSON: {exc}", "SerializationException") from None


def _answer(document: dict[str, Any], status: int) -> Response:
    response = Response(json.dumps(document), status=status, mimetype=CONTENT_TYPE)
    response.headers["x-amzn-RequestId"] = str(uuid.uuid4())
    return response
