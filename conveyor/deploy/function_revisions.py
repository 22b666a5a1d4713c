"""Revisions of Lambda and ECS deployments: the AppSpec read from wherever the revision keeps it, and validated.

Where the AppSpec text comes from, by `revisionType` (shapes in `conveyor.deploy.revisions`):

* `AppSpecContent` and `String`: the `content` itself;
* `S3`, `Bundle` or `Artifact` of bundle type `YAML` or `JSON`: the object is the AppSpec;
* the same of bundle type `zip`, `tar` or `tgz` (a pipeline's input artifact is a zip): the archive is unpacked as
  an agent unpacks it and its root holds `appspec.yml`, `appspec.yaml` or `appspec.json`.

`check_function_revision` returns the parsed AppSpec of the group's compute platform, or raises SpecError with
every problem (the source named: the object, the artifact, or the request's content), or InvalidRequest when the
revision cannot be read at all. Decision where AWS is silent: an archive may hold the AppSpec as JSON too, under
`appspec.json`, since Lambda and ECS AppSpecs are as often JSON as YAML.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from conveyor.deploy.appspec import EcsAppSpec, LambdaAppSpec, parse_appspec
from conveyor.deploy.host_state import APPSPEC_NAMES, HostState, HostStateError
from conveyor.deploy.platforms import ComputePlatform
from conveyor.deploy.revisions import CONTENT_REVISIONS, describe_revision, fetch_bundle, location_of
from conveyor.errors import InvalidRequest, Problem, SpecError
from conveyor.runtime import Runtime

FunctionAppSpec = LambdaAppSpec | EcsAppSpec
ARCHIVE_APPSPEC_NAMES = (*APPSPEC_NAMES, "appspec.json")


def check_function_revision(rt: Runtime, revision: dict[str, Any], platform: ComputePlatform) -> FunctionAppSpec:
    """The revision's AppSpec for `platform`, validated completely (see the module's docstring)."""
    text, source = appspec_text(rt, revision)
    spec = parse_appspec(text, source, platform)
    assert isinstance(spec, LambdaAppSpec | EcsAppSpec)  # the platform was named
    return spec


def appspec_text(rt: Runtime, revision: dict[str, Any]) -> tuple[str, str]:
    """The AppSpec's text and a name for it in error messages."""
    kind = revision["revisionType"]
    if kind in CONTENT_REVISIONS:
        return str(location_of(revision)["content"]), f"revision.{CONTENT_REVISIONS[kind]}.content"
    source = describe_revision(revision)
    bundle_type = location_of(revision)["bundleType"]
    with tempfile.TemporaryDirectory(prefix="conveyor-revision-") as scratch:
        bundle = Path(scratch) / "bundle"
        try:
            fetch_bundle(rt, revision, bundle)
        except FileNotFoundError as exc:
            raise InvalidRequest(f"the revision's AppSpec could not be read: {exc}") from None
        if bundle_type in ("YAML", "JSON"):
            return _decoded(bundle, source), source
        state = HostState(Path(scratch) / "state")
        try:
            archive = state.unpack_bundle(state.deployment("check", "check"), bundle, bundle_type)
        except HostStateError as exc:
            raise SpecError(source, [Problem("", exc.message)]) from None
        for name in ARCHIVE_APPSPEC_NAMES:
            if (archive / name).is_file():
                return _decoded(archive / name, f"{source}: {name}"), f"{source}: {name}"
    names = ", ".join(ARCHIVE_APPSPEC_NAMES)
    raise SpecError(source, [Problem("", f"the revision has none of {names} at its root")])


def _decoded(path: Path, source: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise SpecError(source, [Problem("", "the AppSpec is not UTF-8 text")]) from None
