"""AppSpec files of the three compute platforms: parse and validate completely, before anything is deployed.

`parse_appspec` reads YAML or JSON (CRLF line endings, a byte-order mark and a missing final newline are fine) and
returns a frozen `HostAppSpec`, `LambdaAppSpec` or `EcsAppSpec`, or raises SpecError with every problem found, each
with its path and line. The caller names the compute platform when it knows it (a deployment group does); otherwise
the content tells: a resource of type AWS::Lambda::Function or AWS::ECS::Service; else a key only host AppSpecs have
(`os`, `files`, …); else `Resources`, or `Hooks` written as a list (the shape of both), with ECS-only hooks meaning
ECS; else a host AppSpec. Notes on each spec list what was accepted but has no effect.
"""

from __future__ import annotations

from typing import Any

from conveyor.deploy.appspec_ecs import EcsAppSpec, parse_ecs_appspec
from conveyor.deploy.appspec_events import ECS_HOOK_EVENTS, LAMBDA_HOOK_EVENTS, ComputePlatform
from conveyor.deploy.appspec_hosts import HostAppSpec, parse_host_appspec
from conveyor.deploy.appspec_lambda import LambdaAppSpec, parse_lambda_appspec
from conveyor.errors import Problem, SpecError
from conveyor.specfile import ProblemList, load_document

AppSpec = HostAppSpec | LambdaAppSpec | EcsAppSpec
RESOURCE_PLATFORMS = {"aws::lambda::function": ComputePlatform.LAMBDA, "aws::ecs::service": ComputePlatform.ECS}
HOST_KEYS = frozenset({"os", "files", "permissions", "file_exists_behavior"})
ECS_ONLY_HOOKS = frozenset(ECS_HOOK_EVENTS) - frozenset(LAMBDA_HOOK_EVENTS)

__all__ = ["AppSpec", "ComputePlatform", "EcsAppSpec", "HostAppSpec", "LambdaAppSpec", "parse_appspec"]


def parse_appspec(text: str, source: str = "appspec.yml", platform: ComputePlatform | None = None) -> AppSpec:
    """Parse and validate an AppSpec, raising SpecError with every problem found."""
    document = load_document(text, source)
    problems, notes = ProblemList(document), ProblemList(document)
    data = document.data
    if not isinstance(data, dict):
        problems.add((), "an AppSpec must be a mapping with at least a 'version' key")
        problems.raise_if_any()
    chosen = platform or detect_platform(data)
    spec: AppSpec | None
    if chosen is ComputePlatform.LAMBDA:
        spec = parse_lambda_appspec(data, problems, notes)
    elif chosen is ComputePlatform.ECS:
        spec = parse_ecs_appspec(data, problems, notes)
    else:
        spec = parse_host_appspec(data, problems, notes)
    problems.raise_if_any()
    if spec is None:  # every reader that gives up records why; this guards against one that did not
        raise SpecError(source, [Problem("", f"not a valid {chosen.label} AppSpec")])
    return spec


def detect_platform(data: dict[str, Any]) -> ComputePlatform:
    """The compute platform an AppSpec is written for, read from its content (see the module's docstring)."""
    keys = {str(key).lower(): value for key, value in data.items()}
    resources = keys.get("resources")
    if isinstance(resources, list):
        for resource in resources:
            for body in resource.values() if isinstance(resource, dict) else ():
                found = _resource_platform(body)
                if found is not None:
                    return found
    if HOST_KEYS & set(keys):
        return ComputePlatform.SERVER
    hooks = keys.get("hooks")
    if isinstance(hooks, list) or resources is not None:
        named = {str(key) for item in hooks or () if isinstance(item, dict) for key in item}
        return ComputePlatform.ECS if named & ECS_ONLY_HOOKS else ComputePlatform.LAMBDA
    return ComputePlatform.SERVER


def _resource_platform(body: Any) -> ComputePlatform | None:
    if not isinstance(body, dict):
        return None
    kind = next((value for key, value in body.items() if str(key).lower() == "type"), None)
    return RESOURCE_PLATFORMS.get(str(kind).lower()) if kind is not None else None
