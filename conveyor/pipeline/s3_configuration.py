"""What the S3 providers' configurations must hold beyond their keys (§3.1 of the AWS semantics). Pure.

The definition check (`conveyor.pipeline.spec`) calls these when a pipeline is saved. A value that still holds
`#{…}` variable references cannot be judged then: the caller names such keys in `unresolved`, and the S3 deploy
action judges its configuration again when it starts, with every reference resolved.

Each problem is `(configuration key, what is wrong)`; the key is None when the problem is the configuration's as a
whole (a conditionally required key that is missing).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass

# The canned ACLs S3 accepts on an object (`log-delivery-write` is a bucket's only).
CANNED_ACLS = frozenset(
    {
        "private",
        "public-read",
        "public-read-write",
        "authenticated-read",
        "aws-exec-read",
        "bucket-owner-read",
        "bucket-owner-full-control",
    }
)
# Today's bucket names are 3..63 of [a-z0-9.-]; buckets made before 2018 in us-east-1 may also hold capitals and
# underscores and run to 255 characters, and they still work, so only what no bucket name can hold is refused.
_BUCKET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,253}[A-Za-z0-9]$")

ConfigurationProblem = tuple[str | None, str]


@dataclass(frozen=True)
class DeployTarget:
    """Where and how an S3 deploy action uploads its input artifact."""

    bucket: str
    extract: bool
    object_key: str  # Extract false: the object's key; Extract true: the key prefix, without surrounding slashes
    kms_key: str | None = None
    canned_acl: str | None = None
    cache_control: str | None = None

    def key_for(self, name: str) -> str:
        """The key of an extracted file, `name` being its path inside the artifact."""
        return f"{self.object_key}/{name}" if self.object_key else name

    def put_arguments(self, content_type: str) -> dict[str, str]:
        """The PutObject arguments every uploaded object gets, besides its bucket, key and body."""
        arguments = {"ContentType": content_type}
        if self.canned_acl:
            arguments["ACL"] = self.canned_acl
        if self.cache_control:
            arguments["CacheControl"] = self.cache_control
        if self.kms_key:
            arguments["ServerSideEncryption"] = "aws:kms"
            arguments["SSEKMSKeyId"] = self.kms_key
        return arguments


def deploy_target(configuration: Mapping[str, str]) -> DeployTarget:
    """The target of a deploy configuration that `deploy_problems` found nothing wrong with."""
    extract = is_true(configuration["Extract"])
    object_key = configuration.get("ObjectKey") or ""
    return DeployTarget(
        bucket=configuration["BucketName"],
        extract=extract,
        object_key=object_key.strip("/") if extract else object_key,
        kms_key=configuration.get("KMSEncryptionKeyARN") or None,
        canned_acl=configuration.get("CannedACL") or None,
        cache_control=configuration.get("CacheControl") or None,
    )


def is_true(value: str | None) -> bool:
    return str(value or "").strip().lower() == "true"


def source_problems(configuration: Mapping[str, str]) -> list[ConfigurationProblem]:
    """What is wrong in an S3 source configuration (a source's values never hold references)."""
    found = _bucket_problems(configuration, "S3Bucket", ())
    if "S3ObjectKey" in configuration and not configuration["S3ObjectKey"].strip():
        found.append(("S3ObjectKey", "must name the object: the key of the zip file of the source"))
    found += _true_or_false(configuration, "PollForSourceChanges", ())
    return found


def deploy_problems(
    configuration: Mapping[str, str], unresolved: Collection[str] = frozenset()
) -> list[ConfigurationProblem]:
    """What is wrong in an S3 deploy configuration; keys in `unresolved` hold references and are not judged."""
    found = _bucket_problems(configuration, "BucketName", unresolved)
    found += _true_or_false(configuration, "Extract", unresolved)
    extract = configuration.get("Extract")
    if extract is not None and "Extract" not in unresolved and extract.strip().lower() == "false":
        found += _object_key_problems(configuration, unresolved)
    acl = configuration.get("CannedACL")
    if acl is not None and "CannedACL" not in unresolved and acl not in CANNED_ACLS:
        found.append(("CannedACL", f"{acl!r} is not a canned ACL for objects: use one of {_listed(CANNED_ACLS)}"))
    for key in ("KMSEncryptionKeyARN", "CacheControl"):
        if key in configuration and key not in unresolved and not configuration[key].strip():
            found.append((key, "is empty: give a value or leave the key out"))
    return found


def _object_key_problems(configuration: Mapping[str, str], unresolved: Collection[str]) -> list[ConfigurationProblem]:
    if "ObjectKey" not in configuration:
        return [(None, "missing configuration key 'ObjectKey': with Extract false the zip is uploaded as that object")]
    key = configuration["ObjectKey"]
    if "ObjectKey" in unresolved:
        return []
    if not key.strip():
        return [("ObjectKey", "is empty: with Extract false it names the object the zip is uploaded as")]
    if key.endswith("/"):
        return [("ObjectKey", f"{key!r} ends with '/': with Extract false it names an object, not a folder")]
    return []


def _bucket_problems(
    configuration: Mapping[str, str], key: str, unresolved: Collection[str]
) -> list[ConfigurationProblem]:
    name = configuration.get(key)
    if name is None or key in unresolved or _BUCKET_NAME.match(name):
        return []
    if "/" in name or name.startswith("s3:"):
        where = "; the key prefix goes in ObjectKey" if key == "BucketName" else ""
        return [(key, f"{name!r} is not a bucket name: give the bucket's name alone, not a URL or a path{where}")]
    return [(key, f"{name!r} is not a bucket name: 3 to 255 letters, digits, '.', '-' or '_'")]


def _true_or_false(
    configuration: Mapping[str, str], key: str, unresolved: Collection[str]
) -> list[ConfigurationProblem]:
    value = configuration.get(key)
    if value is None or key in unresolved or value.strip().lower() in ("true", "false"):
        return []
    return [(key, f"must be true or false, not {value!r}")]


def _listed(values: Collection[str]) -> str:
    return ", ".join(sorted(values))
