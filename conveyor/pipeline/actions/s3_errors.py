"""How a failed S3 call ends an action: a summary naming what failed and where, and CodePipeline's failure type.

boto3 has already retried throttling and server errors by the time one arrives here, so those are the service's
being unavailable. AWS's error messages carry no credentials; they are passed on as they are.
"""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, PartialCredentialsError

from conveyor.pipeline.actions.base import ActionOutcome
from conveyor.pipeline.status import ActionStatus

S3_FAILURES = (ClientError, BotoCoreError)

MISSING = frozenset({"NoSuchBucket", "NoSuchKey", "NoSuchVersion", "NotFound", "404"})
DENIED = frozenset(
    {
        "AccessDenied",
        "AllAccessDisabled",
        "AccountProblem",
        "ExpiredToken",
        "InvalidAccessKeyId",
        "InvalidToken",
        "SignatureDoesNotMatch",
        "403",
    }
)
UNAVAILABLE = frozenset({"InternalError", "ServiceUnavailable", "SlowDown", "RequestTimeout", "Throttling"})


def s3_url(bucket: str, key: str = "", version_id: str | None = None) -> str:
    """`s3://bucket/key`, with `?versionId=…` when a version is named."""
    url = f"s3://{bucket}/{key}"
    return f"{url}?versionId={version_id}" if version_id else url


def failed_call(exc: ClientError | BotoCoreError, doing: str, *, missing: str) -> ActionOutcome:
    """The failed outcome of an S3 call that raised `exc` while `doing` (`cannot read s3://…`).

    A missing bucket, object or version fails with the error code `missing` (the caller's: a source's revision is
    unavailable, a deploy's target is misconfigured); a refusal with PermissionError; an unreachable or overloaded
    service with SystemUnavailable; anything else with JobFailed.
    """
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code") or "")
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        message = str(error.get("Message") or "").strip() or f"HTTP {status}"
        return _failed(f"{doing}: {message} ({code})", _failure_type(code, status, missing))
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return _failed(f"{doing}: {exc}", "PermissionError")
    return _failed(f"{doing}: {exc}", "SystemUnavailable")


def _failure_type(code: str, status: int, missing: str) -> str:
    if code in MISSING:
        return missing
    if code in DENIED or code.endswith("AccessDeniedException"):  # how KMS spells it
        return "PermissionError"
    if code in UNAVAILABLE or status >= 500 or status == 429:
        return "SystemUnavailable"
    return "JobFailed"


def _failed(summary: str, error_code: str) -> ActionOutcome:
    return ActionOutcome(ActionStatus.FAILED, summary=summary, error_code=error_code)
