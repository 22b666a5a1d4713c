"""What Lambda and ECS AppSpecs share: one resource under `Resources`, and `Hooks` that name Lambda functions.

    version: 0.0
    Resources:
      - <logical name>:
          Type: AWS::Lambda::Function | AWS::ECS::Service
          Properties: {...}
    Hooks:
      - <Event>: <function name or ARN>

AWS writes these keys capitalised in some examples and in lower case in others (`resources`, `type`,
`currentversion`), so every key of these AppSpecs matches in any case. Each hook runs once per deployment: an
event may appear once, with one function.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from conveyor.deploy.appspec_events import HOOK_EVENTS, ComputePlatform, hook_event_problem
from conveyor.deploy.appspec_fields import Fields, check_version, read_fields, require, text_at
from conveyor.specfile import Path as SpecPath
from conveyor.specfile import ProblemList

TOP_KEYS = ("version", "Resources", "Hooks")
RESOURCE_KEYS = ("Type", "Properties")
RESOURCE_TYPES = {ComputePlatform.LAMBDA: "AWS::Lambda::Function", ComputePlatform.ECS: "AWS::ECS::Service"}
HOST_ONLY_KEYS = ("os", "files", "permissions", "file_exists_behavior")
# A function name, or its ARN; a hook may name a version or alias of it too (`validate:live`).
FUNCTION = r"(?:arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:\d{12}:function:)?[A-Za-z0-9_-]{1,64}"
FUNCTION_NAME = re.compile(rf"{FUNCTION}\Z")
HOOK_FUNCTION = re.compile(rf"{FUNCTION}(?::[A-Za-z0-9$_-]{{1,128}})?\Z")


@dataclass(frozen=True)
class Outline:
    """The parts both kinds share, read from the document: version, the one resource's properties, the hooks."""

    version: str
    logical_name: str | None  # None when the resource could not be read (a problem says why)
    properties: Fields
    hooks: dict[str, str]


def read_outline(
    data: dict[str, Any], platform: ComputePlatform, problems: ProblemList, known: tuple[str, ...]
) -> Outline:
    """Read `version`, the single resource of `platform` (its properties matched to `known`) and `Hooks`."""
    fields = read_fields(data, (), problems, TOP_KEYS, any_case=True, unknown_hint=_top_key_hint)
    version = check_version(fields, problems)
    require(fields, ["Resources"], problems)
    logical_name, properties = _resource(fields, platform, problems, known)
    return Outline(version, logical_name, properties, _hooks(fields, platform, problems))


def _top_key_hint(key: str) -> str:
    return " (it belongs to EC2/on-premises AppSpecs)" if key in HOST_ONLY_KEYS else ""


def _resource(
    fields: Fields, platform: ComputePlatform, problems: ProblemList, known: tuple[str, ...]
) -> tuple[str | None, Fields]:
    value, path = fields.get("Resources"), fields.at("Resources")
    kind = RESOURCE_TYPES[platform]
    nothing = (None, Fields((*path, 0)))
    if value is None:
        return nothing
    if not isinstance(value, list) or not value:
        problems.add(path, f"must be a list holding one resource (- MyResource: {{Type: {kind}, Properties: …}})")
        return nothing
    for index in range(1, len(value)):
        problems.add((*path, index), f"{platform.label} AppSpecs name exactly one resource")
    item = value[0]
    if not isinstance(item, dict) or len(item) != 1:
        problems.add((*path, 0), f"must be a mapping of one logical name to its resource ({{Type: {kind}, …}})")
        return nothing
    logical_name, declared = next(iter(item.items()))
    where: SpecPath = (*path, 0, str(logical_name))
    if not isinstance(declared, dict):
        problems.add(where, f"must be a mapping with Type ({kind}) and Properties")
        return nothing
    resource = read_fields(declared, where, problems, RESOURCE_KEYS, any_case=True)
    require(resource, RESOURCE_KEYS, problems)
    written = text_at(resource.get("Type"), resource.at("Type"), problems, kind) if "Type" in resource else None
    if written is not None and written != kind:
        problems.add(resource.at("Type"), f"{written!r} is not {kind}, the resource of {platform.label} AppSpecs")
    body = resource.get("Properties")
    properties = read_fields(body, resource.at("Properties"), problems, known, any_case=True)
    return (str(logical_name), properties) if isinstance(body, dict) else nothing


def _hooks(fields: Fields, platform: ComputePlatform, problems: ProblemList) -> dict[str, str]:
    value, path = fields.get("Hooks"), fields.at("Hooks")
    if value is None:
        return {}
    if not isinstance(value, list):
        problems.add(path, "must be a list of one-key entries (- BeforeAllowTraffic: MyValidationFunction)")
        return {}
    found: dict[str, str] = {}
    for index, item in enumerate(value):
        if not isinstance(item, dict) or not item:
            problems.add((*path, index), "must be an entry like - BeforeAllowTraffic: MyValidationFunction")
            continue
        for key, function in item.items():
            _hook(str(key), function, (*path, index, str(key)), platform, problems, found)
    return {event: found[event] for event in HOOK_EVENTS[platform] if event in found}


def _hook(
    event: str, function: Any, path: SpecPath, platform: ComputePlatform, problems: ProblemList, found: dict[str, str]
) -> None:
    problem = hook_event_problem(event, platform)
    if problem is not None:
        problems.add(path, problem)
        return
    if event in found:
        problems.add(path, f"{event} is hooked twice; each hook runs once per deployment, with one function")
        return
    name = text_at(function, path, problems, "the name or ARN of a Lambda function")
    if name is not None and not HOOK_FUNCTION.match(name):
        problems.add(path, f"{name!r} is not a Lambda function name or ARN")
    elif name is not None:
        found[event] = name
