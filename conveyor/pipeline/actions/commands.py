"""Commands actions (Compute, V2): the action's shell commands run as a build over its input artifacts.

The commands become the `build` phase of an inline buildspec and run in one shell, so `export` and `cd` carry over
from one to the next. The first input artifact is the working directory (`CODEBUILD_SRC_DIR`); the others lie
beside it as secondary sources (`CODEBUILD_SRC_DIR_<name>`). `outputVariables` become the buildspec's
`exported-variables`, and the output artifact's `files` its `artifacts.files` (every file, `**/*`, when it names
none). References (`#{namespace.key}`) in commands and in environment variable values are resolved as the action
starts. A failing command fails the build, and the action's summary names the command and its exit status.

The build belongs to the project `commands-<pipeline>-<stage>-<action>` (characters a project name cannot hold
become `-`; a name past 255 characters is cut and ends in a hash of the whole), registered on first use with
AWS's Commands timeout of 55 minutes and otherwise the defaults. `conveyor projects put` changes it like any other
project (compute type, variables, cache, timeouts). The action's `ComputeType` wins over the project's, and its
`environmentVariables` over the project's variables: PLAINTEXT ones as values, SECRETS_MANAGER ones read like a
project's secrets and masked in the log.

A buildspec may not export names starting `AWS_`, but a Commands action may (AWS's own example exports
`AWS_DEFAULT_REGION`): such a name is copied to `CONVEYOR_EXPORT_<name>` in the phase's `finally`, exported under
that alias, and reported under its own name.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import yaml
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from conveyor.build.service import submit_build
from conveyor.db.models import Build, BuildProject
from conveyor.pipeline.actions.base import ActionConfigurationError, ActionOutcome, ActionStart
from conveyor.pipeline.actions.codebuild import build_inputs, queue_build, webhook_variables
from conveyor.pipeline.actions.codebuild import outcome_of as build_outcome
from conveyor.pipeline.spec import ActionDeclaration
from conveyor.pipeline.variables import UnresolvedReference, resolve_text

TIMEOUT_MINUTES = 55  # AWS's timeout for the builds of Commands actions
PROJECT_PREFIX = "commands-"
EXPORT_ALIAS = "CONVEYOR_EXPORT_"
EVERY_FILE = "**/*"
_MAX_PROJECT_NAME = 255
_NOT_IN_PROJECT_NAME = re.compile(r"[^A-Za-z0-9_-]")


def start(context: ActionStart) -> None:
    declaration = context.declaration
    try:
        commands = [
            resolve_text(command, context.variables, f"commands[{index}]")
            for index, command in enumerate(declaration.commands)
        ]
        variables = [
            {**v, "value": resolve_text(v["value"], context.variables, f"environmentVariables[{index}] {v['name']}")}
            for index, v in enumerate(declaration.environment_variables)
        ]
    except UnresolvedReference as exc:
        raise ActionConfigurationError(str(exc)) from None
    primary = declaration.input_artifacts[0]
    project = project_name(context.pipeline_name, context.action.stage_name, declaration.name)
    _register_project(
        context.session, project, f"Commands action {declaration.name} of pipeline {context.pipeline_name}"
    )
    environment = {
        **webhook_variables(context.input_artifacts[primary]),
        **{v["name"]: v["value"] for v in variables if v.get("type", "PLAINTEXT") == "PLAINTEXT"},
    }
    build = submit_build(
        context.session,
        context.settings,
        project,
        initiator=f"codepipeline/{context.pipeline_name}",
        inputs=build_inputs(context, primary),
        action_execution_id=context.action.id,
        environment=environment,
        buildspec=commands_buildspec(commands, declaration.output_variables, _output_files(declaration)),
        compute_type=context.configuration.get("ComputeType"),
        secret_variables=[v for v in variables if v.get("type") == "SECRETS_MANAGER"],
    )
    queue_build(context, build)


def outcome_of(build: Build, declaration: ActionDeclaration) -> ActionOutcome:
    """What a finished build reports to its Commands action: CodeBuild's outcome, aliases back to their names."""
    outcome = build_outcome(build, declaration.output_artifacts)
    outcome.output_variables = {name.removeprefix(EXPORT_ALIAS): v for name, v in outcome.output_variables.items()}
    return outcome


def project_name(pipeline: str, stage: str, action: str) -> str:
    """The build project of a Commands action: `commands-<pipeline>-<stage>-<action>`, as a project may be named."""
    name = _NOT_IN_PROJECT_NAME.sub("-", f"{PROJECT_PREFIX}{pipeline}-{stage}-{action}")
    if len(name) <= _MAX_PROJECT_NAME:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:12]
    return f"{name[: _MAX_PROJECT_NAME - len(digest) - 1]}-{digest}"


def commands_buildspec(commands: Sequence[str], output_variables: Sequence[str], files: Sequence[str] | None) -> str:
    """The inline buildspec that runs a Commands action: its commands, exports and artifact (None: no artifact)."""
    aliased = [name for name in output_variables if name.startswith("AWS_")]
    build: dict[str, list[str]] = {"commands": list(commands)}
    if aliased:
        build["finally"] = [f'{EXPORT_ALIAS}{name}="${{{name}-}}"' for name in aliased]
    document: dict[str, object] = {"version": 0.2}
    if output_variables:
        exported = [EXPORT_ALIAS + name if name in aliased else name for name in output_variables]
        document["env"] = {"exported-variables": exported}
    document["phases"] = {"build": build}
    if files is not None:
        document["artifacts"] = {"files": list(files) or [EVERY_FILE]}
    return yaml.safe_dump(document, sort_keys=False, width=1 << 16)


def _output_files(declaration: ActionDeclaration) -> tuple[str, ...] | None:
    if not declaration.output_artifacts:
        return None
    return declaration.output_files.get(declaration.output_artifacts[0], ())


def _register_project(session: Session, name: str, description: str) -> None:
    """Register the action's project with the Commands timeout, unless it exists (a person may have changed it)."""
    if session.scalars(select(BuildProject.id).where(BuildProject.name == name)).first() is not None:
        return
    try:
        with session.begin_nested():
            session.add(BuildProject(name=name, description=description, timeout_minutes=TIMEOUT_MINUTES))
    except IntegrityError:
        pass  # another transaction registered it first
