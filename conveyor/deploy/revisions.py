"""Revisions of deployments: where a bundle is, how to fetch it, and its AppSpec checked before anything runs.

A revision is a JSON mapping, kept on the deployment as given:

    {"revisionType": "Bundle",   "bundle":     {"key", "bundleType", "sha256"}}   uploaded to Conveyor's blobs
    {"revisionType": "S3",       "s3Location": {"bucket", "key", "bundleType", "version"?, "eTag"?}}
    {"revisionType": "Artifact", "artifact":   {"key", "bundleType"}}              a pipeline artifact (a blob)
    {"revisionType": "AppSpecContent", "appSpecContent": {"content", "sha256"?}}   Lambda and ECS: the AppSpec itself
    {"revisionType": "String",   "string":     {"content", "sha256"?}}             Lambda (CodeDeploy's older shape)

Bundles are `zip`, `tar` or `tgz`; for Lambda and ECS a bundle may also be the AppSpec alone (`YAML` or `JSON`, as
CodeDeploy's S3 revisions of those platforms are). A `sha256` given with content must be the SHA-256 of the
content's UTF-8 bytes. Host deployments take the bundle kinds only (`conveyor.deploy.function_revisions` reads the
others).

An uploaded bundle is stored under a key made of its SHA-256 (`deploy/bundles/<sha256>.<type>`), so the same bundle
uploaded twice is one blob and one revision. `check_revision` fetches the bundle, unpacks it exactly as an agent
does (a lone top-level directory holding the AppSpec is lifted) and parses `appspec.yml` (or `appspec.yaml`) as
a host AppSpec, raising SpecError with every problem — or with the one that there is no AppSpec at all.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from conveyor import aws
from conveyor.deploy.appspec import parse_appspec
from conveyor.deploy.appspec_hosts import HostAppSpec
from conveyor.deploy.host_state import APPSPEC_NAMES, BUNDLE_TYPES, HostState, HostStateError
from conveyor.deploy.platforms import ComputePlatform
from conveyor.errors import InvalidRequest, Problem, SpecError
from conveyor.runtime import Runtime

BUNDLE_PREFIX = "deploy/bundles/"
BUNDLE_REVISIONS = {"Bundle": "bundle", "S3": "s3Location", "Artifact": "artifact"}
CONTENT_REVISIONS = {"AppSpecContent": "appSpecContent", "String": "string"}
REVISION_TYPES = (*BUNDLE_REVISIONS, *CONTENT_REVISIONS)
APPSPEC_BUNDLE_TYPES = ("YAML", "JSON")  # an S3 object or blob that is the AppSpec itself (Lambda and ECS)


def store_bundle(rt: Runtime, data: bytes, bundle_type: str) -> dict[str, Any]:
    """Keep an uploaded bundle under its content's key; return the revision naming it."""
    _check_bundle_type(bundle_type, "bundle")
    digest = hashlib.sha256(data).hexdigest()
    key = f"{BUNDLE_PREFIX}{digest}.{bundle_type}"
    if not rt.blobs.exists(key):
        rt.blobs.put_bytes(key, data)
    return {"revisionType": "Bundle", "bundle": {"key": key, "bundleType": bundle_type, "sha256": digest}}


def check_revision_shape(revision: Any) -> dict[str, Any]:
    """The revision if it is one of the shapes above; InvalidRequest naming what is wrong otherwise."""
    if not isinstance(revision, dict) or revision.get("revisionType") not in REVISION_TYPES:
        raise InvalidRequest(f"'revision.revisionType' must be one of {', '.join(REVISION_TYPES)}")
    kind = revision["revisionType"]
    if kind in CONTENT_REVISIONS:
        _check_content(revision, CONTENT_REVISIONS[kind])
        return revision
    section = BUNDLE_REVISIONS[kind]
    needed = ("bucket", "key", "bundleType") if kind == "S3" else ("key", "bundleType")
    location = revision.get(section)
    if not isinstance(location, dict):
        raise InvalidRequest(f"a revision of type {kind} needs 'revision.{section}' as a mapping")
    for name in needed:
        if not isinstance(location.get(name), str) or not location[name]:
            raise InvalidRequest(f"'revision.{section}.{name}' must be a non-empty string")
    if location["bundleType"] not in (*BUNDLE_TYPES, *APPSPEC_BUNDLE_TYPES):
        raise InvalidRequest(
            f"revision.{section}.bundleType: bundle type {location['bundleType']!r} is not one of "
            f"{', '.join((*BUNDLE_TYPES, *APPSPEC_BUNDLE_TYPES))}"
        )
    return revision


def _check_content(revision: dict[str, Any], section: str) -> None:
    body = revision.get(section)
    if not isinstance(body, dict) or not isinstance(body.get("content"), str) or not body["content"].strip():
        raise InvalidRequest(f"a revision of type {revision['revisionType']} needs 'revision.{section}.content'")
    digest = body.get("sha256")
    if digest is None:
        return
    actual = hashlib.sha256(body["content"].encode()).hexdigest()
    if not isinstance(digest, str) or digest.lower() != actual:
        raise InvalidRequest(
            f"'revision.{section}.sha256' {digest!r} is not the SHA-256 of the content (which is {actual})"
        )


def location_of(revision: dict[str, Any]) -> dict[str, Any]:
    """The revision's location mapping (its `bundle`, `s3Location`, `artifact`, or its content's mapping)."""
    kind = revision["revisionType"]
    location: dict[str, Any] = revision[BUNDLE_REVISIONS.get(kind) or CONTENT_REVISIONS[kind]]
    return location


def revision_key(revision: dict[str, Any] | None) -> str | None:
    """A revision as one comparable string (how host health tells Current from Old)."""
    return None if revision is None else json.dumps(revision, sort_keys=True, separators=(",", ":"))


def describe_revision(revision: dict[str, Any]) -> str:
    if revision["revisionType"] in CONTENT_REVISIONS:
        return f"the {revision['revisionType']} revision"
    location = location_of(revision)
    if revision["revisionType"] == "S3":
        return f"s3://{location['bucket']}/{location['key']}"
    return str(location["key"])


def fetch_bundle(rt: Runtime, revision: dict[str, Any], destination: Path) -> None:
    """Copy the revision's bundle to `destination`; FileNotFoundError when it is not where the revision says."""
    location = location_of(revision)
    if revision["revisionType"] != "S3":
        rt.blobs.get_file(location["key"], destination)
        return
    extra = {"VersionId": location["version"]} if location.get("version") else {}
    s3 = aws.client("s3", rt.settings)
    try:
        s3.download_file(location["bucket"], location["key"], str(destination), ExtraArgs=extra or None)
    except (BotoCoreError, ClientError) as exc:
        raise FileNotFoundError(f"{describe_revision(revision)} could not be downloaded: {exc}") from None


def read_host_appspec(archive: Path, source: str) -> HostAppSpec:
    """Parse the AppSpec at the root of an unpacked revision; SpecError when there is none or it is invalid."""
    for name in APPSPEC_NAMES:
        path = archive / name
        if path.is_file():
            spec = parse_appspec(path.read_text(encoding="utf-8"), f"{source}: {name}", ComputePlatform.SERVER)
            assert isinstance(spec, HostAppSpec)  # the platform was named
            return spec
    raise SpecError(source, [Problem("", "the revision has no appspec.yml or appspec.yaml at its root")])


def check_revision(rt: Runtime, revision: dict[str, Any]) -> HostAppSpec:
    """Fetch and unpack the revision as an agent would and validate its AppSpec (see the module's docstring)."""
    source = describe_revision(revision)
    if revision["revisionType"] in CONTENT_REVISIONS or location_of(revision)["bundleType"] not in BUNDLE_TYPES:
        raise InvalidRequest(
            f"{source}: a deployment to hosts needs a zip, tar or tgz bundle holding appspec.yml and its files"
        )
    with tempfile.TemporaryDirectory(prefix="conveyor-revision-") as scratch:
        bundle = Path(scratch) / "bundle"
        try:
            fetch_bundle(rt, revision, bundle)
        except FileNotFoundError as exc:
            raise InvalidRequest(f"the revision's bundle is missing: {exc}") from None
        state = HostState(Path(scratch) / "state")
        try:
            archive = state.unpack_bundle(
                state.deployment("check", "check"), bundle, location_of(revision)["bundleType"]
            )
        except HostStateError as exc:
            raise SpecError(source, [Problem("", exc.message)]) from None
        return read_host_appspec(archive, source)


def _check_bundle_type(bundle_type: str, where: str) -> None:
    if bundle_type not in BUNDLE_TYPES:
        raise InvalidRequest(f"{where}: bundle type {bundle_type!r} is not one of {', '.join(BUNDLE_TYPES)}")
