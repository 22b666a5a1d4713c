"""The CloudFormation action's configuration: every rule, when the pipeline is saved (with path and line) and when
the action starts (`conveyor.pipeline.stack_config`)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from conveyor.errors import Problem, SpecError
from conveyor.pipeline.spec import parse_pipeline
from conveyor.pipeline.stack_config import (
    ArtifactPath,
    GetArtifactAtt,
    GetParam,
    configuration_problems,
    stack_configuration,
)
from conveyor.pipeline.variables import resolve_configuration

INPUTS = ("SourceOutput", "BuildOutput")


def deploy_action(configuration: dict[str, Any], outputs: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "name": "Deploy",
        "actionTypeId": {"category": "Deploy", "owner": "AWS", "provider": "CloudFormation", "version": "1"},
        "configuration": configuration,
        "inputArtifacts": [{"name": "SourceOutput"}],
        "outputArtifacts": [{"name": n} for n in outputs],
    }


def definition(action: dict[str, Any]) -> str:
    source = {
        "name": "Source",
        "actionTypeId": {"category": "Source", "owner": "AWS", "provider": "CodeStarSourceConnection", "version": "1"},
        "configuration": {"FullRepositoryId": "acme/app", "BranchName": "main"},
        "outputArtifacts": [{"name": "SourceOutput"}],
        "namespace": "SourceVariables",
    }
    stages = [{"name": "Source", "actions": [source]}, {"name": "Deploy", "actions": [action]}]
    return yaml.safe_dump({"pipeline": {"name": "stacks", "stages": stages}}, sort_keys=False)


def problems_list(text: str) -> list[Problem]:
    with pytest.raises(SpecError) as info:
        parse_pipeline(text, "pipeline.yml")
    return info.value.problems


def problems_of(text: str) -> dict[str, Problem]:
    """The problems by path, when each path has one."""
    found = problems_list(text)
    by_path = {p.path: p for p in found}
    assert len(by_path) == len(found), [str(p) for p in found]
    return by_path


ACTION = "pipeline.stages[1].actions[0]"


def test_a_complete_create_update_action_is_accepted() -> None:
    configuration = {
        "ActionMode": "CREATE_UPDATE",
        "StackName": "web-staging",
        "TemplatePath": "SourceOutput::infra/template.yml",
        "TemplateConfiguration": "SourceOutput::infra/staging.json",
        "RoleArn": "arn:aws:iam::123456789012:role/cfn-deployer",
        "Capabilities": "CAPABILITY_IAM,CAPABILITY_AUTO_EXPAND",
        "ParameterOverrides": '{"Release": "#{SourceVariables.CommitId}", "Count": 3}',
        "OutputFileName": "outputs.json",
    }
    parsed = parse_pipeline(definition(deploy_action(configuration, outputs=("StackOutput",))))
    assert parsed.stages[1].actions[0].configuration["StackName"] == "web-staging"


def test_every_problem_is_reported_at_its_key_and_line() -> None:
    text = definition(
        deploy_action(
            {
                "ActionMode": "UPSERT",
                "StackName": "1-stack",
                "TemplatePath": "Elsewhere::template.yml",
                "TemplateConfiguration": "config.json",
                "ParameterOverrides": '["Environment", "prod"]',
                "Capabilities": "CAPABILITY_IAM, CAPABILITY_ALL",
                "RoleArn": "cfn-deployer",
                "OutputFileName": "../outputs.json",
            },
            outputs=("StackOutput",),
        )
    )
    found = problems_of(text)
    configuration = f"{ACTION}.configuration"
    assert "must be one of CREATE_UPDATE, DELETE_ONLY" in found[f"{configuration}.ActionMode"].message
    assert "'UPSERT'" in found[f"{configuration}.ActionMode"].message
    assert "not a valid name" in found[f"{configuration}.StackName"].message
    assert "artifact 'Elsewhere' is not an input artifact of this action (its inputs: SourceOutput)" in (
        found[f"{configuration}.TemplatePath"].message
    )
    assert "not of the form ArtifactName::path/in/zip" in found[f"{configuration}.TemplateConfiguration"].message
    assert "must be a JSON object" in found[f"{configuration}.ParameterOverrides"].message
    assert "'CAPABILITY_ALL'" in found[f"{configuration}.Capabilities"].message
    assert "not an IAM role ARN" in found[f"{configuration}.RoleArn"].message
    assert "must be a relative path to a file" in found[f"{configuration}.OutputFileName"].message
    assert len(found) == 8
    lines = text.splitlines()
    assert lines[found[f"{configuration}.StackName"].line - 1].strip().startswith("StackName:")  # type: ignore[operator]


def test_mode_requirements_are_reported_at_the_configuration() -> None:
    found = problems_list(definition(deploy_action({"ActionMode": "CHANGE_SET_REPLACE"})))
    at_configuration = [p.message for p in found if p.path == f"{ACTION}.configuration"]
    assert sorted(at_configuration) == [
        "ActionMode CHANGE_SET_REPLACE needs ChangeSetName",
        "ActionMode CHANGE_SET_REPLACE needs TemplatePath (ArtifactName::path/in/zip)",
        "missing required configuration key 'StackName'",
    ]


def test_delete_and_execute_need_no_template() -> None:
    parse_pipeline(definition(deploy_action({"ActionMode": "DELETE_ONLY", "StackName": "web"})))
    execute = {"ActionMode": "CHANGE_SET_EXECUTE", "StackName": "web", "ChangeSetName": "release"}
    parse_pipeline(definition(deploy_action(execute)))


def test_an_output_artifact_and_output_file_name_go_together() -> None:
    without_file = definition(deploy_action({"ActionMode": "DELETE_ONLY", "StackName": "web"}, outputs=("Out",)))
    assert "only when OutputFileName is set" in problems_of(without_file)[f"{ACTION}.outputArtifacts"].message
    without_artifact = definition(
        deploy_action({"ActionMode": "DELETE_ONLY", "StackName": "web", "OutputFileName": "out.json"})
    )
    message = problems_of(without_artifact)[f"{ACTION}.configuration.OutputFileName"].message
    assert "needs an output artifact" in message


def test_values_with_references_wait_until_they_resolve() -> None:
    configuration = {
        "ActionMode": "#{variables.MODE}",
        "StackName": "web-#{codepipeline.PipelineExecutionId}",
        "ParameterOverrides": "#{SourceVariables.CommitMessage}",
    }
    assert configuration_problems(configuration, INPUTS, (), resolved=False) == []
    resolved = {"ActionMode": "UPSERT", "StackName": "web-1", "ParameterOverrides": "not json"}
    where = {where for where, _ in configuration_problems(resolved, INPUTS, ())}
    assert where == {("configuration", "ActionMode"), ("configuration", "ParameterOverrides")}


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ("{", "is not valid JSON"),
        ('{"Name": ["a", "b"]}', "parameter 'Name': must be a string, a number, a boolean, Fn::GetParam"),
        ('{"Name": {"Fn::Sub": "x"}}', "unknown function 'Fn::Sub'"),
        ('{"Name": {"Fn::GetParam": ["SourceOutput", "a.json"]}}', 'Fn::GetParam takes ["ArtifactName"'),
        ('{"Name": {"Fn::GetParam": ["Other", "a.json", "k"]}}', "artifact 'Other' is not an input artifact"),
        ('{"Name": {"Fn::GetArtifactAtt": ["SourceOutput", "Size"]}}', "has no attribute 'Size'"),
        ('{"Name": "' + "x" * 1100 + '"}', "CloudFormation actions take at most 1024"),
    ],
)
def test_parameter_overrides_problems(overrides: str, fragment: str) -> None:
    configuration = {"ActionMode": "DELETE_ONLY", "StackName": "web", "ParameterOverrides": overrides}
    messages = [message for _, message in configuration_problems(configuration, INPUTS, ())]
    assert len(messages) == 1
    assert fragment in messages[0]


def test_the_resolved_configuration_parses_into_its_parts() -> None:
    config = stack_configuration(
        {
            "ActionMode": "CHANGE_SET_REPLACE",
            "StackName": "web",
            "ChangeSetName": "release-1",
            "TemplatePath": "BuildOutput::packaged.yml",
            "TemplateConfiguration": "SourceOutput::prod.json",
            "Capabilities": "CAPABILITY_IAM, CAPABILITY_NAMED_IAM",
            "ParameterOverrides": json_overrides(),
            "OutputFileName": "outputs.json",
        },
        INPUTS,
        ("StackOut",),
    )
    assert config.template == ArtifactPath("BuildOutput", "packaged.yml")
    assert str(config.template_configuration) == "SourceOutput::prod.json"
    assert config.capabilities == ("CAPABILITY_IAM", "CAPABILITY_NAMED_IAM")
    assert config.parameter_overrides == {
        "Environment": "prod",
        "Replicas": "2",
        "Public": "false",
        "Upstream": GetParam("BuildOutput", "out/values.json", "Url"),
        "CodeKey": GetArtifactAtt("BuildOutput", "ObjectKey"),
    }
    assert config.change_set_name == "release-1"
    assert config.output_file_name == "outputs.json"
    assert not config.outputs_variables  # a change set changes no stack yet


def json_overrides() -> str:
    return (
        '{"Environment": "prod", "Replicas": 2, "Public": false,'
        ' "Upstream": {"Fn::GetParam": ["BuildOutput", "out/values.json", "Url"]},'
        ' "CodeKey": {"Fn::GetArtifactAtt": ["BuildOutput", "ObjectKey"]}}'
    )


def test_keys_other_modes_ignore_are_dropped() -> None:
    config = stack_configuration(
        {"ActionMode": "DELETE_ONLY", "StackName": "web", "TemplatePath": "Gone::x.yml", "ChangeSetName": "cs"},
        ("Gone",),
        (),
    )
    assert config.template is None
    assert config.change_set_name is None
    assert stack_configuration(
        {"ActionMode": "CREATE_UPDATE", "StackName": "web", "TemplatePath": "Gone::x"}, ("Gone",), ()
    ).outputs_variables


def test_a_bad_resolved_configuration_names_every_problem() -> None:
    with pytest.raises(ValueError, match=r"configuration\.ActionMode: .*; configuration\.StackName: ") as info:
        stack_configuration({"ActionMode": "upsert", "StackName": "web_1"}, INPUTS, ())
    assert "'upsert'" in str(info.value)


def test_references_inside_parameter_overrides_keep_the_json_whole() -> None:
    scope = {"SourceVariables": {"CommitMessage": 'ship "v2"\nnow'}}
    resolved = resolve_configuration({"ParameterOverrides": '{"Note": "#{SourceVariables.CommitMessage}"}'}, scope)
    config = stack_configuration({"ActionMode": "DELETE_ONLY", "StackName": "web", **resolved}, INPUTS, ())
    assert config.parameter_overrides == {"Note": 'ship "v2"\nnow'}
