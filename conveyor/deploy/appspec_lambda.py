"""The AppSpec of Lambda deployments: which alias moves from which published version to which, and its hooks.

    Resources:
      - MyFunction:
          Type: AWS::Lambda::Function
          Properties: {Name, Alias, CurrentVersion, TargetVersion}     all four required
    Hooks:
      - BeforeAllowTraffic: <function>
      - AfterAllowTraffic: <function>

Versions are published version numbers (a string or a number in the file): alias weights can point at nothing
else. A target version equal to the current one is refused: such a deployment would shift no traffic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

from conveyor.deploy.appspec_events import ComputePlatform
from conveyor.deploy.appspec_fields import Fields, require, sorted_notes, text_of
from conveyor.deploy.appspec_functions import FUNCTION_NAME, read_outline
from conveyor.errors import Problem
from conveyor.specfile import ProblemList

PROPERTY_KEYS = ("Name", "Alias", "CurrentVersion", "TargetVersion")
ALIAS = re.compile(r"(?!\d+\Z)[A-Za-z0-9_-]{1,128}\Z")  # Lambda's rule: not only digits
VERSION_NUMBER = re.compile(r"[1-9]\d{0,15}\Z")


@dataclass(frozen=True)
class LambdaFunctionTarget:
    """The function whose `alias` moves from `current_version` to `target_version` (version numbers as text)."""

    logical_name: str
    name: str
    alias: str
    current_version: str
    target_version: str


@dataclass(frozen=True)
class LambdaAppSpec:
    """A valid Lambda AppSpec. `hooks` maps each hooked event (in the order events run) to its function."""

    platform: ClassVar[ComputePlatform] = ComputePlatform.LAMBDA

    version: str
    function: LambdaFunctionTarget
    hooks: dict[str, str] = field(default_factory=dict)
    notes: tuple[Problem, ...] = ()

    @property
    def hook_count(self) -> int:
        return len(self.hooks)


def parse_lambda_appspec(data: dict[str, Any], problems: ProblemList, notes: ProblemList) -> LambdaAppSpec | None:
    """Read a Lambda AppSpec, adding each problem to `problems`; None only when a problem says why."""
    outline = read_outline(data, ComputePlatform.LAMBDA, problems, PROPERTY_KEYS)
    if outline.logical_name is None:
        return None
    target = _target(outline.logical_name, outline.properties, problems)
    return None if target is None else LambdaAppSpec(outline.version, target, outline.hooks, sorted_notes(notes))


def _target(logical_name: str, properties: Fields, problems: ProblemList) -> LambdaFunctionTarget | None:
    require(properties, PROPERTY_KEYS, problems)
    name = text_of(properties, "Name", problems, "the name or ARN of the function")
    if name is not None and not FUNCTION_NAME.match(name):
        problems.add(properties.at("Name"), f"{name!r} is not a Lambda function name or ARN (without a qualifier)")
        name = None
    alias = text_of(properties, "Alias", problems, "the name of an alias of the function")
    if alias is not None and not ALIAS.match(alias):
        problems.add(
            properties.at("Alias"), f"{alias!r} is not an alias name (letters, digits, - and _, not only digits)"
        )
        alias = None
    current = _version(properties, "CurrentVersion", problems)
    target = _version(properties, "TargetVersion", problems)
    if current is not None and current == target:
        problems.add(
            properties.at("TargetVersion"), f"is version {target}, where the alias points already (CurrentVersion)"
        )
        return None
    if name is None or alias is None or current is None or target is None:
        return None
    return LambdaFunctionTarget(logical_name, name, alias, current, target)


def _version(properties: Fields, key: str, problems: ProblemList) -> str | None:
    text = text_of(properties, key, problems, "a published version number")
    if text is not None and not VERSION_NUMBER.match(text):
        problems.add(properties.at(key), f"{text!r} is not a published version number like 3 (not $LATEST or an alias)")
        return None
    return text
