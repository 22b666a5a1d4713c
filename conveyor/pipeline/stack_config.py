"""The CloudFormation deploy action's configuration, parsed and checked. Pure.

It is checked twice. When the pipeline is saved, every value that can be judged is: values holding `#{…}`
references wait until they resolve. When the action starts, the resolved configuration is checked again in full and
parsed into a `StackConfiguration`.

The rules (CodePipeline's CloudFormation action reference):

* `ActionMode` is one of `ACTION_MODES`; `StackName` is always required;
* `TemplatePath` is required by the modes that send a template (`TEMPLATE_MODES`), `ChangeSetName` by the
  change-set modes; both are ignored by the other modes;
* `TemplatePath` and `TemplateConfiguration` are `ArtifactName::path/in/zip`, naming an input artifact of the
  action;
* `ParameterOverrides` is a JSON object of at most 1 KB, mapping parameter names to strings (numbers and booleans
  are taken as their text) or to one of the parameter override functions, `Fn::GetParam` and
  `Fn::GetArtifactAtt`, whose artifact must be an input artifact of the action;
* `Capabilities` is a comma-separated list of `CAPABILITIES`;
* `OutputFileName` and an output artifact go together: the file is written into that artifact.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from conveyor.pipeline.variables import references

CREATE_UPDATE = "CREATE_UPDATE"
DELETE_ONLY = "DELETE_ONLY"
REPLACE_ON_FAILURE = "REPLACE_ON_FAILURE"
CHANGE_SET_REPLACE = "CHANGE_SET_REPLACE"
CHANGE_SET_EXECUTE = "CHANGE_SET_EXECUTE"
ACTION_MODES = (CREATE_UPDATE, DELETE_ONLY, REPLACE_ON_FAILURE, CHANGE_SET_REPLACE, CHANGE_SET_EXECUTE)
TEMPLATE_MODES = frozenset({CREATE_UPDATE, REPLACE_ON_FAILURE, CHANGE_SET_REPLACE})
CHANGE_SET_MODES = frozenset({CHANGE_SET_REPLACE, CHANGE_SET_EXECUTE})
STACK_CHANGING_MODES = frozenset({CREATE_UPDATE, REPLACE_ON_FAILURE, CHANGE_SET_EXECUTE})  # they output variables
CAPABILITIES = frozenset({"CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"})
ARTIFACT_ATTRIBUTES = frozenset({"BucketName", "ObjectKey", "URL"})
MAX_PARAMETER_OVERRIDES_BYTES = 1024
SEPARATOR = "::"

_STACK_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,127}")
_CHANGE_SET_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,127}")
_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/\S+")

Where = tuple[str, ...]  # a path inside the action: ("configuration", "StackName") or ("outputArtifacts",)
Problem = tuple[Where, str]


@dataclass(frozen=True)
class ArtifactPath:
    """A file inside an input artifact, written `ArtifactName::path/in/zip`."""

    artifact: str
    path: str

    def __str__(self) -> str:
        return f"{self.artifact}{SEPARATOR}{self.path}"


@dataclass(frozen=True)
class GetParam:
    """`{"Fn::GetParam": [artifact, file, key]}`: the value of a key in a JSON file inside an input artifact."""

    artifact: str
    file: str
    key: str


@dataclass(frozen=True)
class GetArtifactAtt:
    """`{"Fn::GetArtifactAtt": [artifact, attribute]}`: where an input artifact is stored."""

    artifact: str
    attribute: str


ParameterValue = str | GetParam | GetArtifactAtt


@dataclass(frozen=True)
class StackConfiguration:
    mode: str
    stack_name: str
    change_set_name: str | None = None
    template: ArtifactPath | None = None
    template_configuration: ArtifactPath | None = None
    role_arn: str | None = None
    capabilities: tuple[str, ...] = ()
    parameter_overrides: dict[str, ParameterValue] = field(default_factory=dict)
    output_file_name: str | None = None

    @property
    def outputs_variables(self) -> bool:
        """Whether the stack's outputs become the action's output variables (only modes that change the stack)."""
        return self.mode in STACK_CHANGING_MODES


def configuration_problems(
    configuration: Mapping[str, str],
    input_artifacts: Sequence[str],
    output_artifacts: Sequence[str],
    *,
    resolved: bool = True,
) -> list[Problem]:
    """Every problem of the configuration; with `resolved=False`, values holding references are not judged."""

    def literal(key: str) -> str | None:
        value = configuration.get(key)
        return None if value is None or (not resolved and references(value)) else value

    problems: list[Problem] = []
    mode = literal("ActionMode")
    if mode is not None and mode not in ACTION_MODES:
        problems.append((("configuration", "ActionMode"), f"must be one of {', '.join(ACTION_MODES)}, not {mode!r}"))
    problems += _required_by_mode(configuration, mode)
    problems += _named("StackName", literal("StackName"), _STACK_NAME)
    problems += _named("ChangeSetName", literal("ChangeSetName"), _CHANGE_SET_NAME)
    for key in ("TemplatePath", "TemplateConfiguration"):
        text = literal(key)
        if text is not None:
            problems += [(("configuration", key), message) for message in _artifact_path(text, input_artifacts)[1]]
    overrides = literal("ParameterOverrides")
    if overrides is not None:
        messages = _parameter_overrides(overrides, input_artifacts)[1]
        problems += [(("configuration", "ParameterOverrides"), message) for message in messages]
    problems += _capability_problems(literal("Capabilities"))
    role = literal("RoleArn")
    if role is not None and not _ROLE_ARN.fullmatch(role):
        problems.append(
            (("configuration", "RoleArn"), f"{role!r} is not an IAM role ARN (arn:aws:iam::<account>:role/…)")
        )
    problems += _output_problems(configuration, literal("OutputFileName"), output_artifacts)
    return problems


def stack_configuration(
    configuration: Mapping[str, str], input_artifacts: Sequence[str], output_artifacts: Sequence[str]
) -> StackConfiguration:
    """The resolved configuration, parsed; raises ValueError naming every problem."""
    problems = configuration_problems(configuration, input_artifacts, output_artifacts)
    if problems:
        raise ValueError("; ".join(f"{'.'.join(where)}: {message}" for where, message in problems))
    mode = configuration["ActionMode"]
    templates = mode in TEMPLATE_MODES
    return StackConfiguration(
        mode=mode,
        stack_name=configuration["StackName"],
        change_set_name=configuration.get("ChangeSetName") if mode in CHANGE_SET_MODES else None,
        template=_artifact_path(configuration["TemplatePath"], input_artifacts)[0] if templates else None,
        template_configuration=(
            _artifact_path(configuration["TemplateConfiguration"], input_artifacts)[0]
            if templates and configuration.get("TemplateConfiguration")
            else None
        ),
        role_arn=configuration.get("RoleArn") or None,
        capabilities=_capabilities(configuration.get("Capabilities", "")),
        parameter_overrides=_parameter_overrides(configuration.get("ParameterOverrides", "{}"), input_artifacts)[0],
        output_file_name=configuration.get("OutputFileName") or None,
    )


def _required_by_mode(configuration: Mapping[str, str], mode: str | None) -> list[Problem]:
    problems: list[Problem] = []
    if mode in TEMPLATE_MODES and not configuration.get("TemplatePath"):
        problems.append((("configuration",), f"ActionMode {mode} needs TemplatePath (ArtifactName::path/in/zip)"))
    if mode in CHANGE_SET_MODES and not configuration.get("ChangeSetName"):
        problems.append((("configuration",), f"ActionMode {mode} needs ChangeSetName"))
    return problems


def _named(key: str, value: str | None, pattern: re.Pattern[str]) -> list[Problem]:
    if value is None or pattern.fullmatch(value):
        return []
    return [
        (
            ("configuration", key),
            f"{value!r} is not a valid name: letters, digits and hyphens, starting with a letter, at most 128",
        )
    ]


def _artifact_path(text: str, input_artifacts: Sequence[str]) -> tuple[ArtifactPath, list[str]]:
    artifact, separator, path = text.partition(SEPARATOR)
    if not separator or not artifact or not path:
        return ArtifactPath(artifact, path), [f"{text!r} is not of the form ArtifactName::path/in/zip"]
    problems = _file_name_problems(path)
    if artifact not in input_artifacts:
        problems.append(_not_an_input(artifact, input_artifacts))
    return ArtifactPath(artifact, path), problems


def _file_name_problems(path: str) -> list[str]:
    parts = PurePosixPath(path).parts
    if not path.strip() or path.startswith("/") or path.endswith("/") or ".." in parts:
        return [f"{path!r} must be a relative path to a file, inside the artifact"]
    return []


def _not_an_input(artifact: str, input_artifacts: Sequence[str]) -> str:
    inputs = ", ".join(input_artifacts) or "none"
    return f"artifact {artifact!r} is not an input artifact of this action (its inputs: {inputs})"


def _parameter_overrides(text: str, input_artifacts: Sequence[str]) -> tuple[dict[str, ParameterValue], list[str]]:
    size = len(text.encode())
    if size > MAX_PARAMETER_OVERRIDES_BYTES:
        return {}, [f"is {size} bytes; CloudFormation actions take at most {MAX_PARAMETER_OVERRIDES_BYTES}"]
    try:
        data = json.loads(text)
    except ValueError as exc:
        return {}, [f"is not valid JSON: {exc}"]
    if not isinstance(data, dict):
        return {}, ['must be a JSON object of parameter names and values, like {"Environment": "prod"}']
    values: dict[str, ParameterValue] = {}
    problems: list[str] = []
    for name, value in data.items():
        parsed, problem = parameter_value(value, input_artifacts)
        if problem:
            problems.append(f"parameter {name!r}: {problem}")
        elif parsed is not None:
            values[name] = parsed
    return values, problems


def parameter_value(value: Any, input_artifacts: Sequence[str] | None = None) -> tuple[ParameterValue | None, str]:
    """A parameter's value as CloudFormation takes it (text), or a parameter override function; else a problem."""
    if isinstance(value, bool):
        return ("true" if value else "false"), ""
    if isinstance(value, str | int | float):
        return str(value), ""
    if isinstance(value, dict) and len(value) == 1 and input_artifacts is not None:
        return _function(*next(iter(value.items())), input_artifacts)
    allowed = "a string, a number, a boolean"
    if input_artifacts is not None:
        allowed += ", Fn::GetParam or Fn::GetArtifactAtt"
    return None, f"must be {allowed}, not {json.dumps(value)}"


def _function(name: str, arguments: Any, input_artifacts: Sequence[str]) -> tuple[ParameterValue | None, str]:
    texts = isinstance(arguments, list) and all(isinstance(a, str) and a for a in arguments)
    if name == "Fn::GetParam":
        if not texts or len(arguments) != 3:
            return None, 'Fn::GetParam takes ["ArtifactName", "file.json", "key"]'
        function: ParameterValue = GetParam(*arguments)
    elif name == "Fn::GetArtifactAtt":
        if not texts or len(arguments) != 2:
            return None, 'Fn::GetArtifactAtt takes ["ArtifactName", "BucketName" | "ObjectKey" | "URL"]'
        if arguments[1] not in ARTIFACT_ATTRIBUTES:
            return None, f"Fn::GetArtifactAtt has no attribute {arguments[1]!r} (BucketName, ObjectKey, URL)"
        function = GetArtifactAtt(*arguments)
    else:
        return None, f"unknown function {name!r} (parameter overrides take Fn::GetParam and Fn::GetArtifactAtt)"
    if arguments[0] not in input_artifacts:
        return None, f"{name}: {_not_an_input(arguments[0], input_artifacts)}"
    if isinstance(function, GetParam) and _file_name_problems(function.file):
        return None, f"Fn::GetParam: {_file_name_problems(function.file)[0]}"
    return function, ""


def _capabilities(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split(",") if item.strip())


def _capability_problems(text: str | None) -> list[Problem]:
    if text is None:
        return []
    items = [item.strip() for item in text.split(",")]
    unknown = [item for item in items if item not in CAPABILITIES]
    if not unknown:
        return []
    known = ", ".join(sorted(CAPABILITIES))
    return [(("configuration", "Capabilities"), f"{', '.join(map(repr, unknown))}: capabilities are {known}")]


def _output_problems(
    configuration: Mapping[str, str], file_name: str | None, output_artifacts: Sequence[str]
) -> list[Problem]:
    problems: list[Problem] = []
    if file_name is not None:
        problems += [(("configuration", "OutputFileName"), message) for message in _file_name_problems(file_name)]
        if not output_artifacts:
            problems.append((("configuration", "OutputFileName"), "needs an output artifact to write the file into"))
    if output_artifacts and "OutputFileName" not in configuration:
        problems.append(
            (("outputArtifacts",), "a CloudFormation action writes its output artifact only when OutputFileName is set")
        )
    return problems
