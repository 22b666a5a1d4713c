"""Pipeline definitions: parsing, defaults, and every structure rule reported with path and line."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import yaml

from conveyor.errors import Problem, SpecError
from conveyor.pipeline.spec import parse_pipeline

SOURCE_TYPE = {"category": "Source", "owner": "AWS", "provider": "CodeStarSourceConnection", "version": "1"}
BUILD_TYPE = {"category": "Build", "owner": "AWS", "provider": "CodeBuild", "version": "1"}
TEST_TYPE = {"category": "Test", "owner": "AWS", "provider": "CodeBuild", "version": "1"}

VALID_YAML = """\
pipeline:
  name: demo
  stages:
    - name: Source
      actions:
        - name: Checkout
          actionTypeId:
            category: Source
            owner: AWS
            provider: CodeStarSourceConnection
            version: "1"
          configuration:
            ConnectionArn: arn:aws:codestar-connections:eu-west-1:123456789012:connection/abc
            FullRepositoryId: acme/app
            BranchName: main
            DetectChanges: false
          outputArtifacts:
            - name: SourceOutput
    - name: Build
      actions:
        - name: Compile
          actionTypeId:
            category: Build
            owner: AWS
            provider: CodeBuild
            version: "1"
          configuration:
            ProjectName: app
            BatchEnabled: true
          inputArtifacts:
            - name: SourceOutput
          outputArtifacts:
            - name: BuildOutput
metadata:
  pipelineArn: arn:aws:codepipeline:eu-west-1:123456789012:demo
  created: 2024-01-01
"""


def source(name: str = "Checkout", output: str = "SourceOutput", **configuration: Any) -> dict[str, Any]:
    return {
        "name": name,
        "actionTypeId": dict(SOURCE_TYPE),
        "configuration": {"FullRepositoryId": "acme/app", "BranchName": "main", **configuration},
        "outputArtifacts": [{"name": output}],
    }


def build(
    name: str = "Compile",
    inputs: tuple[str, ...] = ("SourceOutput",),
    outputs: tuple[str, ...] = (),
    run_order: int | None = None,
    type_id: dict[str, str] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    action: dict[str, Any] = {
        "name": name,
        "actionTypeId": dict(type_id or BUILD_TYPE),
        "configuration": {"ProjectName": "app"},
        "inputArtifacts": [{"name": n} for n in inputs],
        "outputArtifacts": [{"name": n} for n in outputs],
    }
    if run_order is not None:
        action["runOrder"] = run_order
    action.update(fields)
    return action


def stage(name: str, *actions: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "actions": list(actions)}


def pipeline(*stages: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"name": "demo", "stages": list(stages or (stage("Source", source()), stage("Build", build()))), **fields}


def trigger(source_action: str = "Checkout", **git: Any) -> dict[str, Any]:
    return {
        "providerType": "CodeStarSourceConnection",
        "gitConfiguration": {"sourceActionName": source_action, **git},
    }


class _PlainDumper(yaml.SafeDumper):
    """Writes shared objects out in full, as a person would, instead of as YAML anchors and aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def as_yaml(document: dict[str, Any], *, wrap: bool = True) -> str:
    return yaml.dump({"pipeline": document} if wrap else document, Dumper=_PlainDumper, sort_keys=False)


def problems(text: str) -> list[Problem]:
    with pytest.raises(SpecError) as info:
        parse_pipeline(text, "pipeline.yml")
    assert info.value.source == "pipeline.yml"
    assert info.value.problems, "a SpecError must carry its problems"
    return info.value.problems


def lines_of(text: str, needle: str) -> list[int]:
    """The 1-based numbers of the lines of `text` that contain `needle`."""
    return [number for number, line in enumerate(text.splitlines(), 1) if needle in line]


def line_of(text: str, needle: str) -> int:
    """The 1-based line of the only line of `text` that contains `needle`."""
    found = lines_of(text, needle)
    assert len(found) == 1, f"{needle!r} is on lines {found}"
    return found[0]


def problem_at(found: list[Problem], path: str) -> Problem:
    at_path = [p for p in found if p.path == path]
    assert len(at_path) == 1, f"expected one problem at {path}, got {[str(p) for p in found]}"
    return at_path[0]


def assert_problem(pipeline_object: dict[str, Any], path: str, needle: str, fragment: str) -> None:
    """Parsing fails with a problem at `path`, on the line holding `needle`, whose message holds `fragment`."""
    text = as_yaml(pipeline_object)
    problem = problem_at(problems(text), path)
    assert fragment in problem.message
    assert problem.line == line_of(text, needle)


# --- valid definitions -----------------------------------------------------------------------------------------


def test_a_valid_two_stage_yaml_definition_parses() -> None:
    definition = parse_pipeline(VALID_YAML)
    assert definition.name == "demo"
    assert [s.name for s in definition.stages] == ["Source", "Build"]
    checkout = definition.stage("Source").action("Checkout")
    assert checkout.is_source
    assert checkout.output_artifacts == ("SourceOutput",)
    compile_ = definition.stage("Build").action("Compile")
    assert not compile_.is_source
    assert compile_.type_id.provider == "CodeBuild"
    assert compile_.input_artifacts == ("SourceOutput",)
    assert compile_.output_artifacts == ("BuildOutput",)
    assert definition.source_actions() == (checkout,)


def test_defaults_are_filled() -> None:
    definition = parse_pipeline(VALID_YAML)
    assert definition.pipeline_type == "V1"
    assert definition.execution_mode == "SUPERSEDED"
    assert [a.run_order for s in definition.stages for a in s.actions] == [1, 1]
    assert definition.document["pipelineType"] == "V1"
    assert definition.document["executionMode"] == "SUPERSEDED"
    assert definition.document["stages"][1]["actions"][0]["runOrder"] == 1
    assert definition.triggers() == []


def test_yaml_scalars_in_configuration_become_strings() -> None:
    definition = parse_pipeline(VALID_YAML)
    assert definition.stage("Source").action("Checkout").configuration["DetectChanges"] == "false"
    assert definition.stage("Build").action("Compile").configuration["BatchEnabled"] == "true"
    document = pipeline(stage("Source", source()), stage("Build", build(configuration={"ProjectName": 42})))
    assert parse_pipeline(as_yaml(document)).stages[1].actions[0].configuration == {"ProjectName": "42"}


def test_metadata_and_version_are_not_kept_in_the_document() -> None:
    definition = parse_pipeline(as_yaml(pipeline(version=7)))
    assert "version" not in definition.document
    assert "metadata" not in definition.document
    assert set(definition.document) == {"name", "stages", "pipelineType", "executionMode"}


def test_json_yaml_wrapped_and_bare_definitions_parse_alike() -> None:
    wrapped = yaml.safe_load(VALID_YAML)
    texts = [
        VALID_YAML,
        json.dumps(wrapped, default=str),
        json.dumps(wrapped, default=str, indent=2),
        json.dumps(wrapped["pipeline"]),
        yaml.safe_dump(wrapped["pipeline"], sort_keys=False),
    ]
    documents = [parse_pipeline(text).document for text in texts]
    assert all(document == documents[0] for document in documents)


def test_a_json_definition_with_tabs_still_parses() -> None:
    text = json.dumps({"pipeline": pipeline()}, indent="\t")
    assert parse_pipeline(text).name == "demo"


def test_v2_fields_make_the_pipeline_v2() -> None:
    with_variables = pipeline(variables=[{"name": "Env", "defaultValue": "dev"}])
    assert parse_pipeline(as_yaml(with_variables)).pipeline_type == "V2"
    trigger = {
        "providerType": "CodeStarSourceConnection",
        "gitConfiguration": {"sourceActionName": "Checkout", "push": [{"branches": {"includes": ["main"]}}]},
    }
    definition = parse_pipeline(as_yaml(pipeline(triggers=[trigger])))
    assert definition.pipeline_type == "V2"
    assert definition.triggers() == [trigger]


def test_a_v2_pipeline_may_queue_or_run_in_parallel() -> None:
    for mode in ("QUEUED", "PARALLEL"):
        assert parse_pipeline(as_yaml(pipeline(pipelineType="V2", executionMode=mode))).execution_mode == mode


def test_queued_or_parallel_without_a_type_makes_the_pipeline_v2() -> None:
    for mode in ("QUEUED", "PARALLEL"):
        definition = parse_pipeline(as_yaml(pipeline(executionMode=mode)))
        assert (definition.pipeline_type, definition.execution_mode) == ("V2", mode)


def test_the_codepipeline_and_variables_namespaces_are_reserved() -> None:
    for reserved in ("codepipeline", "variables"):
        document = pipeline()
        document["stages"][1]["actions"][0]["namespace"] = reserved
        [problem] = problems(as_yaml(document))
        assert problem.path == "pipeline.stages[1].actions[0].namespace"
        assert "reserved" in problem.message


def test_run_orders_and_artifacts_flow_forward_within_a_stage() -> None:
    document = pipeline(
        stage("Source", source()),
        stage(
            "Build",
            build("Compile", outputs=("Binary",), run_order=1),
            build("Lint", run_order=1),
            build("Package", inputs=("Binary", "SourceOutput"), run_order=5, type_id=TEST_TYPE),
        ),
    )
    definition = parse_pipeline(as_yaml(document))
    assert definition.stages[1].run_orders() == [1, 5]
    assert definition.stage("Build").action("Package").type_id.category == "Test"


def test_github_v1_spelling_with_a_third_party_owner_is_accepted() -> None:
    github_v1 = {
        "name": "Checkout",
        "actionTypeId": {"category": "Source", "owner": "ThirdParty", "provider": "GitHub", "version": "1"},
        "configuration": {"Owner": "acme", "Repo": "app", "Branch": "main", "OAuthToken": "****"},
        "outputArtifacts": [{"name": "SourceOutput"}],
    }
    definition = parse_pipeline(as_yaml(pipeline(stage("Source", github_v1), stage("Build", build()))))
    action = definition.stage("Source").action("Checkout")
    assert action.type_id.owner == "ThirdParty"
    assert action.configuration["Owner"] == "acme"


def test_github_v1_needs_both_owner_and_repo() -> None:
    github_v1 = {
        "name": "Checkout",
        "actionTypeId": {"category": "Source", "owner": "ThirdParty", "provider": "GitHub", "version": "1"},
        "configuration": {"Owner": "acme", "Branch": "main"},
        "outputArtifacts": [{"name": "SourceOutput"}],
    }
    text = as_yaml(pipeline(stage("Source", github_v1), stage("Build", build())))
    problem = problem_at(problems(text), "pipeline.stages[0].actions[0].configuration")
    assert "FullRepositoryId" in problem.message
    assert "Owner + Repo" in problem.message


# --- every problem at once -------------------------------------------------------------------------------------


def test_one_spec_error_carries_every_structure_problem() -> None:
    document = pipeline(
        stage("Source", source(), build("Early", run_order=2)),
        stage("Build", build("Compile", inputs=("Missing",)), build("Compile"), source("Late", output="LateOutput")),
        stage("Build", build("Deploy", outputs=("SourceOutput",))),
    )
    found = problems(as_yaml(document))
    assert {p.path for p in found} == {
        "pipeline.stages[0].actions[1].actionTypeId.category",
        "pipeline.stages[1].actions[0].inputArtifacts[0].name",
        "pipeline.stages[1].actions[1].name",
        "pipeline.stages[1].actions[2].actionTypeId.category",
        "pipeline.stages[2].name",
        "pipeline.stages[2].actions[0].outputArtifacts[0].name",
    }
    assert len(found) == 6
    assert all(p.line is not None for p in found)
    assert [p.line for p in found] == sorted(p.line or 0 for p in found)


def test_one_spec_error_carries_every_action_and_trigger_problem() -> None:
    deploy = {"category": "Deploy", "owner": "AWS", "provider": "ElasticBeanstalk", "version": "1"}
    checkout = source()
    checkout["namespace"] = "Vars"
    branches = {"branches": {"includes": ["main"]}}
    document = pipeline(
        stage("Source", checkout),
        stage(
            "Build",
            build("Bare", configuration={}),
            build("Extra", configuration={"ProjectName": "a", "Foo": "b"}),
            build("Ship", type_id=deploy),
            build("Owned", type_id={**BUILD_TYPE, "owner": "Custom"}),
            build("Timed", timeoutInMinutes=10),
            build("NoInput", inputs=()),
            build("Clash", namespace="Vars"),
        ),
        triggers=[
            trigger("Bare", push=[branches]),
            trigger(push=[{**branches, "tags": {"includes": ["v*"]}}]),
            trigger(push=[branches]),
        ],
    )
    text = as_yaml(document)
    found = problems(text)
    action = "pipeline.stages[1].actions"
    git = "pipeline.triggers[{}].gitConfiguration"
    assert sorted(p.path for p in found) == sorted(
        [
            f"{action}[0].configuration",
            f"{action}[1].configuration.Foo",
            f"{action}[2].actionTypeId",
            f"{action}[3].actionTypeId.owner",
            f"{action}[4].timeoutInMinutes",
            f"{action}[5].inputArtifacts",
            f"{action}[6].namespace",
            git.format(0) + ".sourceActionName",
            git.format(1) + ".push[0]",
            git.format(2) + ".sourceActionName",
        ]
    )
    assert all(p.line for p in found)


def test_one_spec_error_carries_every_schema_problem() -> None:
    document = pipeline(
        stage("Source", source(name="bad name")),
        stage("Build", build(run_order=0), build("Other", run_order=1000, extra=True)),
        name="",
    )
    found = problems(as_yaml(document))
    assert {p.path for p in found} == {
        "pipeline.name",
        "pipeline.stages[0].actions[0].name",
        "pipeline.stages[1].actions[0].runOrder",
        "pipeline.stages[1].actions[1].runOrder",
        "pipeline.stages[1].actions[1].extra",
    }


def test_problems_of_value_and_the_rules_between_fields_come_in_one_report() -> None:
    checkout = source(name="bad name", FullRepositoryId="acme", BranchName="")
    document = pipeline(
        stage("Source", checkout),
        stage("Source", build(run_order=0, inputs=("Nope",), configuration={})),
        name="bad name!",
    )
    text = as_yaml(document)
    found = problems(text)
    config = "pipeline.stages[0].actions[0].configuration"
    assert sorted(p.path for p in found) == sorted(
        [
            "pipeline.name",
            "pipeline.stages[0].actions[0].name",
            f"{config}.BranchName",
            f"{config}.FullRepositoryId",
            "pipeline.stages[1].name",
            "pipeline.stages[1].actions[0].runOrder",
            "pipeline.stages[1].actions[0].configuration",
            "pipeline.stages[1].actions[0].inputArtifacts[0].name",
        ]
    )
    assert problem_at(found, f"{config}.BranchName").message == "is empty"
    assert "'acme' is not an owner and a repository name" in problem_at(found, f"{config}.FullRepositoryId").message
    assert "duplicate stage name 'Source'" in problem_at(found, "pipeline.stages[1].name").message
    assert [p.line for p in found] == sorted(p.line or 0 for p in found)


def test_a_problem_of_shape_stops_the_report_before_the_rules_between_fields() -> None:
    document = pipeline(stage("Source", source()), stage("Source", build(run_order="first")))
    found = problems(as_yaml(document))
    assert [(p.path, p.message) for p in found] == [
        ("pipeline.stages[1].actions[0].runOrder", "'first' is not of type 'integer'")
    ]


def test_a_list_where_the_schema_names_the_values_allowed_is_a_problem_of_shape() -> None:
    checkout = source()
    checkout["actionTypeId"] = {**SOURCE_TYPE, "category": ["Source"]}
    found = problems(as_yaml(pipeline(stage("Source", checkout), stage("Source", build()))))
    # the duplicate stage name is not reported: the rules cannot read an action whose category is a list
    assert [p.path for p in found] == ["pipeline.stages[0].actions[0].actionTypeId.category"]


def test_no_stages_at_all_is_said_once() -> None:
    found = problems(as_yaml(pipeline(stage("Source", source()), stage("Build", build())) | {"stages": []}))
    assert [(p.path, p.message) for p in found] == [("pipeline.stages", "needs at least 2 items, not 0")]


def test_a_rule_does_not_repeat_what_the_schema_said_at_or_around_the_same_place() -> None:
    document = pipeline(stage("Source", source()), stage("Build", build(type_id={**BUILD_TYPE, "owner": "Nobody"})))
    found = problems(as_yaml(document))
    # the schema refuses the owner; the rule that would say which owner the provider has is not said twice
    assert [p.path for p in found] == ["pipeline.stages[1].actions[0].actionTypeId.owner"]


@pytest.mark.parametrize(
    ("configuration", "path", "fragment"),
    [
        ({"ProjectName": ""}, "ProjectName", "is empty"),
        ({"ProjectName": "p" * 1001}, "ProjectName", "is 1001 characters long, above the limit of 1000"),
        ({"ProjectName": "app", "K" * 51: "v"}, "K" * 51, "the key is 51 characters long, above the limit of 50"),
    ],
)
def test_configuration_keys_and_values_have_aws_lengths(
    configuration: dict[str, str], path: str, fragment: str
) -> None:
    found = problems(as_yaml(pipeline(stage("Source", source()), stage("Build", build(configuration=configuration)))))
    where = f"pipeline.stages[1].actions[0].configuration.{path}"
    assert any(p.path == where and fragment in p.message for p in found), [str(p) for p in found]


@pytest.mark.parametrize("repository", ["acme/app", "group/subgroup/app", "Acme-Corp/app.js"])
def test_a_repository_id_names_an_owner_and_a_repository(repository: str) -> None:
    definition = parse_pipeline(
        as_yaml(pipeline(stage("Source", source(FullRepositoryId=repository)), stage("Build", build())))
    )
    assert definition.source_actions()[0].configuration["FullRepositoryId"] == repository


@pytest.mark.parametrize("repository", ["app", "acme/", "/app", "acme//app", "acme/my app"])
def test_a_repository_id_without_an_owner_is_refused(repository: str) -> None:
    found = problems(as_yaml(pipeline(stage("Source", source(FullRepositoryId=repository)), stage("Build", build()))))
    assert (
        "is not an owner and a repository name"
        in problem_at(found, "pipeline.stages[0].actions[0].configuration.FullRepositoryId").message
    )


def test_the_error_message_lists_file_line_path_and_problem() -> None:
    text = as_yaml(pipeline(stage("Source", source()), stage("Build", build(run_order=0))))
    with pytest.raises(SpecError) as info:
        parse_pipeline(text, "pipeline.yml")
    line = line_of(text, "runOrder: 0")
    assert f"pipeline.yml:{line}: pipeline.stages[1].actions[0].runOrder:" in str(info.value)
    assert info.value.status_code == 400


# --- structure rules -------------------------------------------------------------------------------------------


def test_fewer_than_two_stages() -> None:
    assert_problem(pipeline(stage("Source", source())), "pipeline.stages", "stages:", "needs at least 2 items, not 1")


def test_a_stage_without_actions() -> None:
    document = pipeline(stage("Source", source()), stage("Build"))
    assert_problem(document, "pipeline.stages[1].actions", "actions: []", "needs at least 1 item, not 0")


def test_a_non_source_action_in_the_first_stage() -> None:
    early = build("Early", run_order=2, type_id=TEST_TYPE)
    document = pipeline(stage("Source", source(), early), stage("Build", build()))
    assert_problem(
        document,
        "pipeline.stages[0].actions[1].actionTypeId.category",
        "category: Test",
        "only Source actions",
    )


def test_a_source_action_in_a_later_stage() -> None:
    document = pipeline(stage("Source", source()), stage("Build", build(), source("Late", output="Extra")))
    text = as_yaml(document)
    problem = problem_at(problems(text), "pipeline.stages[1].actions[1].actionTypeId.category")
    assert "first stage only" in problem.message
    assert problem.line == lines_of(text, "category: Source")[1]


def test_a_pipeline_of_only_source_actions() -> None:
    document = pipeline(stage("Source", source()), stage("More", source("Late", output="LateOutput")))
    assert_problem(document, "pipeline.stages", "stages:", "not a Source action")


def test_a_first_stage_without_source_actions() -> None:
    document = pipeline(stage("Build", build(inputs=())), stage("More", build("Again", inputs=())))
    found = problems(as_yaml(document))
    assert "at least one Source action" in problem_at(found, "pipeline.stages[0].actions").message


def test_duplicate_stage_names() -> None:
    document = pipeline(stage("Source", source()), stage("Build", build()), stage("Build", build("Again")))
    text = as_yaml(document)
    problem = problem_at(problems(text), "pipeline.stages[2].name")
    assert "duplicate stage name" in problem.message
    assert problem.line == lines_of(text, "- name: Build")[1]


def test_duplicate_action_names_in_a_stage() -> None:
    document = pipeline(stage("Source", source()), stage("Build", build("Twin"), build("Twin", run_order=2)))
    text = as_yaml(document)
    problem = problem_at(problems(text), "pipeline.stages[1].actions[1].name")
    assert "duplicate action name" in problem.message
    assert problem.line == lines_of(text, "- name: Twin")[1]


def test_the_same_action_name_in_different_stages_is_fine() -> None:
    document = pipeline(stage("Source", source("Step")), stage("Build", build("Step")))
    assert parse_pipeline(as_yaml(document)).stages[1].actions[0].name == "Step"


def test_an_input_artifact_nobody_produces() -> None:
    document = pipeline(stage("Source", source()), stage("Build", build(inputs=("Missing",))))
    assert_problem(
        document,
        "pipeline.stages[1].actions[0].inputArtifacts[0].name",
        "name: Missing",
        "not the output of an earlier action",
    )


def test_an_input_artifact_produced_in_the_same_run_order_group() -> None:
    document = pipeline(
        stage("Source", source()),
        stage("Build", build("Compile", outputs=("Binary",)), build("Package", inputs=("Binary",))),
    )
    text = as_yaml(document)
    problem = problem_at(problems(text), "pipeline.stages[1].actions[1].inputArtifacts[0].name")
    assert problem.line == lines_of(text, "- name: Binary")[1]


def test_an_input_artifact_produced_by_a_later_run_order() -> None:
    document = pipeline(
        stage("Source", source()),
        stage(
            "Build",
            build("Package", inputs=("Binary",), run_order=1),
            build("Compile", outputs=("Binary",), run_order=2),
        ),
    )
    found = problems(as_yaml(document))
    assert [p.path for p in found] == ["pipeline.stages[1].actions[0].inputArtifacts[0].name"]


def test_an_input_artifact_produced_by_a_later_stage() -> None:
    document = pipeline(
        stage("Source", source()),
        stage("Test", build("Check", inputs=("Binary",))),
        stage("Build", build("Compile", outputs=("Binary",))),
    )
    found = problems(as_yaml(document))
    assert [p.path for p in found] == ["pipeline.stages[1].actions[0].inputArtifacts[0].name"]


def test_an_action_cannot_consume_its_own_output() -> None:
    document = pipeline(stage("Source", source()), stage("Build", build(inputs=("Loop",), outputs=("Loop",))))
    found = problems(as_yaml(document))
    assert [p.path for p in found] == ["pipeline.stages[1].actions[0].inputArtifacts[0].name"]


def test_a_duplicate_output_artifact() -> None:
    document = pipeline(stage("Source", source()), stage("Build", build(outputs=("SourceOutput",))))
    text = as_yaml(document)
    problem = problem_at(problems(text), "pipeline.stages[1].actions[0].outputArtifacts[0].name")
    assert "already produced" in problem.message
    assert problem.line == len(text.splitlines())


def test_a_namespace_used_twice() -> None:
    document = pipeline(
        stage("Source", source(), source("Other", output="OtherOutput")),
        stage("Build", build()),
    )
    document["stages"][0]["actions"][0]["namespace"] = "SourceVariables"
    document["stages"][0]["actions"][1]["namespace"] = "SourceVariables"
    found = problems(as_yaml(document))
    assert [p.path for p in found] == ["pipeline.stages[0].actions[1].namespace"]
    assert "already used" in found[0].message


def test_a_namespace_named_like_an_artifact() -> None:
    document = pipeline(stage("Source", source()), stage("Build", build(namespace="SourceOutput")))
    assert_problem(document, "pipeline.stages[1].actions[0].namespace", "namespace: SourceOutput", "already used")


def test_an_unknown_provider() -> None:
    deploy = build(
        "Ship", type_id={"category": "Deploy", "owner": "AWS", "provider": "ElasticBeanstalk", "version": "1"}
    )
    document = pipeline(stage("Source", source()), stage("Deploy", deploy))
    text = as_yaml(document)
    problem = problem_at(problems(text), "pipeline.stages[1].actions[0].actionTypeId")
    assert "ElasticBeanstalk" in problem.message
    assert problem.line == line_of(text, "category: Deploy") - 1


def test_a_wrong_owner() -> None:
    document = pipeline(
        stage("Source", source()),
        stage("Build", build(type_id={**BUILD_TYPE, "owner": "ThirdParty"})),
    )
    assert_problem(document, "pipeline.stages[1].actions[0].actionTypeId.owner", "owner: ThirdParty", "has owner AWS")


def test_a_source_action_cannot_run_in_another_region() -> None:
    checkout = {**source(), "region": "eu-west-1"}
    document = pipeline(stage("Source", checkout), stage("Build", build(region="eu-west-1")))
    found = problems(as_yaml(document))
    assert [(p.path, p.message) for p in found] == [
        (
            "pipeline.stages[0].actions[0].region",
            "Source actions run in the pipeline's region: they cannot name another",
        )
    ]


def test_a_pipeline_holds_at_most_500_actions() -> None:
    full = [stage(f"Build{s}", *(build(f"Compile{n}") for n in range(50))) for s in range(9)]  # 50 to a stage
    last = [build(f"Compile{n}") for n in range(49)]
    assert parse_pipeline(as_yaml(pipeline(stage("Source", source()), *full, stage("Last", *last))))
    document = pipeline(stage("Source", source()), *full, stage("Last", *last, build("OneTooMany")))
    assert_problem(document, "pipeline.stages", "stages:", "a pipeline holds at most 500 actions")


def test_a_missing_required_configuration_key() -> None:
    document = pipeline(stage("Source", source()), stage("Build", build(configuration={})))
    assert_problem(document, "pipeline.stages[1].actions[0].configuration", "configuration: {}", "'ProjectName'")


def test_a_missing_configuration_is_a_missing_required_key() -> None:
    compile_ = build()
    del compile_["configuration"]
    found = problems(as_yaml(pipeline(stage("Source", source()), stage("Build", compile_))))
    assert "'ProjectName'" in problem_at(found, "pipeline.stages[1].actions[0].configuration").message


def test_an_unknown_configuration_key() -> None:
    document = pipeline(stage("Source", source()), stage("Build", build(configuration={"ProjectName": "a", "Foo": 1})))
    assert_problem(document, "pipeline.stages[1].actions[0].configuration.Foo", "Foo: 1", "unknown configuration key")


def test_an_unsupported_output_artifact_format() -> None:
    document = pipeline(stage("Source", source(OutputArtifactFormat="TARBALL")), stage("Build", build()))
    assert_problem(
        document,
        "pipeline.stages[0].actions[0].configuration.OutputArtifactFormat",
        "OutputArtifactFormat:",
        "must be CODE_ZIP or CODEBUILD_CLONE_REF",
    )


@pytest.mark.parametrize("format_", ["CODE_ZIP", "CODEBUILD_CLONE_REF"])
def test_both_output_artifact_formats_of_a_git_source(format_: str) -> None:
    document = pipeline(stage("Source", source(OutputArtifactFormat=format_)), stage("Build", build()))
    definition = parse_pipeline(as_yaml(document))
    assert definition.source_actions()[0].configuration["OutputArtifactFormat"] == format_


@pytest.mark.parametrize(
    ("inputs", "outputs", "path", "fragment"),
    [
        ((), (), "pipeline.stages[1].actions[0].inputArtifacts", "1 to 5 inputArtifacts, not 0"),
        (
            ("SourceOutput",) * 6,
            (),
            "pipeline.stages[1].actions[0].inputArtifacts",
            "1 to 5 inputArtifacts, not 6",
        ),
        (
            ("SourceOutput",),
            ("A", "B", "C", "D", "E", "F"),
            "pipeline.stages[1].actions[0].outputArtifacts",
            "0 to 5 outputArtifacts, not 6",
        ),
    ],
)
def test_wrong_artifact_counts_for_a_build(
    inputs: tuple[str, ...], outputs: tuple[str, ...], path: str, fragment: str
) -> None:
    document = pipeline(stage("Source", source()), stage("Build", build(inputs=inputs, outputs=outputs)))
    assert fragment in problem_at(problems(as_yaml(document)), path).message


def test_wrong_artifact_counts_for_a_source() -> None:
    checkout = source()
    checkout["outputArtifacts"] = []
    checkout["inputArtifacts"] = [{"name": "Nothing"}]
    found = problems(as_yaml(pipeline(stage("Source", checkout), stage("Build", build(inputs=("Nothing",))))))
    paths = {p.path: p.message for p in found}
    assert "exactly 1 outputArtifacts, not 0" in paths["pipeline.stages[0].actions[0].outputArtifacts"]
    assert "exactly 0 inputArtifacts, not 1" in paths["pipeline.stages[0].actions[0].inputArtifacts"]


@pytest.mark.parametrize("run_order", [0, 1000, -1])
def test_run_order_out_of_range(run_order: int) -> None:
    document = pipeline(stage("Source", source()), stage("Build", build(run_order=run_order)))
    assert_problem(document, "pipeline.stages[1].actions[0].runOrder", f"runOrder: {run_order}", str(run_order))


def test_run_order_at_the_limits_is_fine() -> None:
    document = pipeline(stage("Source", source()), stage("Build", build(run_order=1), build("Last", run_order=999)))
    assert parse_pipeline(as_yaml(document)).stages[1].run_orders() == [1, 999]


@pytest.mark.parametrize(
    ("path", "needle", "change"),
    [
        ("pipeline.name", "name: my pipeline", lambda d: d.update(name="my pipeline")),
        ("pipeline.stages[1].name", "name: Build!", lambda d: d["stages"][1].update(name="Build!")),
        (
            "pipeline.stages[1].actions[0].name",
            "name: Com/pile",
            lambda d: d["stages"][1]["actions"][0].update(name="Com/pile"),
        ),
        (
            "pipeline.stages[1].actions[0].outputArtifacts[0].name",
            "name: Build.Output",
            lambda d: d["stages"][1]["actions"][0].update(outputArtifacts=[{"name": "Build.Output"}]),
        ),
        (
            "pipeline.stages[1].actions[0].namespace",
            "namespace: build vars",
            lambda d: d["stages"][1]["actions"][0].update(namespace="build vars"),
        ),
        ("pipeline.name", "name: " + "x" * 101, lambda d: d.update(name="x" * 101)),
    ],
)
def test_names_must_match_their_pattern(path: str, needle: str, change: Any) -> None:
    document = copy.deepcopy(pipeline())
    change(document)
    assert_problem(document, path, needle, "does not match")


@pytest.mark.parametrize(
    ("path", "change"),
    [
        ("pipeline.colour", lambda d: d.update(colour="blue")),
        ("pipeline.stages[1].colour", lambda d: d["stages"][1].update(colour="blue")),
        ("pipeline.stages[1].actions[0].colour", lambda d: d["stages"][1]["actions"][0].update(colour="blue")),
        (
            "pipeline.stages[1].actions[0].actionTypeId.colour",
            lambda d: d["stages"][1]["actions"][0]["actionTypeId"].update(colour="blue"),
        ),
        (
            "pipeline.stages[1].actions[0].inputArtifacts[0].colour",
            lambda d: d["stages"][1]["actions"][0]["inputArtifacts"][0].update(colour="blue"),
        ),
        (
            "pipeline.artifactStore.colour",
            lambda d: d.update(artifactStore={"type": "S3", "location": "bkt", "colour": "blue"}),
        ),
    ],
)
def test_unknown_keys_are_reported_where_they_are(path: str, change: Any) -> None:
    document = copy.deepcopy(pipeline())
    change(document)
    text = as_yaml(document)
    problem = problem_at(problems(text), path)
    assert "unknown key" in problem.message
    assert "colour" in problem.message
    assert problem.line == line_of(text, "colour: blue")


def test_several_unknown_keys_in_one_object_are_each_reported() -> None:
    text = as_yaml(pipeline(colour="blue", size="large"))
    found = problems(text)
    assert {(p.path, p.line) for p in found} == {
        ("pipeline.colour", line_of(text, "colour: blue")),
        ("pipeline.size", line_of(text, "size: large")),
    }


def test_an_unknown_key_next_to_pipeline() -> None:
    text = yaml.safe_dump({"pipeline": pipeline(), "metadata": {}, "extra": 1}, sort_keys=False)
    problem = problem_at(problems(text), "extra")
    assert "unknown top-level key" in problem.message
    assert problem.line == line_of(text, "extra: 1")


def test_keys_that_are_not_strings_are_reported_not_crashed_on() -> None:
    text = "pipeline: {name: x}\n1: a\nb: 2\n"
    assert {(p.path, p.line) for p in problems(text)} == {("1", 2), ("b", 3)}
    text = as_yaml(pipeline()) + "  5: x\n"
    assert [(p.path, p.message) for p in problems(text)] == [("pipeline.5", "unknown key 5")]


@pytest.mark.parametrize("text", ["[1, 2]", "just text", "42", ""])
def test_a_definition_that_is_not_a_mapping(text: str) -> None:
    found = problems(text)
    assert [p.path for p in found] == [""]
    assert "must be a mapping" in found[0].message


def test_a_pipeline_key_that_is_not_a_mapping() -> None:
    found = problems("pipeline: [1, 2]\n")
    assert [(p.path, p.line) for p in found] == [("pipeline", 1)]


def test_artifact_store_and_artifact_stores_together() -> None:
    store = {"type": "S3", "location": "bucket"}
    document = pipeline(artifactStore=store, artifactStores={"eu-west-1": store})
    assert_problem(document, "pipeline.artifactStores", "artifactStores:", "not both")


# --- V1 and V2 -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["QUEUED", "PARALLEL"])
def test_queued_and_parallel_need_v2(mode: str) -> None:
    document = pipeline(pipelineType="V1", executionMode=mode)
    assert_problem(document, "pipeline.executionMode", f"executionMode: {mode}", "needs pipelineType V2")


def test_variables_and_triggers_need_v2() -> None:
    trigger = {
        "providerType": "CodeStarSourceConnection",
        "gitConfiguration": {"sourceActionName": "Checkout", "push": [{"branches": {"includes": ["main"]}}]},
    }
    document = pipeline(pipelineType="V1", variables=[{"name": "Env"}], triggers=[trigger])
    text = as_yaml(document)
    found = problems(text)
    assert {(p.path, p.line) for p in found} == {
        ("pipeline.variables", line_of(text, "variables:")),
        ("pipeline.triggers", line_of(text, "triggers:")),
    }


def test_a_trigger_naming_a_non_source_action() -> None:
    document = pipeline(triggers=[trigger("Compile", push=[{"branches": {"includes": ["main"]}}])])
    assert_problem(
        document,
        "pipeline.triggers[0].gitConfiguration.sourceActionName",
        "sourceActionName: Compile",
        "no source action named 'Compile'",
    )


def test_two_triggers_for_one_source_action() -> None:
    push = [{"branches": {"includes": ["main"]}}]
    document = pipeline(triggers=[trigger(push=push), trigger(push=push)])
    text = as_yaml(document)
    found = problems(text)
    assert [p.path for p in found] == ["pipeline.triggers[1].gitConfiguration.sourceActionName"]
    assert "already has a trigger" in found[0].message
    assert found[0].line == lines_of(text, "sourceActionName: Checkout")[1]


def test_a_push_filter_with_both_tags_and_branches() -> None:
    document = pipeline(triggers=[trigger(push=[{"tags": {"includes": ["v*"]}, "branches": {"includes": ["main"]}}])])
    assert_problem(document, "pipeline.triggers[0].gitConfiguration.push[0]", "- tags:", "either tags or branches")


def test_a_push_filter_with_neither_tags_nor_branches() -> None:
    document = pipeline(triggers=[trigger(push=[{}])])
    found = problems(as_yaml(document))
    assert "needs tags or branches" in problem_at(found, "pipeline.triggers[0].gitConfiguration.push[0]").message


def test_a_trigger_glob_list_must_not_be_empty() -> None:
    document = pipeline(triggers=[trigger(push=[{"branches": {"includes": []}}])])
    found = problems(as_yaml(document))
    assert problem_at(found, "pipeline.triggers[0].gitConfiguration.push[0].branches.includes")


def test_timeout_on_a_non_approval_action() -> None:
    document = pipeline(stage("Source", source()), stage("Build", build(timeoutInMinutes=60)))
    assert_problem(
        document, "pipeline.stages[1].actions[0].timeoutInMinutes", "timeoutInMinutes: 60", "manual approval"
    )


# --- the file itself -------------------------------------------------------------------------------------------


def test_a_yaml_syntax_error_names_its_line() -> None:
    text = "pipeline:\n  name: demo\n  stages: [\n    {name: Source\n  oops: : :\n"
    found = problems(text)
    assert [(p.path, p.line) for p in found] == [("", 5)]
    assert "not valid YAML" in found[0].message


def test_a_yaml_syntax_error_on_a_known_line() -> None:
    text = "pipeline:\n  name: demo\n  stages:\n  - name: 'Source\n"
    found = problems(text)
    assert [p.line for p in found] == [5]


def test_a_tab_indent_is_a_syntax_error_on_its_line() -> None:
    text = "pipeline:\n  name: demo\n\tstages: []\n"
    assert [p.line for p in problems(text)] == [3]


def test_a_duplicate_yaml_key_names_its_path_and_line() -> None:
    branch = "            BranchName: main\n"
    text = VALID_YAML.replace(branch, branch + branch.replace("main", "dev"))
    found = problems(text)
    assert [(p.path, p.line, p.message) for p in found] == [
        ("pipeline.stages[0].actions[0].configuration.BranchName", line_of(text, "BranchName: dev"), "duplicate key")
    ]


def test_json_problems_carry_lines_too() -> None:
    document = pipeline(stage("Source", source()), stage("Build", build(run_order=0)))
    text = json.dumps({"pipeline": document}, indent=2)
    problem = problem_at(problems(text), "pipeline.stages[1].actions[0].runOrder")
    assert problem.line == line_of(text, '"runOrder": 0')


def test_file_path_filters_go_with_branches_not_tags() -> None:
    paths = {"includes": ["src/**"]}
    with_branches = pipeline(triggers=[trigger(push=[{"branches": {"includes": ["main"]}, "filePaths": paths}])])
    assert parse_pipeline(as_yaml(with_branches)).triggers()[0]["gitConfiguration"]["push"][0]["filePaths"] == paths
    with_tags = pipeline(triggers=[trigger(push=[{"tags": {"includes": ["v*"]}, "filePaths": paths}])])
    assert_problem(
        with_tags, "pipeline.triggers[0].gitConfiguration.push[0].filePaths", "filePaths:", "go with branches"
    )
