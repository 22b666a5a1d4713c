"""Stack operations against moto: waiting for a busy stack (with an injected clock), the deadline, the reason of a
failed operation, change sets; and what an action reads from its artifacts: templates, template configurations,
parameter override functions."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from conveyor import aws
from conveyor.blobs import LocalBlobStore, S3BlobStore
from conveyor.config import Settings, load_settings
from conveyor.pipeline.actions.stack_inputs import (
    ArtifactFiles,
    StackInputError,
    artifact_attribute,
    resolve_overrides,
    template_body,
    template_configuration,
)
from conveyor.pipeline.actions.stacks import StackFailed, StackRequest, Stacks, outputs
from conveyor.pipeline.stack_config import ArtifactPath, GetArtifactAtt, GetParam
from tests.conftest import AWS_REGION
from tests.support.clock import FakeClock
from tests.support.stacks import BUCKET_TEMPLATE, set_stack_state

WHERE = ArtifactPath("SourceOutput", "infra/template.yml")


@pytest.fixture
def settings(tmp_path: Path, fake_aws_credentials: None) -> Settings:
    return load_settings(environ={}, overrides={"data_dir": tmp_path / "data", "aws_region": AWS_REGION})


@pytest.fixture
def client(settings: Settings) -> Iterator[Any]:
    with mock_aws():
        yield aws.client("cloudformation", settings)


def request(environment: str = "staging", release: str = "r1") -> StackRequest:
    return StackRequest(BUCKET_TEMPLATE, str(WHERE), {"Environment": environment, "Release": release})


def stacks_with(client: Any, clock: FakeClock, wait: float = 60) -> Stacks:
    return Stacks(client, clock() + wait, poll_seconds=5, sleep=clock.sleep, clock=clock)


def test_create_then_update_then_nothing_to_update(client: Any) -> None:
    clock = FakeClock()
    stacks = stacks_with(client, clock)
    created = stacks.create("web", request())
    assert created.stack is not None
    assert outputs(created.stack) == {"BucketName": "conveyor-staging-site", "Release": "r1"}
    updated = stacks.update(created.stack, request(release="r2"))
    assert updated.summary == "Stack web updated: UPDATE_COMPLETE"
    assert outputs(updated.stack)["Release"] == "r2"
    assert updated.stack is not None
    same = stacks.update(updated.stack, request(release="r2"))
    assert same.summary == "Stack web: no updates to perform (UPDATE_COMPLETE)"
    assert clock.sleeps == []  # moto completes at once: nothing to wait for


def test_a_busy_stack_is_waited_for(client: Any) -> None:
    clock = FakeClock()
    stack = stacks_with(client, clock).create("web", request()).stack
    assert stack is not None
    set_stack_state("web", "UPDATE_IN_PROGRESS", operation="UPDATE")
    looks = []

    def settle_after_two_looks() -> None:
        looks.append(clock.now)
        if len(looks) == 2:
            set_stack_state("web", "UPDATE_COMPLETE", operation="UPDATE")

    clock.on_sleep = settle_after_two_looks
    settled = stacks_with(client, clock).settle("web")
    assert settled is not None
    assert settled["StackStatus"] == "UPDATE_COMPLETE"
    assert clock.sleeps == [5, 5]


def test_a_stack_busy_past_the_deadline_fails_the_wait(client: Any) -> None:
    clock = FakeClock()
    stacks_with(client, clock).create("web", request())
    set_stack_state("web", "UPDATE_ROLLBACK_IN_PROGRESS", operation="UPDATE")
    with pytest.raises(StackFailed) as info:
        stacks_with(client, clock, wait=12).settle("web")
    assert info.value.message == (
        "stack web is still UPDATE_ROLLBACK_IN_PROGRESS: Conveyor stopped waiting (CloudFormation carries on with it)"
    )
    assert clock.sleeps == [5, 5]


def test_a_failed_operation_reports_its_first_failed_event(client: Any) -> None:
    clock = FakeClock()
    stack = stacks_with(client, clock).create("web", request()).stack
    assert stack is not None
    set_stack_state("web", "UPDATE_ROLLBACK_COMPLETE", (("Old", "AWS::SQS::Queue", "an older failure"),), "UPDATE")
    set_stack_state(
        "web",
        "UPDATE_ROLLBACK_COMPLETE",
        (
            ("Bucket", "AWS::S3::Bucket", "conveyor-staging-site already exists"),
            ("Queue", "AWS::SQS::Queue", "Resource update cancelled"),
        ),
        "UPDATE",
    )
    with pytest.raises(StackFailed) as info:
        stacks_with(client, clock).finish(stack["StackId"], frozenset({"UPDATE_COMPLETE"}))
    assert info.value.message == (
        "stack web is UPDATE_ROLLBACK_COMPLETE: Bucket (AWS::S3::Bucket) UPDATE_FAILED: "
        "conveyor-staging-site already exists"
    )
    assert info.value.error_code == "JobFailed"


def test_cloudformation_refusing_a_template_names_it(client: Any) -> None:
    refused = StackRequest("Description: nothing to create\n", str(WHERE), {})
    with pytest.raises(StackFailed) as info:
        stacks_with(client, FakeClock()).create("web", refused)
    assert info.value.message.startswith(
        "CloudFormation refused template SourceOutput::infra/template.yml for stack web"
    )
    assert "At least one Resources member must be defined" in info.value.message


def test_a_change_set_of_that_name_is_replaced_not_added_to(client: Any) -> None:
    stacks = stacks_with(client, FakeClock())
    stack = stacks.create("web", request()).stack
    assert stack is not None
    first = stacks.replace_change_set("web", "release", request(release="r2"))
    assert first.summary.startswith("Change set release of stack web is ready")
    second = stacks.replace_change_set("web", "release", request(release="r3"))
    assert second.summary.startswith("Change set release of stack web is ready")
    named = [s for s in client.list_change_sets(StackName="web")["Summaries"] if s["ChangeSetName"] == "release"]
    assert len(named) == 1
    described = client.describe_change_set(StackName="web", ChangeSetName="release")
    assert {p["ParameterKey"]: p["ParameterValue"] for p in described["Parameters"]}["Release"] == "r3"
    assert client.describe_stacks(StackName="web")["Stacks"][0]["Outputs"] == stack["Outputs"]  # not executed


def test_executing_a_missing_change_set_says_what_to_do(client: Any) -> None:
    stacks = stacks_with(client, FakeClock())
    with pytest.raises(StackFailed, match="stack web has no change set release: create it first"):
        stacks.execute_change_set("web", "release")


# --- what an action reads from its artifacts ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("Resources:\n  Bucket: [unclosed\n", "is not valid YAML at line 3"),
        ('{"Resources": }', "is not valid JSON: Expecting value"),
        ("- a\n- b\n", "must be a mapping"),
        ("   \n", "is empty"),
        ("Resources: {X: {Type: T}}\n" + "#" * 51_200, "CloudFormation takes at most 51200 in a request"),
    ],
)
def test_templates_that_cannot_be_sent_name_the_artifact_and_path(text: str, fragment: str) -> None:
    with pytest.raises(StackInputError) as info:
        template_body(text.encode(), WHERE)
    assert f"template {WHERE}" in str(info.value)
    assert fragment in str(info.value)


def test_short_form_functions_and_json_templates_are_accepted() -> None:
    assert template_body(BUCKET_TEMPLATE.encode(), WHERE) == BUCKET_TEMPLATE
    as_json = json.dumps({"Resources": {"B": {"Type": "AWS::S3::Bucket"}}})
    assert template_body(as_json.encode(), WHERE) == as_json


def test_a_template_configuration_gives_parameters_tags_and_a_policy() -> None:
    policy = {"Statement": [{"Effect": "Allow", "Action": "Update:*", "Principal": "*", "Resource": "*"}]}
    data = json.dumps(
        {"Parameters": {"Environment": "prod", "Replicas": 3}, "Tags": {"team": "web"}, "StackPolicy": policy}
    )
    parameters, tags, stack_policy = template_configuration(data.encode(), WHERE)
    assert parameters == {"Environment": "prod", "Replicas": "3"}
    assert tags == {"team": "web"}
    assert stack_policy is not None
    assert json.loads(stack_policy) == policy
    assert template_configuration(b'{"Parameters": {}}', WHERE) == ({}, None, None)


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (
            '{"Parameter": {"Environment": "prod"}}',
            "unknown key 'Parameter' (it takes Parameters, Tags and StackPolicy)",
        ),
        ('{"Parameters": ["Environment"]}', "Parameters must be an object of names and values"),
        ('{"Parameters": {"Environment": {"Ref": "X"}}}', "Parameters.Environment must be a string"),
        ('{"StackPolicy": "deny"}', "StackPolicy must be an object"),
        ("Parameters: {}", "is not valid JSON"),
    ],
)
def test_template_configuration_problems_name_the_file(data: str, fragment: str) -> None:
    with pytest.raises(StackInputError) as info:
        template_configuration(data.encode(), WHERE)
    assert f"template configuration {WHERE}" in str(info.value)
    assert fragment in str(info.value)


def _zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def test_get_param_reads_a_key_of_a_json_file_in_an_input_artifact(tmp_path: Path, settings: Settings) -> None:
    blobs = LocalBlobStore(tmp_path / "blobs")
    blobs.put_bytes("p/1/StackOut.zip", _zip({"outputs.json": '{"Url": "https://x.test", "Port": 443}'}))
    artifacts = {"StackOut": {"key": "p/1/StackOut.zip", "revision": None}}
    overrides = {
        "Url": GetParam("StackOut", "outputs.json", "Url"),
        "Port": GetParam("StackOut", "outputs.json", "Port"),
        "Plain": "text",
    }
    with ArtifactFiles(blobs, artifacts, tmp_path) as files:
        assert resolve_overrides(overrides, files, settings) == {
            "Url": "https://x.test",
            "Port": "443",
            "Plain": "text",
        }
        with pytest.raises(StackInputError) as info:
            resolve_overrides({"Host": GetParam("StackOut", "outputs.json", "Host")}, files, settings)
        assert str(info.value) == (
            "ParameterOverrides 'Host': Fn::GetParam StackOut::outputs.json has no key 'Host' (it has: Port, Url)"
        )
        with pytest.raises(StackInputError, match=r"artifact StackOut holds no file 'values\.json'"):
            resolve_overrides({"Host": GetParam("StackOut", "values.json", "Host")}, files, settings)


def test_get_artifact_att_gives_where_an_artifact_is_in_s3(tmp_path: Path, settings: Settings) -> None:
    with mock_aws():
        aws.client("s3", settings).create_bucket(Bucket="artifacts")
        blobs = S3BlobStore("artifacts", "conveyor", aws.client("s3", settings))
        blobs.put_bytes("pipelines/p/1/Code.zip", _zip({"app.py": "print(1)\n"}))
        artifacts = {"Code": {"key": "pipelines/p/1/Code.zip", "revision": None}}
        with ArtifactFiles(blobs, artifacts, tmp_path) as files:
            resolved = resolve_overrides(
                {
                    "Bucket": GetArtifactAtt("Code", "BucketName"),
                    "Key": GetArtifactAtt("Code", "ObjectKey"),
                    "Url": GetArtifactAtt("Code", "URL"),
                },
                files,
                settings,
            )
    assert resolved == {
        "Bucket": "artifacts",
        "Key": "conveyor/pipelines/p/1/Code.zip",
        "Url": "https://s3.us-east-1.amazonaws.com/artifacts/conveyor/pipelines/p/1/Code.zip",
    }


def test_get_artifact_att_is_refused_with_a_local_blob_store(tmp_path: Path, settings: Settings) -> None:
    url = LocalBlobStore(tmp_path / "blobs").url("pipelines/p/1/Code.zip")
    with pytest.raises(StackInputError, match="needs the blob store on S3"):
        artifact_attribute(url, GetArtifactAtt("Code", "BucketName"), settings)


def test_an_artifact_not_in_the_execution_is_named(tmp_path: Path) -> None:
    with (
        ArtifactFiles(LocalBlobStore(tmp_path / "blobs"), {}, tmp_path) as files,
        pytest.raises(StackInputError) as info,
    ):
        files.read(WHERE)
    assert str(info.value) == "input artifact SourceOutput was not produced in this execution"
