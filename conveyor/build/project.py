"""Build projects in CodeBuild's shape (what `create-project` takes and `batch-get-projects` prints): parse, validate.

Conveyor acts on the name, description, `source.buildspec`, `environment.computeType` and
`environment.environmentVariables`, `timeoutInMinutes`, `queuedTimeoutInMinutes` and `cache` (`type`, `location`,
`modes`, `cacheNamespace`; a project that says nothing gets a LOCAL cache, so a buildspec's `cache` works at once).
Other keys CodeBuild defines (service role, image, artifacts, VPC, …) are accepted and listed back as ignored, so a
project file exported from AWS registers as it is; any other key is a problem. Every problem is reported at once
with its path and line.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from conveyor.compute import COMPUTE_TYPES
from conveyor.specfile import Path as SpecPath
from conveyor.specfile import ProblemList, load_document

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9\-_]{1,254}$"
ACTED_ON = {"name", "description", "source", "environment", "timeoutInMinutes", "queuedTimeoutInMinutes", "cache"}
IGNORED = {
    "arn",
    "serviceRole",
    "artifacts",
    "secondaryArtifacts",
    "secondarySources",
    "secondarySourceVersions",
    "sourceVersion",
    "vpcConfig",
    "badge",
    "badgeEnabled",
    "logsConfig",
    "fileSystemLocations",
    "buildBatchConfig",
    "concurrentBuildLimit",
    "encryptionKey",
    "tags",
    "webhook",
    "projectVisibility",
    "publicProjectAlias",
    "resourceAccessRole",
    "autoRetryLimit",
}
# What a project read back shows and no one writes: passed over without a word, so that `conveyor projects get`'s
# output can be put again as it is.
SHOWN = {"created", "lastModified", "queue", "lastBuildNumber"}
SOURCE_IGNORED = {
    "type",
    "location",
    "gitCloneDepth",
    "gitSubmodulesConfig",
    "reportBuildStatus",
    "buildStatusConfig",
    "insecureSsl",
    "sourceIdentifier",
    "auth",
}
ENVIRONMENT_IGNORED = {
    "type",
    "image",
    "privilegedMode",
    "imagePullCredentialsType",
    "certificate",
    "registryCredential",
    "fleet",
}
VARIABLE_TYPES = ("PLAINTEXT", "PARAMETER_STORE", "SECRETS_MANAGER")
CACHE_KEYS = {"type", "location", "modes", "cacheNamespace"}
CACHE_TYPES = ("NO_CACHE", "LOCAL", "S3")
CACHE_MODES = ("LOCAL_SOURCE_CACHE", "LOCAL_DOCKER_LAYER_CACHE", "LOCAL_CUSTOM_CACHE")


@dataclass(frozen=True)
class ProjectVariable:
    name: str
    value: str
    type: str = "PLAINTEXT"


@dataclass(frozen=True)
class ProjectSpec:
    name: str
    description: str | None = None
    buildspec: str | None = None
    compute_type: str | None = None
    variables: tuple[ProjectVariable, ...] = ()
    timeout_minutes: int | None = None
    queued_timeout_minutes: int | None = None
    cache: dict[str, Any] | None = None  # as given (CodeBuild's shape); None: the default LOCAL cache
    ignored: tuple[str, ...] = field(default=())  # keys CodeBuild knows that Conveyor does not act on


def parse_project(text: str, source: str = "project") -> ProjectSpec:
    document = load_document(text, source)
    problems = ProblemList(document)
    data = document.data
    prefix: SpecPath = ()
    if isinstance(data, dict) and set(data) == {"project"}:  # what create-project answers: {"project": {...}}
        data, prefix = data["project"], ("project",)
    if not isinstance(data, dict):
        problems.add(prefix, "a project must be a mapping with at least a 'name'")
        problems.raise_if_any()
    spec = _parse(data, prefix, problems)
    problems.raise_if_any()
    return spec


def _parse(data: dict[str, Any], prefix: SpecPath, problems: ProblemList) -> ProjectSpec:
    ignored = sorted(k for k in map(str, data) if k in IGNORED)
    for key in sorted(set(map(str, data)) - ACTED_ON - IGNORED - SHOWN):
        problems.add((*prefix, key), "unknown key")
    name = data.get("name")
    if not isinstance(name, str) or not _matches(NAME_PATTERN, name):
        problems.add(
            (*prefix, "name"), "needs a name of 2 to 255 letters, digits, '-' or '_', starting with a letter or digit"
        )
    source = _section(data, "source", SOURCE_IGNORED | {"buildspec"}, prefix, problems, ignored)
    environment = _section(
        data, "environment", ENVIRONMENT_IGNORED | {"computeType", "environmentVariables"}, prefix, problems, ignored
    )
    compute_type = environment.get("computeType")
    if compute_type is not None and compute_type not in COMPUTE_TYPES:
        problems.add(
            (*prefix, "environment", "computeType"),
            f"{compute_type!r} is not a compute type ({', '.join(COMPUTE_TYPES[:5])}, …)",
        )
    return ProjectSpec(
        name=str(name),
        description=None if data.get("description") is None else str(data["description"]),
        buildspec=None if source.get("buildspec") in (None, "") else str(source["buildspec"]),
        compute_type=None if compute_type is None else str(compute_type),
        variables=_variables(environment.get("environmentVariables"), (*prefix, "environment"), problems),
        timeout_minutes=_minutes(data, "timeoutInMinutes", 5, 2160, prefix, problems),
        queued_timeout_minutes=_minutes(data, "queuedTimeoutInMinutes", 5, 480, prefix, problems),
        cache=_cache(data.get("cache"), (*prefix, "cache"), problems, ignored),
        ignored=tuple(ignored),
    )


def _section(
    data: dict[str, Any],
    key: str,
    allowed: set[str],
    prefix: SpecPath,
    problems: ProblemList,
    ignored: list[str],
) -> dict[str, Any]:
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.add((*prefix, key), "must be a mapping")
        return {}
    for inner in sorted(set(map(str, value)) - allowed):
        problems.add((*prefix, key, inner), "unknown key")
    ignored += [
        f"{key}.{inner}"
        for inner in sorted(map(str, value))
        if inner in allowed and inner in (SOURCE_IGNORED | ENVIRONMENT_IGNORED)
    ]
    return value


def _variables(value: Any, path: SpecPath, problems: ProblemList) -> tuple[ProjectVariable, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        problems.add((*path, "environmentVariables"), "must be a list of {name, value, type}")
        return ()
    found: list[ProjectVariable] = []
    for index, item in enumerate(value):
        where = (*path, "environmentVariables", index)
        problem = _variable_problem(item)
        if problem is not None:
            field, message = problem
            problems.add((*where, field) if field else where, message)
        else:
            found.append(ProjectVariable(item["name"], str(item["value"]), str(item.get("type", "PLAINTEXT"))))
    return tuple(found)


def _cache(value: Any, path: SpecPath, problems: ProblemList, ignored: list[str]) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        problems.add(path, "must be a mapping with a 'type'")
        return None
    for key in sorted(set(map(str, value)) - CACHE_KEYS):
        problems.add((*path, key), "unknown key")
    kind = value.get("type")
    if kind not in CACHE_TYPES:
        problems.add((*path, "type"), f"{kind!r} is not one of {', '.join(CACHE_TYPES)}")
    location = value.get("location")
    if location is not None and (not isinstance(location, str) or (kind == "S3" and not location.strip("/"))):
        problems.add((*path, "location"), "an S3 cache's location is bucket[/prefix]")
    modes = value.get("modes") or []
    if not isinstance(modes, list) or any(m not in CACHE_MODES for m in modes):
        problems.add((*path, "modes"), f"must be a list of {', '.join(CACHE_MODES)}")
        modes = []
    ignored += [f"cache.modes.{m}" for m in modes if m != "LOCAL_CUSTOM_CACHE"]
    namespace = value.get("cacheNamespace")
    if namespace is not None and (not isinstance(namespace, str) or not namespace.strip()):
        problems.add((*path, "cacheNamespace"), "must be a non-empty string")
    return {k: value[k] for k in ("type", "location", "modes", "cacheNamespace") if value.get(k) not in (None, "")}


def _minutes(
    data: dict[str, Any], key: str, low: int, high: int, prefix: SpecPath, problems: ProblemList
) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        problems.add((*prefix, key), f"must be a whole number of minutes from {low} to {high}")
        return None
    return value


def _matches(pattern: str, text: str) -> bool:
    return re.match(pattern, text) is not None


def variable_overrides(text: str) -> tuple[ProjectVariable, ...]:
    """A CodePipeline CodeBuild action's `EnvironmentVariables`: a JSON array of {name, value, type}.

    Raises ValueError saying what is wrong.
    """
    try:
        items = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"not a JSON array of {{name, value, type}}: {exc}") from None
    if not isinstance(items, list):
        raise ValueError("must be a JSON array of {name, value, type}")
    found = []
    for index, item in enumerate(items):
        problem = _variable_problem(item)
        if problem is not None:
            field, message = problem
            raise ValueError(
                f"item {index} ({item['name']}): {field} {message}" if field else f"item {index} {message}"
            )
        found.append(ProjectVariable(item["name"], str(item["value"]), str(item.get("type", "PLAINTEXT"))))
    return tuple(found)


def _variable_problem(item: Any) -> tuple[str | None, str] | None:
    """What is wrong with one {name, value, type} variable, if anything: (the field at fault, or None; the message)."""
    if not isinstance(item, dict) or not isinstance(item.get("name"), str) or "value" not in item:
        return None, "needs a name and a value"
    kind = str(item.get("type", "PLAINTEXT"))
    if kind not in VARIABLE_TYPES:
        return "type", f"{kind!r} is not one of {', '.join(VARIABLE_TYPES)}"
    if item["name"].startswith("CODEBUILD_"):
        return "name", "starting CODEBUILD_ is reserved"
    return None
