"""S3 deploy actions: put the input artifact into a bucket, as a zip or as the files it holds.

* `Extract` false: the artifact's zip is uploaded as the object `ObjectKey` (content type `application/zip`).
* `Extract` true: every file of the zip is uploaded under the key prefix `ObjectKey` (CodePipeline's console calls it
  the deployment path; without one the files land at the bucket's root), each with a content type guessed from its
  name, so a static web site is served as it should be. Objects already under the prefix that the artifact does not
  hold are left alone, as CodePipeline leaves them.

Every object gets the `CannedACL` and `CacheControl` given, and SSE-KMS with `KMSEncryptionKeyARN` when one is.
The configuration is checked again as the action starts, now that its variable references are resolved; a value
that is wrong then fails the action with ConfigurationError before anything is uploaded.
"""

from __future__ import annotations

import mimetypes
import tempfile
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any

from conveyor.archives import ArchiveError, extract_zip
from conveyor.pipeline.actions.base import ActionConfigurationError, ActionOutcome, ActionRun, ActionStart, queue_run
from conveyor.pipeline.actions.s3_errors import S3_FAILURES, failed_call, s3_url
from conveyor.pipeline.s3_configuration import DeployTarget, deploy_problems, deploy_target
from conveyor.pipeline.status import ActionStatus
from conveyor.runtime import Runtime

DEPLOY_TIMEOUT_SECONDS = 40 * 60  # CodePipeline's default timeout of an S3 deploy action
UPLOAD_THREADS = 8  # a web site is many small files: a few PUTs in flight at once
ZIP_CONTENT_TYPE = "application/zip"
DEFAULT_CONTENT_TYPE = "application/octet-stream"
# Compressed files are served as what they are, never with a Content-Encoding a browser would undo on download.
_ENCODED_TYPES = {"gzip": "application/gzip", "bzip2": "application/x-bzip2", "xz": "application/x-xz"}
# Types the standard library's own table lacks or spells differently across Python versions (RFC 9239 for .js).
_WEB_TYPES = {
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".map": "application/json",
    ".md": "text/markdown",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
}

Upload = tuple[Path, str, str]  # (file, key, content type)


def start(context: ActionStart) -> None:
    problems = deploy_problems(context.configuration)
    if problems:
        raise ActionConfigurationError(
            "; ".join(f"configuration {key}: {message}" if key else message for key, message in problems)
        )
    queue_run(context, timeout_seconds=DEPLOY_TIMEOUT_SECONDS)


def deploy(rt: Runtime, run: ActionRun) -> ActionOutcome:
    """Upload the input artifact to the target bucket and say what was put where."""
    target = deploy_target(run.configuration)
    name = run.declaration.input_artifacts[0]
    with tempfile.TemporaryDirectory(prefix="conveyor-s3-deploy-") as scratch:
        bundle = Path(scratch) / f"{name}.zip"
        rt.blobs.get_file(run.input_artifacts[name]["key"], bundle)
        if target.extract:
            try:
                uploads = _extracted(bundle, Path(scratch) / "files", target)
            except ArchiveError as exc:
                summary = f"cannot extract input artifact {name}: {exc.message}"
                return ActionOutcome(ActionStatus.FAILED, summary=summary, error_code="JobFailed")
        else:
            uploads = [(bundle, target.object_key, ZIP_CONTENT_TYPE)]
        failure = _upload_all(rt, run, target, uploads)
    if failure is not None:
        return failure
    if not target.extract:
        summary = f"uploaded the artifact to {s3_url(target.bucket, target.object_key)}"
    else:
        prefix = f"{target.object_key}/" if target.object_key else ""
        summary = f"uploaded {len(uploads)} file{'s' if len(uploads) != 1 else ''} to {s3_url(target.bucket, prefix)}"
    return ActionOutcome(ActionStatus.SUCCEEDED, summary=summary)


def content_type(name: str) -> str:
    """The Content-Type an extracted file is served with, guessed from its name the same way on every machine."""
    suffix = PurePosixPath(name).suffix.lower()
    if suffix in _WEB_TYPES:
        return _WEB_TYPES[suffix]
    guessed, encoding = _types().guess_type(name, strict=False)
    if encoding is not None:
        return _ENCODED_TYPES.get(encoding, DEFAULT_CONTENT_TYPE)
    return guessed or DEFAULT_CONTENT_TYPE


@cache
def _types() -> mimetypes.MimeTypes:
    return mimetypes.MimeTypes()  # the standard library's table alone, not the machine's /etc/mime.types


def _extracted(bundle: Path, destination: Path, target: DeployTarget) -> list[Upload]:
    """Extract the artifact; one upload per file in it, in path order (a link to a file inside counts as that file)."""
    extract_zip(bundle, destination)
    files = sorted(path for path in destination.rglob("*") if path.is_file())
    names = [path.relative_to(destination).as_posix() for path in files]
    return [(path, target.key_for(name), content_type(name)) for path, name in zip(files, names, strict=True)]


def _upload_all(rt: Runtime, run: ActionRun, target: DeployTarget, uploads: list[Upload]) -> ActionOutcome | None:
    """Put every upload, a few at a time; the failed outcome of the first that fails, None when all went up."""
    try:
        client = run.aws_client("s3", rt.settings)  # assumes the action's roleArn, which may be refused
    except S3_FAILURES as exc:
        return failed_call(exc, f"cannot upload to {s3_url(target.bucket)}", missing="ConfigurationError")
    with ThreadPoolExecutor(max_workers=UPLOAD_THREADS, thread_name_prefix="s3-deploy") as pool:
        futures = [(key, pool.submit(_put, client, target, path, key, kind)) for path, key, kind in uploads]
        for key, future in futures:
            try:
                future.result()
            except S3_FAILURES as exc:
                pool.shutdown(cancel_futures=True)
                return failed_call(exc, f"cannot upload {s3_url(target.bucket, key)}", missing="ConfigurationError")
    return None


def _put(client: Any, target: DeployTarget, path: Path, key: str, kind: str) -> None:
    with path.open("rb") as body:
        client.put_object(Bucket=target.bucket, Key=key, Body=body, **target.put_arguments(kind))
