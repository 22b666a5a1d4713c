"""CloudFormation deploy actions in real pipeline runs (git source, in-process workers, moto): create, update and
nothing to update; outputs flowing to a later action as variables and through an output file; deleting; change sets
made and executed; replacing a rolled-back stack; and failures that say what is wrong and where."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from conveyor.pipeline import definitions, views
from conveyor.pipeline import service as pipelines
from conveyor.runtime import Runtime
from tests.conftest import AWS_REGION
from tests.support.gitrepo import GitRepo
from tests.support.pipelines import as_yaml, source_action
from tests.support.stacks import BUCKET_TEMPLATE, recompute_outputs_on_execution, set_stack_state

CONSUMER_TEMPLATE = """\
Parameters:
  SiteBucket: {Type: String}
  Release: {Type: String}
Resources:
  Pointer:
    Type: AWS::SSM::Parameter
    Properties:
      Name: /web/site-bucket
      Type: String
      Value: !Sub "${SiteBucket}@${Release}"
Outputs:
  Pointer:
    Value: !Sub "${SiteBucket}@${Release}"
"""
STAGING = {"Parameters": {"Environment": "staging", "Release": "from-config"}, "Tags": {"team": "web"}}
ROLE = "arn:aws:iam::123456789012:role/cfn-deployer"
TEMPLATE = "SourceOutput::infra/template.yml"


@pytest.fixture
def aws(fake_aws_credentials: None) -> Iterator[Any]:
    """A moto AWS for the whole test; the CloudFormation client the test inspects it with."""
    with mock_aws():
        yield boto3.client("cloudformation", region_name=AWS_REGION)


def deploy(
    name: str,
    configuration: dict[str, str],
    *,
    inputs: tuple[str, ...] = ("SourceOutput",),
    outputs: tuple[str, ...] = (),
    run_order: int = 1,
    namespace: str | None = None,
) -> dict[str, Any]:
    action: dict[str, Any] = {
        "name": name,
        "actionTypeId": {"category": "Deploy", "owner": "AWS", "provider": "CloudFormation", "version": "1"},
        "runOrder": run_order,
        "configuration": configuration,
        "inputArtifacts": [{"name": n} for n in inputs],
        "outputArtifacts": [{"name": n} for n in outputs],
    }
    if namespace:
        action["namespace"] = namespace
    return action


def create(rt: Runtime, name: str, repo: GitRepo, *actions: dict[str, Any], **fields: Any) -> None:
    source = source_action(repo.url)
    source["namespace"] = "SourceVariables"
    stages = [{"name": "Source", "actions": [source]}, {"name": "Deploy", "actions": list(actions)}]
    definitions.create_pipeline(rt, as_yaml({"pipeline": {"name": name, "stages": stages, **fields}}))


def run(rt: Runtime, run_jobs: Any, name: str, **start: Any) -> dict[str, Any]:
    execution_id = pipelines.start_pipeline(rt, name, **start)
    run_jobs()
    return views.get_execution(rt, execution_id)


def actions_of(execution: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {a["actionName"]: a for a in execution["stages"][1]["actions"]}


def stack(client: Any, name: str) -> dict[str, Any]:
    found: dict[str, Any] = client.describe_stacks(StackName=name)["Stacks"][0]
    return found


def by_key(items: list[dict[str, str]], key: str, value: str) -> dict[str, str]:
    return {item[key]: item[value] for item in items}


def site_files(**extra: str) -> dict[str, str]:
    return {"infra/template.yml": BUCKET_TEMPLATE, "infra/staging.json": json.dumps(STAGING), **extra}


def test_create_then_update_then_nothing_to_update_with_outputs_flowing_on(
    rt: Runtime, repo: GitRepo, run_jobs: Any, aws: Any
) -> None:
    first = repo.commit(site_files(**{"infra/consumer.yml": CONSUMER_TEMPLATE}))
    site = deploy(
        "Site",
        {
            "ActionMode": "CREATE_UPDATE",
            "StackName": "web-staging",
            "TemplatePath": TEMPLATE,
            "TemplateConfiguration": "SourceOutput::infra/staging.json",
            "ParameterOverrides": '{"Release": "#{SourceVariables.CommitId}"}',
            "RoleArn": ROLE,
            "OutputFileName": "outputs.json",
        },
        outputs=("SiteOutput",),
        namespace="DeployVars",
    )
    consumer = deploy(
        "Consumer",
        {
            "ActionMode": "CREATE_UPDATE",
            "StackName": "web-consumer",
            "TemplatePath": "SourceOutput::infra/consumer.yml",
            "ParameterOverrides": json.dumps(
                {
                    "SiteBucket": "#{DeployVars.BucketName}",
                    "Release": {"Fn::GetParam": ["SiteOutput", "outputs.json", "Release"]},
                }
            ),
        },
        inputs=("SourceOutput", "SiteOutput"),
        run_order=2,
    )
    create(rt, "site", repo, site, consumer)

    execution = run(rt, run_jobs, "site")
    assert execution["status"] == "Succeeded", execution["statusSummary"]
    actions = actions_of(execution)
    assert actions["Site"]["summary"] == "Stack web-staging created: CREATE_COMPLETE"
    assert actions["Site"]["outputVariables"] == {"BucketName": "conveyor-staging-site", "Release": first}
    created = stack(aws, "web-staging")
    assert by_key(created["Parameters"], "ParameterKey", "ParameterValue") == {
        "Environment": "staging",
        "Release": first,
    }
    assert by_key(created["Tags"], "Key", "Value") == {"team": "web"}
    assert created["RoleARN"] == ROLE
    artifact = actions["Site"]["outputArtifacts"]["SiteOutput"]
    with zipfile.ZipFile(io.BytesIO(rt.blobs.get_bytes(artifact["key"]))) as archive:
        assert archive.namelist() == ["outputs.json"]
        assert json.loads(archive.read("outputs.json")) == {"BucketName": "conveyor-staging-site", "Release": first}
    assert json.loads(actions["Consumer"]["resolvedConfiguration"]["ParameterOverrides"])["SiteBucket"] == (
        "conveyor-staging-site"
    )
    assert by_key(stack(aws, "web-consumer")["Outputs"], "OutputKey", "OutputValue") == {
        "Pointer": f"conveyor-staging-site@{first}"
    }

    second = repo.commit({"README.md": "now with a readme\n"})
    execution = run(rt, run_jobs, "site")
    assert execution["status"] == "Succeeded", execution["statusSummary"]
    actions = actions_of(execution)
    assert actions["Site"]["summary"] == "Stack web-staging updated: UPDATE_COMPLETE"
    assert actions["Site"]["outputVariables"]["Release"] == second
    assert stack(aws, "web-staging")["StackStatus"] == "UPDATE_COMPLETE"
    assert by_key(stack(aws, "web-consumer")["Outputs"], "OutputKey", "OutputValue")["Pointer"].endswith(second)

    execution = run(rt, run_jobs, "site")
    assert execution["status"] == "Succeeded", execution["statusSummary"]
    actions = actions_of(execution)
    assert actions["Site"]["summary"] == "Stack web-staging: no updates to perform (UPDATE_COMPLETE)"
    assert actions["Site"]["outputVariables"] == {"BucketName": "conveyor-staging-site", "Release": second}
    assert actions["Consumer"]["summary"].startswith("Stack web-consumer: no updates to perform")


def test_delete_only_deletes_and_a_missing_stack_is_success(
    rt: Runtime, repo: GitRepo, run_jobs: Any, aws: Any
) -> None:
    repo.commit(site_files())
    parameters = [{"ParameterKey": "Environment", "ParameterValue": "old"}]
    aws.create_stack(StackName="web-old", TemplateBody=BUCKET_TEMPLATE, Parameters=parameters)
    create(rt, "cleanup", repo, deploy("Remove", {"ActionMode": "DELETE_ONLY", "StackName": "web-old"}, inputs=()))

    execution = run(rt, run_jobs, "cleanup")
    assert execution["status"] == "Succeeded", execution["statusSummary"]
    assert actions_of(execution)["Remove"]["summary"] == "Stack web-old deleted"
    assert actions_of(execution)["Remove"]["outputVariables"] == {}
    assert [s["StackName"] for s in aws.describe_stacks()["Stacks"]] == []

    execution = run(rt, run_jobs, "cleanup")
    assert execution["status"] == "Succeeded", execution["statusSummary"]
    assert actions_of(execution)["Remove"]["summary"] == "Stack web-old does not exist: nothing to delete"


def test_a_change_set_is_made_then_executed(
    rt: Runtime, repo: GitRepo, run_jobs: Any, aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    recompute_outputs_on_execution(monkeypatch)
    first = repo.commit(site_files())
    common = {
        "StackName": "web-cs",
        "ChangeSetName": "release",
        "TemplatePath": TEMPLATE,
        "TemplateConfiguration": "SourceOutput::infra/staging.json",
        "ParameterOverrides": '{"Release": "#{SourceVariables.CommitId}"}',
    }
    prepare = deploy("Prepare", {"ActionMode": "CHANGE_SET_REPLACE", **common}, namespace="PrepareVars")
    execute = deploy(
        "Execute",
        {"ActionMode": "CHANGE_SET_EXECUTE", "StackName": "web-cs", "ChangeSetName": "release"},
        inputs=(),
        run_order=2,
        namespace="ExecuteVars",
    )
    create(rt, "changes", repo, prepare, execute)

    execution = run(rt, run_jobs, "changes")
    assert execution["status"] == "Succeeded", execution["statusSummary"]
    actions = actions_of(execution)
    assert actions["Prepare"]["summary"].startswith("Change set release of stack web-cs is ready")
    assert actions["Prepare"]["outputVariables"] == {}  # a change set changes no stack
    assert actions["Execute"]["summary"] == "Change set release executed: stack web-cs CREATE_COMPLETE"
    assert actions["Execute"]["outputVariables"] == {"BucketName": "conveyor-staging-site", "Release": first}

    second = repo.commit({"README.md": "second release\n"})
    execution = run(rt, run_jobs, "changes")
    assert execution["status"] == "Succeeded", execution["statusSummary"]
    actions = actions_of(execution)
    assert actions["Execute"]["summary"] == "Change set release executed: stack web-cs UPDATE_COMPLETE"
    assert actions["Execute"]["outputVariables"]["Release"] == second
    assert by_key(stack(aws, "web-cs")["Parameters"], "ParameterKey", "ParameterValue")["Release"] == second


def _rolled_back_stack(aws: Any) -> str:
    parameters = [{"ParameterKey": "Environment", "ParameterValue": "staging"}]
    stack_id: str = aws.create_stack(StackName="web-broken", TemplateBody=BUCKET_TEMPLATE, Parameters=parameters)[
        "StackId"
    ]
    set_stack_state("web-broken", "ROLLBACK_COMPLETE", (("Bucket", "AWS::S3::Bucket", "Bucket name already taken"),))
    return stack_id


def test_replace_on_failure_replaces_a_rolled_back_stack(rt: Runtime, repo: GitRepo, run_jobs: Any, aws: Any) -> None:
    repo.commit(site_files())
    old_id = _rolled_back_stack(aws)
    configuration = {
        "ActionMode": "REPLACE_ON_FAILURE",
        "StackName": "web-broken",
        "TemplatePath": TEMPLATE,
        "TemplateConfiguration": "SourceOutput::infra/staging.json",
    }
    create(rt, "replace", repo, deploy("Replace", configuration, namespace="ReplaceVars"))

    execution = run(rt, run_jobs, "replace")
    assert execution["status"] == "Succeeded", execution["statusSummary"]
    action = actions_of(execution)["Replace"]
    assert action["summary"] == "Stack web-broken was ROLLBACK_COMPLETE: deleted and created again"
    assert action["outputVariables"] == {"BucketName": "conveyor-staging-site", "Release": "from-config"}
    replaced = stack(aws, "web-broken")
    assert replaced["StackStatus"] == "CREATE_COMPLETE"
    assert replaced["StackId"] != old_id


def test_create_update_leaves_a_rolled_back_stack_alone_and_says_why(
    rt: Runtime, repo: GitRepo, run_jobs: Any, aws: Any
) -> None:
    repo.commit(site_files())
    old_id = _rolled_back_stack(aws)
    configuration = {"ActionMode": "CREATE_UPDATE", "StackName": "web-broken", "TemplatePath": TEMPLATE}
    create(rt, "update-broken", repo, deploy("Update", configuration))

    execution = run(rt, run_jobs, "update-broken")
    assert execution["status"] == "Failed"
    action = actions_of(execution)["Update"]
    assert action["errorCode"] == "JobFailed"
    assert action["summary"] == (
        "stack web-broken is ROLLBACK_COMPLETE (Bucket (AWS::S3::Bucket) CREATE_FAILED: Bucket name already taken) "
        "and cannot be updated: delete it, or use ActionMode REPLACE_ON_FAILURE to have it replaced"
    )
    assert stack(aws, "web-broken")["StackId"] == old_id
    assert "Action Update in stage Deploy failed: stack web-broken is ROLLBACK_COMPLETE" in execution["statusSummary"]


def test_bad_templates_fail_naming_the_artifact_and_path(rt: Runtime, repo: GitRepo, run_jobs: Any, aws: Any) -> None:
    repo.commit(
        {
            "infra/empty.yml": "Description: no resources at all\n",
            "infra/broken.yml": "Resources:\n  Bucket:\n    Type: [AWS::S3::Bucket\n",
        }
    )
    create(
        rt,
        "bad-templates",
        repo,
        deploy(
            "Refused",
            {"ActionMode": "CREATE_UPDATE", "StackName": "a", "TemplatePath": "SourceOutput::infra/empty.yml"},
        ),
        deploy(
            "Broken",
            {"ActionMode": "CREATE_UPDATE", "StackName": "b", "TemplatePath": "SourceOutput::infra/broken.yml"},
        ),
        deploy(
            "Missing", {"ActionMode": "CREATE_UPDATE", "StackName": "c", "TemplatePath": "SourceOutput::infra/nope.yml"}
        ),
    )

    execution = run(rt, run_jobs, "bad-templates")
    assert execution["status"] == "Failed"
    actions = actions_of(execution)
    assert actions["Refused"]["errorCode"] == "JobFailed"
    assert actions["Refused"]["summary"] == (
        "CloudFormation refused template SourceOutput::infra/empty.yml for stack a: "
        "Template format error: At least one Resources member must be defined."
    )
    assert actions["Broken"]["errorCode"] == "ConfigurationError"
    assert actions["Broken"]["summary"].startswith(
        "template SourceOutput::infra/broken.yml is not valid YAML at line 4"
    )
    assert actions["Missing"]["errorCode"] == "ConfigurationError"
    assert actions["Missing"]["summary"] == (
        "SourceOutput::infra/nope.yml: artifact SourceOutput holds no file 'infra/nope.yml'"
    )
    assert aws.describe_stacks()["Stacks"] == []


def test_a_configuration_that_resolves_badly_fails_as_the_action_starts(
    rt: Runtime, repo: GitRepo, run_jobs: Any, aws: Any
) -> None:
    repo.commit(site_files())
    configuration = {"ActionMode": "#{variables.MODE}", "StackName": "web-#{variables.MODE}", "TemplatePath": TEMPLATE}
    create(
        rt,
        "resolved",
        repo,
        deploy("Deploy", configuration),
        variables=[{"name": "MODE", "defaultValue": "CREATE_UPDATE"}],
    )

    execution = run(rt, run_jobs, "resolved", variables={"MODE": "UPSERT"})
    assert execution["status"] == "Failed"
    action = actions_of(execution)["Deploy"]
    assert action["errorCode"] == "ConfigurationError"
    assert action["summary"].startswith("configuration.ActionMode: must be one of CREATE_UPDATE")
    assert "'UPSERT'" in action["summary"]
    assert aws.describe_stacks()["Stacks"] == []
