"""What a Lambda deployment refuses, and how: an invalid AppSpec or revision before anything is recorded, a second
deployment of a busy group, and hook reports CodeDeploy would refuse, in CodeDeploy's own error shapes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

from conveyor.deploy import deployments, revisions
from conveyor.deploy.deployments import DeploymentRequest
from conveyor.errors import Conflict, SpecError
from conveyor.runtime import Runtime
from tests.support.hosts import app_revision, make_fleet, zip_bytes
from tests.support.hosts import deploy as deploy_to_hosts
from tests.support.lambdas import Journal, appspec, deploy, make_group


def test_a_second_deployment_is_refused_while_one_runs(rt: Runtime, run_jobs: Any, journal: Journal) -> None:
    make_group(rt)
    created = deploy(rt)
    refused: list[str] = []

    def try_another(_shift: int) -> None:
        with pytest.raises(Conflict) as info:
            deploy(rt)
        refused.append(info.value.message)

    journal.on_shift = try_another
    run_jobs()
    assert refused[0] == (
        f"deployment group checkout already has deployment {created['deploymentId']} in progress; "
        "wait for it to end or stop it first"
    )


def test_an_invalid_appspec_is_refused_with_every_problem_and_nothing_recorded(rt: Runtime) -> None:
    make_group(rt)
    bad = appspec(current="1", target="$LATEST").replace("Alias: live", "Alias: 123")
    with pytest.raises(SpecError) as info:
        deploy(rt, bad)
    assert [p.path for p in info.value.problems] == [
        "Resources[0].Checkout.Properties.Alias",
        "Resources[0].Checkout.Properties.TargetVersion",
    ]
    assert deployments.list_deployments(rt, "shop", "checkout") == []


def test_a_revision_whose_sha256_does_not_match_is_refused(rt: Runtime, server: str) -> None:
    make_group(rt)
    revision = {"revisionType": "AppSpecContent", "appSpecContent": {"content": appspec(), "sha256": "0" * 64}}
    answer = requests.post(
        f"{server}/api/v1/applications/shop/deployment-groups/checkout/deployments",
        json={"revision": revision},
        timeout=10,
    )
    assert answer.status_code == 400
    assert "'revision.appSpecContent.sha256'" in answer.json()["message"]
    assert deployments.list_deployments(rt, "shop", "checkout") == []


def test_reports_that_cannot_be_taken_are_refused_in_codedeploys_terms(
    rt: Runtime, run_jobs: Any, journal: Journal, codedeploy: Any, server: str
) -> None:
    make_group(rt)
    created = deploy(rt, deployment_config_name="CodeDeployDefault.LambdaAllAtOnce")
    run_jobs()
    journal.join()
    [before, _after] = journal.invocations

    def refused(**request: Any) -> tuple[str, str]:
        with pytest.raises(codedeploy.exceptions.ClientError) as info:
            codedeploy.put_lifecycle_event_hook_execution_status(**request)
        error = info.value.response["Error"]
        return error["Code"], error["Message"]

    execution = before["LifecycleEventHookExecutionId"]
    assert refused(
        deploymentId=created["deploymentId"], lifecycleEventHookExecutionId=execution, status="Succeeded"
    ) == (
        "LifecycleEventAlreadyCompletedException",
        "the BeforeAllowTraffic event of this hook execution is no longer waiting for a status (it is Succeeded)",
    )
    assert refused(deploymentId=created["deploymentId"], lifecycleEventHookExecutionId="nope", status="Failed")[0] == (
        "InvalidLifecycleEventHookExecutionIdException"
    )
    assert refused(deploymentId="d-NOSUCHONE", lifecycleEventHookExecutionId=execution, status="Failed") == (
        "DeploymentDoesNotExistException",
        "deployment d-NOSUCHONE does not exist",
    )
    assert refused(deploymentId=created["deploymentId"], lifecycleEventHookExecutionId=execution, status="Done") == (
        "InvalidLifecycleEventHookExecutionStatusException",
        "status must be Succeeded or Failed, not 'Done'",
    )


def test_a_bundle_without_an_appspec_or_for_hosts_is_refused(rt: Runtime) -> None:
    make_group(rt)
    bundle = revisions.store_bundle(rt, zip_bytes({"index.py": "print(1)"}), "zip")
    with pytest.raises(SpecError) as info:
        deployments.create_deployment(rt, DeploymentRequest("shop", "checkout", bundle))
    assert info.value.problems[0].message == (
        "the revision has none of appspec.yml, appspec.yaml, appspec.json at its root"
    )
    with pytest.raises(SpecError) as hosts:
        deploy(rt, "version: 0.0\nos: linux\n")
    assert hosts.value.source == "revision.appSpecContent.content"
    assert deployments.list_deployments(rt, "shop", "checkout") == []


def test_a_report_for_a_deployment_to_hosts_is_refused(rt: Runtime, codedeploy: Any, tmp_path: Path) -> None:
    fleet = make_fleet(rt, tmp_path, 1)
    created = deploy_to_hosts(rt, app_revision("v1"))
    with pytest.raises(codedeploy.exceptions.ClientError) as info:
        codedeploy.put_lifecycle_event_hook_execution_status(
            deploymentId=created["deploymentId"], lifecycleEventHookExecutionId="e-1", status="Succeeded"
        )
    assert info.value.response["Error"]["Code"] == "UnsupportedActionForDeploymentTypeException"
    fleet.work()


def test_requests_that_are_not_a_hook_report_are_refused_in_aws_terms(rt: Runtime, server: str) -> None:
    garbled = requests.post(
        f"{server}/aws/codedeploy",
        data=b"{not json",
        headers={"X-Amz-Target": "CodeDeploy_20141006.PutLifecycleEventHookExecutionStatus"},
        timeout=10,
    )
    assert (garbled.status_code, garbled.json()["__type"]) == (400, "SerializationException")
    other = requests.post(
        f"{server}/aws/codedeploy",
        data=b"{}",
        headers={"X-Amz-Target": "CodeDeploy_20141006.StopDeployment"},
        timeout=10,
    )
    assert other.json()["__type"] == "UnknownOperationException"
    empty = requests.post(
        f"{server}/aws/codedeploy",
        data=b"{}",
        headers={"X-Amz-Target": "CodeDeploy_20141006.PutLifecycleEventHookExecutionStatus"},
        timeout=10,
    )
    assert (empty.status_code, empty.json()) == (
        400,
        {"__type": "DeploymentIdRequiredException", "message": "deploymentId is required"},
    )
    assert empty.headers["Content-Type"] == "application/x-amz-json-1.1"
