"""S3 source actions: the object at `S3Bucket`/`S3ObjectKey`, a zip of the source, becomes the output artifact.

The version read is the one the execution was started with for this action — `version_id`, or `commit` as a manual
start's `--revision ACTION=VALUE` records it — else the latest. CodePipeline requires the object to be a zip; one
that is not fails the action. The output variables are the object's `ETag` and `VersionId` (empty in a bucket that
was never versioned); the artifact's revision is the version id, or the ETag when there is none.

Unless `PollForSourceChanges` is `false`, the object is polled (`conveyor.triggers.polling`): a new version starts
the pipeline with that version. An execution started by hand, through the API, or by a push to another source of
the same pipeline reads the object as it is when the action runs.
"""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from conveyor.pipeline.actions.base import ActionOutcome, ActionRun, ActionStart, queue_run
from conveyor.pipeline.actions.s3_errors import S3_FAILURES, failed_call, s3_url
from conveyor.pipeline.status import ActionStatus
from conveyor.runtime import Runtime

SOURCE_TIMEOUT_SECONDS = 60 * 60  # CodePipeline's default for actions without one of their own
_CHUNK = 1024 * 1024


def start(context: ActionStart) -> None:
    queue_run(context, timeout_seconds=SOURCE_TIMEOUT_SECONDS)


def requested_version(revision: dict[str, Any] | None) -> str | None:
    """The object version an execution's source revision for this action names, if any."""
    revision = revision or {}
    return revision.get("version_id") or revision.get("commit") or None


def fetch(rt: Runtime, run: ActionRun) -> ActionOutcome:
    """Read the object, check that it is a zip, store it as the output artifact and describe it."""
    declaration = run.declaration
    bucket, key = run.configuration["S3Bucket"], run.configuration["S3ObjectKey"]
    version = requested_version(run.source_revisions.get(declaration.name))
    where = s3_url(bucket, key, version)
    output = run.output_key(declaration.output_artifacts[0])
    with tempfile.TemporaryDirectory(prefix="conveyor-s3-source-") as scratch:
        archive = Path(scratch) / "source.zip"
        try:
            described = _download(run.aws_client("s3", rt.settings), bucket, key, version, archive)
        except S3_FAILURES as exc:
            return failed_call(exc, f"cannot read {where}", missing="RevisionUnavailable")
        if not zipfile.is_zipfile(archive):
            return ActionOutcome(
                ActionStatus.FAILED,
                summary=f"{where} is not a zip file: an S3 source object must be a zip of the source files",
                error_code="JobFailed",
            )
        rt.blobs.put_file(output, archive)
    version_id, etag = described["version_id"], described["etag"]
    artifact = {"key": output, "revision": version_id or etag, "s3_object": described}
    return ActionOutcome(
        ActionStatus.SUCCEEDED,
        summary=f"{s3_url(bucket, key, version_id)} (ETag {etag})",
        output_artifacts={declaration.output_artifacts[0]: artifact},
        output_variables={"ETag": etag, "VersionId": version_id},
        revision={"commit": version_id} if version_id else None,  # as a start's override names it; unversioned: none
    )


def _download(client: Any, bucket: str, key: str, version: str | None, destination: Path) -> dict[str, str]:
    """Write the object (that version, or the latest) to `destination`; return its bucket, key, version and ETag.

    One GetObject call, so the ETag and version id are those of the very bytes written, even while a new version
    is being uploaded.
    """
    response = client.get_object(Bucket=bucket, Key=key, **({"VersionId": version} if version else {}))
    with response["Body"] as body, destination.open("wb") as file:
        shutil.copyfileobj(body, file, _CHUNK)
    return {
        "bucket": bucket,
        "key": key,
        "version_id": str(response.get("VersionId") or ""),
        "etag": str(response.get("ETag") or "").strip('"'),
    }
