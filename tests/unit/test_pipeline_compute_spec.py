"""Definitions with Commands (Compute, V2) and Lambda (Invoke) actions: their own fields, checked with path and line."""

from __future__ import annotations

from typing import Any

from conveyor.pipeline.spec import parse_pipeline
from tests.unit.test_pipeline_spec import as_yaml, assert_problem, build, pipeline, problem_at, problems, source, stage

COMMANDS_TYPE = {"category": "Compute", "owner": "AWS", "provider": "Commands", "version": "1"}
LAMBDA_TYPE = {"category": "Invoke", "owner": "AWS", "provider": "Lambda", "version": "1"}


def commands_action(name: str = "Run", **fields: Any) -> dict[str, Any]:
    action: dict[str, Any] = {
        "name": name,
        "actionTypeId": dict(COMMANDS_TYPE),
        "inputArtifacts": [{"name": "SourceOutput"}],
        "commands": ["echo hello"],
    }
    action.update(fields)
    return action


def lambda_action(name: str = "Notify", **fields: Any) -> dict[str, Any]:
    action: dict[str, Any] = {
        "name": name,
        "actionTypeId": dict(LAMBDA_TYPE),
        "configuration": {"FunctionName": "notify"},
    }
    action.update(fields)
    return action


def with_actions(*actions: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return pipeline(stage("Source", source()), stage("Work", *actions), **fields)


ACTION = "pipeline.stages[1].actions[0]"


def test_a_commands_action_with_every_field_parses_and_makes_the_pipeline_v2() -> None:
    action = commands_action(
        commands=["export VERSION=1.2", "mkdir -p dist && cp -r src dist/"],
        outputVariables=["VERSION", "AWS_DEFAULT_REGION"],
        environmentVariables=[
            {"name": "STAGE", "value": "prod"},
            {"name": "TOKEN", "value": "tokens:deploy", "type": "SECRETS_MANAGER"},
        ],
        outputArtifacts=[{"name": "Dist", "files": ["dist/**/*"]}],
        namespace="Run",
        configuration={"ComputeType": "BUILD_GENERAL1_MEDIUM", "EnvironmentType": "LINUX_CONTAINER"},
    )

    definition = parse_pipeline(as_yaml(with_actions(action)))

    assert definition.pipeline_type == "V2"
    declared = definition.stage("Work").action("Run")
    assert declared.commands == ("export VERSION=1.2", "mkdir -p dist && cp -r src dist/")
    assert declared.output_variables == ("VERSION", "AWS_DEFAULT_REGION")
    assert declared.environment_variables[1] == {"name": "TOKEN", "value": "tokens:deploy", "type": "SECRETS_MANAGER"}
    assert declared.output_files == {"Dist": ("dist/**/*",)}


def test_a_lambda_action_needs_a_function_name_and_takes_user_parameters() -> None:
    configuration = {"FunctionName": "notify", "UserParameters": "{}"}
    definition = parse_pipeline(as_yaml(with_actions(lambda_action(configuration=configuration))))
    assert definition.stage("Work").action("Notify").configuration == configuration

    found = problems(as_yaml(with_actions(lambda_action(configuration={"UserParameters": "x"}))))
    missing = problem_at(found, f"{ACTION}.configuration").message
    assert "missing required configuration key 'FunctionName'" in missing
    assert_problem(
        with_actions(lambda_action(configuration={"FunctionName": "f", "Qualifier": "1"})),
        f"{ACTION}.configuration.Qualifier",
        "Qualifier",
        "unknown configuration key for provider Lambda",
    )


def test_a_lambda_action_takes_up_to_five_inputs_and_outputs() -> None:
    six = [{"name": f"Out{i}"} for i in range(6)]
    found = problems(as_yaml(with_actions(lambda_action(outputArtifacts=six))))
    assert "takes 0 to 5 outputArtifacts, not 6" in problem_at(found, f"{ACTION}.outputArtifacts").message


def test_a_commands_action_needs_commands() -> None:
    action = commands_action()
    del action["commands"]
    assert_problem(with_actions(action), ACTION, "name: Run", "needs 'commands'")


def test_the_compute_fields_belong_to_commands_actions_only() -> None:
    action = build(
        outputs=("BuildOutput",),
        commands=["make"],
        outputVariables=["X"],
        environmentVariables=[{"name": "A", "value": "b"}],
    )
    action["outputArtifacts"][0]["files"] = ["**/*"]
    found = problems(as_yaml(with_actions(action)))

    for field in ("commands", "outputVariables", "environmentVariables", "outputArtifacts[0].files"):
        assert "belongs to Commands actions" in problem_at(found, f"{ACTION}.{field}").message


def test_a_multi_line_command_is_refused_at_its_line() -> None:
    text = as_yaml(with_actions(commands_action(commands=["echo one", "echo two\necho three"])))
    problem = problem_at(problems(text), f"{ACTION}.commands[1]")
    assert "multi-line commands are not supported" in problem.message
    assert problem.line is not None


def test_a_blank_command_is_refused() -> None:
    found = problems(as_yaml(with_actions(commands_action(commands=["echo ok", "   "]))))
    assert "must not be blank" in problem_at(found, f"{ACTION}.commands[1]").message


def test_a_command_past_1000_characters_is_refused_without_being_repeated() -> None:
    found = problems(as_yaml(with_actions(commands_action(commands=["echo " + "x" * 996]))))
    message = problem_at(found, f"{ACTION}.commands[0]").message
    assert message == "is 1001 characters long, above the limit of 1000"


def test_more_than_fifty_commands_are_refused() -> None:
    found = problems(as_yaml(with_actions(commands_action(commands=[f"echo {i}" for i in range(51)]))))
    assert "at most 50 items" in problem_at(found, f"{ACTION}.commands").message


def test_a_commands_action_needs_a_v2_pipeline() -> None:
    assert_problem(
        with_actions(commands_action(), pipelineType="V1"),
        f"{ACTION}.actionTypeId.provider",
        "provider: Commands",
        "Commands actions need pipelineType V2",
    )


def test_output_variables_must_be_shell_names_listed_once() -> None:
    found = problems(as_yaml(with_actions(commands_action(outputVariables=["GOOD", "1BAD", "GOOD", "a-b"]))))
    assert "is not a shell variable name" in problem_at(found, f"{ACTION}.outputVariables[1]").message
    assert "listed twice" in problem_at(found, f"{ACTION}.outputVariables[2]").message
    assert "is not a shell variable name" in problem_at(found, f"{ACTION}.outputVariables[3]").message


def test_environment_variables_are_checked() -> None:
    variables = [
        {"name": "A", "value": "1", "type": "PARAMETER_STORE"},
        {"name": "CODEBUILD_X", "value": "1"},
        {"name": "B", "value": "1"},
        {"name": "B", "value": "2"},
        {"name": "9LIVES", "value": "1"},
        {"name": "C"},
    ]
    found = problems(as_yaml(with_actions(commands_action(environmentVariables=variables))))
    assert problem_at(found, f"{ACTION}.environmentVariables[0].type")
    assert problem_at(found, f"{ACTION}.environmentVariables[5]")
    variables = variables[1:5]
    found = problems(as_yaml(with_actions(commands_action(environmentVariables=variables))))
    assert "reserved" in problem_at(found, f"{ACTION}.environmentVariables[0].name").message
    assert "given twice" in problem_at(found, f"{ACTION}.environmentVariables[2].name").message
    assert "starts with a digit" in problem_at(found, f"{ACTION}.environmentVariables[3].name").message


def test_files_globs_stay_inside_the_working_directory() -> None:
    action = commands_action(outputArtifacts=[{"name": "Out", "files": ["dist/**/*", "../secrets/*", "/etc/*"]}])
    found = problems(as_yaml(with_actions(action)))
    assert "must stay inside" in problem_at(found, f"{ACTION}.outputArtifacts[0].files[1]").message
    assert "must stay inside" in problem_at(found, f"{ACTION}.outputArtifacts[0].files[2]").message
    assert len(found) == 2


def test_a_commands_action_takes_one_to_ten_inputs_and_at_most_one_output() -> None:
    found = problems(
        as_yaml(with_actions(commands_action(inputArtifacts=[], outputArtifacts=[{"name": "A"}, {"name": "B"}])))
    )
    assert "1 to 10 inputArtifacts, not 0" in problem_at(found, f"{ACTION}.inputArtifacts").message
    assert "0 to 1 outputArtifacts, not 2" in problem_at(found, f"{ACTION}.outputArtifacts").message


def test_commands_configuration_is_checked() -> None:
    action = commands_action(
        configuration={"EnvironmentType": "WINDOWS_SERVER_2022_CONTAINER", "ComputeType": "BUILD_LAMBDA_1GB"}
    )
    found = problems(as_yaml(with_actions(action)))
    assert "Linux workers only" in problem_at(found, f"{ACTION}.configuration.EnvironmentType").message
    assert "must be one of" in problem_at(found, f"{ACTION}.configuration.ComputeType").message
    action = commands_action(configuration={"ProjectName": "app", "VpcId": "vpc-1"})
    assert_problem(
        with_actions(action), f"{ACTION}.configuration.ProjectName", "ProjectName", "unknown configuration key"
    )


def test_references_in_commands_and_environment_values_are_checked() -> None:
    action = commands_action(
        commands=["echo #{codepipeline.PipelineExecutionId}", "echo #{Nowhere.X}"],
        environmentVariables=[{"name": "A", "value": "#{variables.missing}"}],
    )
    found = problems(as_yaml(with_actions(action)))
    assert "no action declares the namespace 'Nowhere'" in problem_at(found, f"{ACTION}.commands[1]").message
    assert "declares no variable 'missing'" in problem_at(found, f"{ACTION}.environmentVariables[0].value").message
    assert len(found) == 2


def test_a_reference_to_a_commands_action_names_one_of_its_output_variables() -> None:
    producer = commands_action("Produce", namespace="Made", outputVariables=["VERSION"])
    consumer = commands_action("Use", runOrder=2, commands=["echo #{Made.VERSION}", "echo #{Made.OTHER}"])
    silent = commands_action("Quiet", namespace="Quiet")
    late = commands_action("Late", runOrder=2, commands=["echo #{Quiet.ANY}"])
    found = problems(as_yaml(with_actions(producer, consumer, silent, late)))
    assert "exports only VERSION" in problem_at(found, "pipeline.stages[1].actions[1].commands[1]").message
    assert "exports nothing" in problem_at(found, "pipeline.stages[1].actions[3].commands[0]").message
    assert len(found) == 2
