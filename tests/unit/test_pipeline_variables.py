"""`#{namespace.key}` references: checked when a definition is saved, resolved when an action starts."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conveyor.pipeline.spec import parse_pipeline
from conveyor.pipeline.variables import (
    Reference,
    UnresolvedReference,
    execution_scope,
    pipeline_variable_values,
    references,
    resolve_configuration,
)
from tests.unit.test_pipeline_spec import as_yaml, build, line_of, pipeline, problems, source, stage

SCOPE = execution_scope(
    "exec-1",
    "demo",
    {"DEPLOY_ENV": "staging"},
    {"SourceVariables": {"CommitId": "abc123", "CommitMessage": 'fix "quoted" things\nand more'}},
)


def test_references_are_found_with_namespace_and_key() -> None:
    found = references("#{SourceVariables.CommitId}-#{variables.DEPLOY_ENV} #{not a reference} #{nodot}")
    assert found == [Reference("SourceVariables", "CommitId"), Reference("variables", "DEPLOY_ENV")]
    assert str(found[0]) == "#{SourceVariables.CommitId}"


def test_every_namespace_resolves_in_every_value() -> None:
    configuration = {
        "ProjectName": "app-#{variables.DEPLOY_ENV}",
        "PrimarySource": "#{codepipeline.PipelineExecutionId}/#{codepipeline.PipelineName}",
        "Plain": "no references at all",
    }
    assert resolve_configuration(configuration, SCOPE) == {
        "ProjectName": "app-staging",
        "PrimarySource": "exec-1/demo",
        "Plain": "no references at all",
    }


def test_values_substituted_into_environment_variables_keep_the_json_whole() -> None:
    declared = json.dumps([{"name": "MESSAGE", "value": "#{SourceVariables.CommitMessage}", "type": "PLAINTEXT"}])
    resolved = resolve_configuration({"EnvironmentVariables": declared}, SCOPE)["EnvironmentVariables"]
    assert json.loads(resolved)[0]["value"] == 'fix "quoted" things\nand more'


def test_a_missing_key_names_the_reference_the_field_and_what_there_is() -> None:
    with pytest.raises(UnresolvedReference) as info:
        resolve_configuration({"ProjectName": "#{SourceVariables.Nope}"}, SCOPE)
    message = str(info.value)
    assert "#{SourceVariables.Nope} in configuration ProjectName" in message
    assert "CommitId, CommitMessage" in message


def test_a_namespace_without_variables_in_this_execution() -> None:
    with pytest.raises(UnresolvedReference, match=r"#\{BuildVariables.VERSION\}.*no variables in this execution"):
        resolve_configuration({"ProjectName": "#{BuildVariables.VERSION}"}, SCOPE)


def test_a_resolved_configuration_over_100_kb_is_refused() -> None:
    scope = execution_scope("e", "p", {"BIG": "x" * 60_000}, {})
    with pytest.raises(UnresolvedReference, match="above the limit of 100 KB"):
        resolve_configuration({"A": "#{variables.BIG}", "B": "#{variables.BIG}"}, scope)


def test_given_values_override_declared_defaults() -> None:
    declared = [{"name": "DEPLOY_ENV", "defaultValue": "staging"}, {"name": "REGION", "defaultValue": "eu-west-1"}]
    assert pipeline_variable_values(declared, {"DEPLOY_ENV": "prod"}) == {"DEPLOY_ENV": "prod", "REGION": "eu-west-1"}


# --- checked when the definition is saved ----------------------------------------------------------------------


def _with_variables(*builds: dict[str, Any]) -> dict[str, Any]:
    document = pipeline(stage("Source", {**source(), "namespace": "SourceVariables"}), stage("Build", *builds))
    document["variables"] = [{"name": "DEPLOY_ENV", "defaultValue": "staging"}]
    return document


def _env(*references_: str) -> dict[str, str]:
    values = [{"name": f"V{n}", "value": r, "type": "PLAINTEXT"} for n, r in enumerate(references_)]
    return {"ProjectName": "app", "EnvironmentVariables": json.dumps(values)}


def test_a_definition_using_every_kind_of_reference_is_valid() -> None:
    first = build(
        "Stamp",
        run_order=1,
        namespace="BuildVariables",
        configuration=_env(
            "#{SourceVariables.CommitId}", "#{variables.DEPLOY_ENV}", "#{codepipeline.PipelineExecutionId}"
        ),
    )
    second = build("Use", run_order=2, configuration=_env("#{BuildVariables.VERSION}"))
    definition = parse_pipeline(as_yaml(_with_variables(first, second)))
    assert definition.stage("Build").action("Stamp").namespace == "BuildVariables"


def test_every_reference_that_could_never_resolve_is_reported_where_it_is() -> None:
    early = build(
        "Early",
        run_order=1,
        configuration=_env(
            "#{Nowhere.X}",  # no action declares it
            "#{Later.X}",  # declared by an action that runs after this one
            "#{Sibling.X}",  # declared by an action of the same runOrder
            "#{variables.UNDECLARED}",
            "#{codepipeline.PipelineArn}",
            "#{SourceVariables.CommitSha}",  # git sources output CommitId, not CommitSha
        ),
    )
    sibling = build("Sibling", run_order=1, namespace="Sibling")
    later = build("Late", run_order=2, namespace="Later")
    text = as_yaml(_with_variables(early, sibling, later))
    found = problems(text)
    path = "pipeline.stages[1].actions[0].configuration.EnvironmentVariables"
    assert {p.path for p in found} == {path}
    messages = "\n".join(p.message for p in found)
    assert "#{Nowhere.X}: no action declares the namespace 'Nowhere'" in messages
    assert "#{Later.X}: action 'Late' (namespace 'Later') does not run before this one" in messages
    assert "#{Sibling.X}: action 'Sibling'" in messages
    assert "#{variables.UNDECLARED}: the pipeline declares no variable 'UNDECLARED'" in messages
    assert "#{codepipeline.PipelineArn}: the codepipeline namespace has PipelineExecutionId" in messages
    assert "#{SourceVariables.CommitSha}: CodeStarSourceConnection actions output AuthorDate" in messages
    assert len(found) == 6
    assert found[0].line == line_of(text, "EnvironmentVariables")


def test_a_source_action_cannot_hold_references() -> None:
    document = _with_variables(build())
    document["stages"][0]["actions"][0]["configuration"]["BranchName"] = "#{variables.DEPLOY_ENV}"
    found = problems(as_yaml(document))
    assert [p.path for p in found] == ["pipeline.stages[0].actions[0].configuration.BranchName"]
    assert "cannot hold variable references" in found[0].message
