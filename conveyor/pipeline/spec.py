"""Pipeline definitions in CodePipeline's structure: parse, validate completely, and describe.

A file may hold `{"pipeline": {...}}` (what create-pipeline takes and get-pipeline prints; `metadata` is ignored)
or the pipeline object itself, as YAML or JSON. Validation reports every problem at once with its path and line:
the JSON Schema of the structure (`pipeline.schema.json`), and the rules between fields (§3.1 of the AWS semantics:
stage 1 holds only sources, artifacts flow forward, names are unique, providers are known). The rules run beside
the schema's problems of value (a name off its pattern, a run order out of range, an unknown key); a missing key or
a value of the wrong type stops the report at the schema (see `conveyor.schema_problems`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from conveyor.build.project import variable_overrides
from conveyor.pipeline import compute_spec, s3_configuration, stack_config
from conveyor.pipeline.artifact_rules import check_artifacts_and_namespaces
from conveyor.pipeline.catalog import (
    ARTIFACT_FORMATS,
    GIT_SOURCE_PROVIDERS,
    ProviderSpec,
    polls_for_changes,
    provider_spec,
)
from conveyor.pipeline.s3_configuration import ConfigurationProblem
from conveyor.pipeline.stage_rules import StageRules, check_stage_rules, stage_rules
from conveyor.pipeline.variables import check_references, references
from conveyor.schema_problems import check_beside, load_validator, schema_findings
from conveyor.specfile import Document, ProblemList, load_document
from conveyor.specfile import Path as SpecPath

SCHEMA_PATH = Path(__file__).with_name("pipeline.schema.json")
V2_ONLY_FIELDS = ("variables", "triggers")
MAX_ACTIONS = 500  # CodePipeline's quota of actions in one pipeline
_REPOSITORY_ID = re.compile(r"[^/\s]+(?:/[^/\s]+)+")  # owner/name, or group/…/name


@dataclass(frozen=True)
class ActionTypeId:
    category: str
    owner: str
    provider: str
    version: str


@dataclass(frozen=True)
class ActionDeclaration:
    name: str
    type_id: ActionTypeId
    run_order: int
    configuration: dict[str, str]
    input_artifacts: tuple[str, ...]
    output_artifacts: tuple[str, ...]
    namespace: str | None = None
    region: str | None = None
    role_arn: str | None = None
    timeout_in_minutes: int | None = None  # Approval actions only
    # Commands actions only: their shell commands, the variables they export, their `{name, value, type}`
    # environment variables, and the `files` globs of each output artifact
    commands: tuple[str, ...] = ()
    output_variables: tuple[str, ...] = ()
    environment_variables: tuple[dict[str, str], ...] = ()
    output_files: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def is_source(self) -> bool:
        return self.type_id.category == "Source"


@dataclass(frozen=True)
class StageDeclaration:
    name: str
    actions: tuple[ActionDeclaration, ...]
    rules: StageRules = field(default_factory=StageRules)

    def run_orders(self) -> list[int]:
        return sorted({a.run_order for a in self.actions})

    def action(self, name: str) -> ActionDeclaration:
        return next(a for a in self.actions if a.name == name)


@dataclass(frozen=True)
class PipelineDefinition:
    name: str
    pipeline_type: str
    execution_mode: str
    stages: tuple[StageDeclaration, ...]
    document: dict[str, Any]  # the normalised pipeline object, as stored and served back

    def stage(self, name: str) -> StageDeclaration:
        return next(s for s in self.stages if s.name == name)

    def source_actions(self) -> tuple[ActionDeclaration, ...]:
        return self.stages[0].actions

    def polled_source_actions(self) -> tuple[ActionDeclaration, ...]:
        """The source actions that poll for changes (`PollForSourceChanges`; see `catalog.polls_for_changes`)."""
        return tuple(a for a in self.source_actions() if polls_for_changes(a.type_id.provider, a.configuration))

    def triggers(self) -> list[dict[str, Any]]:
        return list(self.document.get("triggers", []))


@cache
def _validator() -> Draft202012Validator:
    return load_validator(SCHEMA_PATH)


def parse_pipeline(text: str, source: str = "pipeline") -> PipelineDefinition:
    """Parse and validate a definition, raising SpecError with every problem found."""
    return validate_document(load_document(text, source))


def validate_document(document: Document) -> PipelineDefinition:
    problems = ProblemList(document)
    data, prefix = _unwrap(document, problems)
    problems.raise_if_any()
    findings = schema_findings(_validator(), data)
    for path, message in findings.problems:
        problems.add((*prefix, *path), message)
    if not findings.shape_holds:
        problems.raise_if_any()
    document_data = _normalise(data)
    check_beside(problems, lambda found: _check_rules(document_data, prefix, found))
    problems.raise_if_any()
    return from_document(document_data)


def from_document(data: dict[str, Any]) -> PipelineDefinition:
    """Build the typed definition from a normalised, already valid pipeline object (as stored)."""
    stages = tuple(
        StageDeclaration(stage["name"], tuple(_action(a) for a in stage["actions"]), stage_rules(stage))
        for stage in data["stages"]
    )
    return PipelineDefinition(data["name"], data["pipelineType"], data["executionMode"], stages, data)


def _action(data: dict[str, Any]) -> ActionDeclaration:
    type_id = data["actionTypeId"]
    return ActionDeclaration(
        name=data["name"],
        type_id=ActionTypeId(type_id["category"], type_id["owner"], type_id["provider"], type_id["version"]),
        run_order=data["runOrder"],
        configuration=dict(data.get("configuration", {})),
        input_artifacts=tuple(a["name"] for a in data.get("inputArtifacts", [])),
        output_artifacts=tuple(a["name"] for a in data.get("outputArtifacts", [])),
        namespace=data.get("namespace"),
        region=data.get("region"),
        role_arn=data.get("roleArn"),
        timeout_in_minutes=data.get("timeoutInMinutes"),
        commands=tuple(data.get("commands", [])),
        output_variables=tuple(data.get("outputVariables", [])),
        environment_variables=tuple(dict(v) for v in data.get("environmentVariables", [])),
        output_files={a["name"]: tuple(a["files"]) for a in data.get("outputArtifacts", []) if "files" in a},
    )


# What get-pipeline shows beside the declaration, read back without complaint (a definition saved from `conveyor
# pipeline get` and given to `pipeline update`): CodePipeline's metadata, and the stages' disabled transitions,
# which only enable-/disable-stage-transition change.
SHOWN_BESIDE_THE_PIPELINE = frozenset({"pipeline", "metadata", "disabledTransitions"})


def _unwrap(document: Document, problems: ProblemList) -> tuple[Any, SpecPath]:
    data = document.data
    if isinstance(data, dict) and "pipeline" in data:
        extra = sorted(set(data) - SHOWN_BESIDE_THE_PIPELINE, key=str)  # YAML keys need not be strings
        for key in extra:
            problems.add((str(key),), "unknown top-level key (expected only 'pipeline' and 'metadata')")
        return data["pipeline"], ("pipeline",)
    if not isinstance(data, dict):
        problems.add((), "a pipeline definition must be a mapping with a 'pipeline' key or the pipeline itself")
    return data, ()


def _normalise(data: dict[str, Any]) -> dict[str, Any]:
    """Fill the defaults AWS fills, and turn YAML scalars in configurations into the strings AWS stores."""
    out: dict[str, Any] = json.loads(json.dumps(data))
    out.pop("version", None)  # server-managed
    if "pipelineType" not in out:
        v2_features = (
            any(k in out for k in V2_ONLY_FIELDS)
            or out.get("executionMode") in ("QUEUED", "PARALLEL")
            or compute_spec.holds_commands_actions(out)
        )
        out["pipelineType"] = "V2" if v2_features else "V1"
    out.setdefault("executionMode", "SUPERSEDED")
    for stage in out["stages"]:
        for action in stage["actions"]:
            action.setdefault("runOrder", 1)
            config = action.get("configuration", {})
            action["configuration"] = {k: _config_string(v) for k, v in config.items()}
    return out


def _config_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _check_rules(data: dict[str, Any], prefix: SpecPath, problems: ProblemList) -> None:
    _check_pipeline_type(data, prefix, problems)
    _check_stages(data, prefix, problems)
    check_artifacts_and_namespaces(data, prefix, problems)
    _check_triggers(data, prefix, problems)
    check_stage_rules(data, prefix, problems)
    check_references(data, prefix, problems)


def _check_pipeline_type(data: dict[str, Any], prefix: SpecPath, problems: ProblemList) -> None:
    if data["pipelineType"] == "V1":
        if data["executionMode"] != "SUPERSEDED":
            problems.add((*prefix, "executionMode"), f"{data['executionMode']} needs pipelineType V2")
        for key in V2_ONLY_FIELDS:
            if key in data:
                problems.add((*prefix, key), f"'{key}' needs pipelineType V2")
    compute_spec.check_pipeline_type(data, prefix, problems)
    if "artifactStore" in data and "artifactStores" in data:
        problems.add((*prefix, "artifactStores"), "give either artifactStore or artifactStores, not both")


def _check_stages(data: dict[str, Any], prefix: SpecPath, problems: ProblemList) -> None:
    stage_names: set[str] = set()
    non_source = 0
    for s_index, stage in enumerate(data["stages"]):
        stage_path = (*prefix, "stages", s_index)
        if stage["name"] in stage_names:
            problems.add((*stage_path, "name"), f"duplicate stage name {stage['name']!r}")
        stage_names.add(stage["name"])
        action_names: set[str] = set()
        sources = 0
        for a_index, action in enumerate(stage["actions"]):
            action_path = (*stage_path, "actions", a_index)
            if action["name"] in action_names:
                problems.add((*action_path, "name"), f"duplicate action name {action['name']!r} in this stage")
            action_names.add(action["name"])
            is_source = action["actionTypeId"]["category"] == "Source"
            sources += is_source
            non_source += not is_source
            if s_index == 0 and not is_source:
                problems.add((*action_path, "actionTypeId", "category"), "the first stage may hold only Source actions")
            if s_index > 0 and is_source:
                problems.add(
                    (*action_path, "actionTypeId", "category"), "Source actions belong in the first stage only"
                )
            _check_action(action, action_path, problems)
        if s_index == 0 and sources == 0:
            problems.add((*stage_path, "actions"), "the first stage must hold at least one Source action")
    if non_source == 0:
        problems.add((*prefix, "stages"), "a pipeline needs at least one action that is not a Source action")
    if sum(len(stage["actions"]) for stage in data["stages"]) > MAX_ACTIONS:
        problems.add((*prefix, "stages"), f"a pipeline holds at most {MAX_ACTIONS} actions")


def _check_action(action: dict[str, Any], path: SpecPath, problems: ProblemList) -> None:
    type_id = action["actionTypeId"]
    spec = provider_spec(type_id["category"], type_id["provider"])
    if spec is None:
        problems.add(
            (*path, "actionTypeId"),
            f"Conveyor does not run {type_id['category']} actions of provider {type_id['provider']!r} yet",
        )
        return
    if type_id["owner"] not in spec.owners:
        problems.add(
            (*path, "actionTypeId", "owner"), f"provider {spec.provider} has owner {'/'.join(sorted(spec.owners))}"
        )
    _check_counts(action, spec, path, problems)
    compute_spec.check_action_fields(action, path, problems)
    _check_configuration(action.get("configuration", {}), spec, (*path, "configuration"), problems)
    if spec.provider == "CloudFormation":
        _check_cloudformation(action, path, problems)
    if "timeoutInMinutes" in action and type_id["category"] != "Approval":
        problems.add((*path, "timeoutInMinutes"), "timeoutInMinutes may be set only on manual approval actions")
    if "region" in action and spec.is_source:  # (the only actions of ThirdParty or Custom owners Conveyor runs)
        problems.add((*path, "region"), "Source actions run in the pipeline's region: they cannot name another")


def _check_counts(action: dict[str, Any], spec: ProviderSpec, path: SpecPath, problems: ProblemList) -> None:
    for key, (low, high) in (("inputArtifacts", spec.inputs), ("outputArtifacts", spec.outputs)):
        count = len(action.get(key, []))
        if not low <= count <= high:
            wanted = f"exactly {low}" if low == high else f"{low} to {high}"
            problems.add((*path, key), f"{spec.category} provider {spec.provider} takes {wanted} {key}, not {count}")


def _check_configuration(config: dict[str, str], spec: ProviderSpec, path: SpecPath, problems: ProblemList) -> None:
    for key in sorted(spec.required):
        alternatives = spec.alternatives.get(key, ())
        if key not in config and not (alternatives and all(a in config for a in alternatives)):
            also = f" (or {' + '.join(alternatives)})" if alternatives else ""
            problems.add(path, f"missing required configuration key {key!r}{also}")
    for key in sorted(set(config) - spec.required - spec.optional):
        problems.add((*path, key), f"unknown configuration key for provider {spec.provider}")
    if config.get("OutputArtifactFormat", "CODE_ZIP") not in ARTIFACT_FORMATS:
        problems.add((*path, "OutputArtifactFormat"), f"must be {' or '.join(ARTIFACT_FORMATS)}")
    if spec.provider == "CodeBuild":
        _check_codebuild(config, path, problems)
    elif (spec.category, spec.provider) == ("Source", "S3"):
        _add_each(s3_configuration.source_problems(config), path, problems)
    elif spec.is_source and spec.provider in GIT_SOURCE_PROVIDERS:
        _check_git_source(config, path, problems)
    elif (spec.category, spec.provider) == ("Deploy", "S3"):
        unresolved = {key for key, value in config.items() if references(value)}  # judged when the action starts
        _add_each(s3_configuration.deploy_problems(config, unresolved), path, problems)
    elif spec.provider == "Commands":
        compute_spec.check_configuration(config, path, problems)


def _check_git_source(config: dict[str, str], path: SpecPath, problems: ProblemList) -> None:
    for key in ("PollForSourceChanges", "DetectChanges"):
        if key in config and config[key].strip().lower() not in ("true", "false"):
            problems.add((*path, key), f"must be true or false, not {config[key]!r}")
    repository = config.get("FullRepositoryId")
    if repository is not None and not references(repository) and not _REPOSITORY_ID.fullmatch(repository):
        problems.add(
            (*path, "FullRepositoryId"),
            f"{repository!r} is not an owner and a repository name, such as 'acme/app' (a GitLab group's project may "
            "have more parts: 'group/subgroup/app')",
        )


def _add_each(found: list[ConfigurationProblem], path: SpecPath, problems: ProblemList) -> None:
    for key, message in found:
        problems.add((*path, key) if key else path, message)


def _check_codebuild(config: dict[str, str], path: SpecPath, problems: ProblemList) -> None:
    if "EnvironmentVariables" in config:
        try:
            variable_overrides(config["EnvironmentVariables"])
        except ValueError as exc:
            problems.add((*path, "EnvironmentVariables"), str(exc))
    for key in ("BatchEnabled", "CombineArtifacts"):
        if key in config and config[key].lower() not in ("true", "false"):
            problems.add((*path, key), "must be true or false")


def _check_cloudformation(action: dict[str, Any], path: SpecPath, problems: ProblemList) -> None:
    inputs, outputs = ([a["name"] for a in action.get(key, [])] for key in ("inputArtifacts", "outputArtifacts"))
    found = stack_config.configuration_problems(action.get("configuration", {}), inputs, outputs, resolved=False)
    for where, message in found:
        problems.add((*path, *where), message)


def _check_triggers(data: dict[str, Any], prefix: SpecPath, problems: ProblemList) -> None:
    sources = {
        a["name"]: a
        for stage in data["stages"][:1]
        for a in stage["actions"]
        if a["actionTypeId"]["category"] == "Source"
    }
    seen: set[str] = set()
    for t_index, trigger in enumerate(data.get("triggers", [])):
        path = (*prefix, "triggers", t_index, "gitConfiguration")
        config = trigger["gitConfiguration"]
        name = config["sourceActionName"]
        if name not in sources:
            problems.add((*path, "sourceActionName"), f"no source action named {name!r} in the first stage")
        if name in seen:
            problems.add((*path, "sourceActionName"), f"source action {name!r} already has a trigger")
        seen.add(name)
        for f_index, push in enumerate(config.get("push", [])):
            _check_push_filter(push, (*path, "push", f_index), problems)
        for f_index, pull_request in enumerate(config.get("pullRequest", [])):
            if "branches" not in pull_request:
                problems.add(
                    (*path, "pullRequest", f_index),
                    "a pull-request filter needs branches (globs matching the pull request's base branch)",
                )


def _check_push_filter(push: dict[str, Any], path: SpecPath, problems: ProblemList) -> None:
    if "tags" in push and "branches" in push:
        problems.add(path, "a push filter takes either tags or branches, not both")
    if "tags" not in push and "branches" not in push:
        problems.add(path, "a push filter needs tags or branches")
    if "filePaths" in push and "tags" in push:
        problems.add((*path, "filePaths"), "file path filters go with branches, not with tags")
