"""`POST /aws/codepipeline`: the part of CodePipeline's API a Lambda function calls to report on its job.

It speaks what boto3's `codepipeline` client sends when pointed here with `endpoint_url`: the AWS JSON 1.1 protocol,
the operation in `X-Amz-Target` (`CodePipeline_20150709.PutJobSuccessResult` or `.PutJobFailureResult`) and its
input as a JSON body. Success is 200 with `{}`; a refusal is 400 with `{"__type": <CodePipeline's error name>,
"message": …}`, which boto3 raises as that error. The job id is the credential (see `conveyor.pipeline.job_reports`):
the API token does not apply here, and the request's AWS signature is not checked.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, request

from conveyor.pipeline import job_reports
from conveyor.pipeline.job_reports import JobReportError
from conveyor.runtime import Runtime
from handlers.context import runtime

bp = Blueprint("codepipeline", __name__)
TARGET_PREFIX = "CodePipeline_20150709."
CONTENT_TYPE = "application/x-amz-json-1.1"
OPERATIONS: dict[str, Callable[[Runtime, Any], None]] = {
    "PutJobSuccessResult": job_reports.put_job_success_result,
    "PutJobFailureResult": job_reports.put_job_failure_result,
}


class UnknownOperation(JobReportError):
    code = "UnknownOperationException"


class Serialization(JobReportError):
    code = "SerializationException"


@bp.post("/aws/codepipeline")
@bp.post("/aws/codepipeline/")
def receive() -> Response:
    target = request.headers.get("X-Amz-Target", "")
    operation = OPERATIONS.get(target.removeprefix(TARGET_PREFIX)) if target.startswith(TARGET_PREFIX) else None
    if operation is None:
        served = ", ".join(TARGET_PREFIX + name for name in OPERATIONS)
        raise UnknownOperation(f"X-Amz-Target {target or '(none)'} is not served here; send one of {served}")
    operation(runtime(), _body())
    return _answer({}, 200)


@bp.errorhandler(JobReportError)
def _refused(error: JobReportError) -> Response:
    return _answer({"__type": error.code, "message": error.message}, error.status_code)


def _body() -> Any:
    try:
        return json.loads(request.get_data(cache=False) or b"{}")
    except ValueError as exc:
        raise Serialization(f"the body is not valid JSON: {exc}") from None


def _answer(document: dict[str, Any], status: int) -> Response:
    response = Response(json.dumps(document), status=status, mimetype=CONTENT_TYPE)
    response.headers["x-amzn-RequestId"] = str(uuid.uuid4())
    return response
