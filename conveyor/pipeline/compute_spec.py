"""Compute actions (provider `Commands`, V2 pipelines only): the fields only they take, checked. Pure.

A Commands action carries its work at the action level, not in its configuration: `commands` (1 to 50 single-line
shell commands), `outputVariables` (1 to 15 names of shell variables to export), `environmentVariables` (1 to 10
`{name, value, type}` with type PLAINTEXT or SECRETS_MANAGER) and `files` globs on its one output artifact. Any
other action carrying one of them is an error at that field, as is a Commands action in a V1 pipeline (a definition
that names no `pipelineType` becomes V2 when it holds one, as AWS does for every V2-only field).

Configuration: `ComputeType` (SMALL, MEDIUM or LARGE) picks the build queue; `EnvironmentType` must be
LINUX_CONTAINER; `VpcId`, `Subnets` and `SecurityGroupIds` are accepted and change nothing (commands run on the
worker's network).
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import PurePosixPath
from typing import Any

from conveyor.specfile import Path as SpecPath
from conveyor.specfile import ProblemList

COMPUTE_FIELDS = ("commands", "outputVariables", "environmentVariables")
VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")  # the build reads exported variables from its shell
LINUX = "LINUX_CONTAINER"
WINDOWS = "WINDOWS_SERVER_2022_CONTAINER"
COMPUTE_TYPES = ("BUILD_GENERAL1_SMALL", "BUILD_GENERAL1_MEDIUM", "BUILD_GENERAL1_LARGE")


def is_commands(action: dict[str, Any]) -> bool:
    type_id = action["actionTypeId"]
    return bool(type_id["category"] == "Compute" and type_id["provider"] == "Commands")


def holds_commands_actions(data: dict[str, Any]) -> bool:
    return any(is_commands(action) for stage in data["stages"] for action in stage["actions"])


def check_pipeline_type(data: dict[str, Any], prefix: SpecPath, problems: ProblemList) -> None:
    """Commands actions run in V2 pipelines only."""
    if data["pipelineType"] != "V1":
        return
    for s_index, stage in enumerate(data["stages"]):
        for a_index, action in enumerate(stage["actions"]):
            if is_commands(action):
                path = (*prefix, "stages", s_index, "actions", a_index, "actionTypeId", "provider")
                problems.add(path, "Commands actions need pipelineType V2")


def check_action_fields(action: dict[str, Any], path: SpecPath, problems: ProblemList) -> None:
    """Every problem with the action-level compute fields of one action, Commands or not."""
    if not is_commands(action):
        _refuse_compute_fields(action, path, problems)
        return
    if "commands" not in action:
        problems.add(path, "a Commands action needs 'commands': 1 to 50 shell commands")
    for index, command in enumerate(action.get("commands", [])):
        if "\n" in command or "\r" in command:
            problems.add(
                (*path, "commands", index),
                "multi-line commands are not supported: give each line as a command of its own",
            )
        elif not command.strip():
            problems.add((*path, "commands", index), "a command must not be blank")
    _check_output_variables(action.get("outputVariables", []), (*path, "outputVariables"), problems)
    _check_environment_variables(action.get("environmentVariables", []), (*path, "environmentVariables"), problems)
    for a_index, artifact in enumerate(action.get("outputArtifacts", [])):
        for f_index, pattern in enumerate(artifact.get("files", [])):
            if PurePosixPath(pattern).is_absolute() or ".." in PurePosixPath(pattern).parts:
                problems.add(
                    (*path, "outputArtifacts", a_index, "files", f_index),
                    f"{pattern!r} must stay inside the working directory (no absolute path, no '..')",
                )


def check_configuration(config: dict[str, str], path: SpecPath, problems: ProblemList) -> None:
    environment = config.get("EnvironmentType", LINUX)
    if environment == WINDOWS:
        problems.add((*path, "EnvironmentType"), f"Conveyor runs commands on Linux workers only ({LINUX})")
    elif environment != LINUX:
        problems.add((*path, "EnvironmentType"), f"must be {LINUX} or {WINDOWS}, not {environment!r}")
    compute = config.get("ComputeType")
    if compute is not None and compute not in COMPUTE_TYPES:
        problems.add((*path, "ComputeType"), f"must be one of {', '.join(COMPUTE_TYPES)}, not {compute!r}")


def _refuse_compute_fields(action: dict[str, Any], path: SpecPath, problems: ProblemList) -> None:
    for key in COMPUTE_FIELDS:
        if key in action:
            problems.add((*path, key), f"'{key}' belongs to Commands actions (category Compute) only")
    for index, artifact in enumerate(action.get("outputArtifacts", [])):
        if "files" in artifact:
            problems.add(
                (*path, "outputArtifacts", index, "files"),
                "'files' belongs to Commands actions (category Compute) only",
            )


def _check_output_variables(names: list[str], path: SpecPath, problems: ProblemList) -> None:
    counts = Counter(names)
    for index, name in enumerate(names):
        if not VARIABLE_NAME.match(name):
            problems.add((*path, index), f"{name!r} is not a shell variable name (letters, digits, _)")
        elif counts[name] > 1 and names.index(name) != index:
            problems.add((*path, index), f"{name!r} is listed twice")


def _check_environment_variables(variables: list[dict[str, str]], path: SpecPath, problems: ProblemList) -> None:
    seen: set[str] = set()
    for index, variable in enumerate(variables):
        name = variable["name"]
        if name.startswith("CODEBUILD_"):
            problems.add((*path, index, "name"), "names starting CODEBUILD_ are reserved for the build's own values")
        elif name[0].isdigit():
            problems.add((*path, index, "name"), f"{name!r} is not a shell variable name: it starts with a digit")
        elif name in seen:
            problems.add((*path, index, "name"), f"{name!r} is given twice")
        seen.add(name)
