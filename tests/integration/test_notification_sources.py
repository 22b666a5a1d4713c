"""Builds and deployments told like pipelines: their state changes are events, EventBridge gets them through
PutEvents (moto, read back through a rule to an SQS queue), and a deployment that fails and is rolled back is told
step by step."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from conveyor.deploy import deployments
from conveyor.notify import rules
from conveyor.pipeline import definitions, views
from conveyor.pipeline import service as pipelines
from conveyor.runtime import Runtime
from tests.conftest import AWS_REGION
from tests.support.gitrepo import GitRepo
from tests.support.hosts import app_revision, deploy, make_fleet
from tests.support.notifications import SIGNING_SECRET, notify, rule
from tests.support.pipelines import SIMPLE_BUILDSPEC, as_yaml, pipeline
from tests.support.receivers import Receiver

P = "codepipeline-pipeline-"
D = "codedeploy-application-deployment-"


@pytest.fixture
def aws(fake_aws_credentials: None) -> Iterator[None]:
    with mock_aws():
        yield


def _queue_behind_the_bus(bus: str) -> Any:
    """An SQS queue that an EventBridge rule on `bus` feeds with every conveyor.* event: what moto delivered."""
    sqs, events = boto3.client("sqs", region_name=AWS_REGION), boto3.client("events", region_name=AWS_REGION)
    if bus != "default":
        events.create_event_bus(Name=bus)
    url = sqs.create_queue(QueueName=f"{bus}-seen")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    pattern = {"source": [{"prefix": "conveyor."}]}
    events.put_rule(Name="everything", EventBusName=bus, EventPattern=json.dumps(pattern))
    events.put_targets(Rule="everything", EventBusName=bus, Targets=[{"Id": "queue", "Arn": arn}])
    return lambda: [
        json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    ]


def test_eventbridge_receives_pipeline_and_build_events_through_put_events(
    aws: None, rt: Runtime, repo: GitRepo, run_jobs: Any
) -> None:
    seen = _queue_behind_the_bus("releases")
    repo.commit({"buildspec.yml": SIMPLE_BUILDSPEC})
    definitions.create_pipeline(rt, as_yaml(pipeline("shop", repo.url)))
    told = [f"{P}pipeline-execution-succeeded", "codebuild-project-build-state-succeeded"]
    target = {"type": "eventbridge", "eventBusName": "releases", "region": AWS_REGION}
    rules.create_rule(rt, rule("to-bus", told, target, pipelines=["shop"], projects=["app"]))

    execution_id = pipelines.start_pipeline(rt, "shop")
    run_jobs()
    notify(rt, run_jobs)

    assert views.get_execution(rt, execution_id)["status"] == "Succeeded"
    build, done = seen()
    assert (build["source"], build["detail-type"]) == ("conveyor.codebuild", "CodeBuild Build State Change")
    assert build["detail"]["build-status"] == "SUCCEEDED"
    assert build["detail"]["project-name"] == "app"
    assert build["resources"] == [f"arn:aws:codebuild:{AWS_REGION}:000000000000:build/{build['detail']['build-id']}"]
    assert (done["source"], done["detail-type"]) == (
        "conveyor.codepipeline",
        "CodePipeline Pipeline Execution State Change",
    )
    assert done["detail"] | {"execution-id": execution_id, "state": "SUCCEEDED", "pipeline": "shop"} == done["detail"]
    assert [d["status"] for d in rules.list_deliveries(rt, "to-bus")] == ["Delivered", "Delivered"]


def test_a_bus_that_does_not_exist_fails_the_delivery_not_the_pipeline(
    aws: None, rt: Runtime, repo: GitRepo, run_jobs: Any
) -> None:
    repo.commit({"buildspec.yml": SIMPLE_BUILDSPEC})
    definitions.create_pipeline(rt, as_yaml(pipeline("shop", repo.url)))
    target = {"type": "eventbridge", "eventBusName": "nowhere", "region": AWS_REGION}
    rules.create_rule(rt, rule("lost", [f"{P}pipeline-execution-started"], target))

    execution_id = pipelines.start_pipeline(rt, "shop")
    run_jobs()
    notify(rt, run_jobs)

    assert views.get_execution(rt, execution_id)["status"] == "Succeeded"
    [delivery] = rules.list_deliveries(rt, "lost")
    assert delivery["status"] == "Failed"
    assert "nowhere" in delivery["lastError"]


def test_a_deployment_that_fails_is_told_failed_rolled_back_and_its_rollback_told_too(
    rt: Runtime, tmp_path: Path, run_jobs: Any, webhook_receiver: Receiver
) -> None:
    fleet = make_fleet(rt, tmp_path, 2, autoRollbackConfiguration={"enabled": True, "events": ["DEPLOYMENT_FAILURE"]})
    told = [f"{D}started", f"{D}succeeded", f"{D}failed", f"{D}stopped", f"{D}rolled-back"]
    target = {"type": "webhook", "url": f"{webhook_receiver.url}/deploys", "secret": SIGNING_SECRET}
    rules.create_rule(rt, rule("deploys", told, target, applications=["shop"]))
    rules.create_rule(rt, rule("elsewhere", told, target, applications=["other"]))

    first = deploy(rt, app_revision("v1"))["deploymentId"]
    fleet.work()
    second = deploy(rt, app_revision("v2", validate="exit 1"))["deploymentId"]
    fleet.work()
    rollback = deployments.get_deployment(rt, second)["rollbackInfo"]["rollbackDeploymentId"]
    fleet.work()
    third = deploy(rt, app_revision("v3"))["deploymentId"]
    deployments.stop_deployment(rt, third, rollback=False)
    fleet.work()
    notify(rt, run_jobs)

    seen = [(b["detail"]["deploymentId"], b["detail"]["state"]) for b in webhook_receiver.bodies()]
    assert seen == [
        (first, "START"),
        (first, "SUCCESS"),
        (second, "START"),
        (second, "FAILURE"),
        (second, "ROLLBACK"),
        (rollback, "START"),
        (rollback, "SUCCESS"),
        (third, "START"),
        (third, "STOP"),
    ]
    failure = webhook_receiver.bodies()[3]
    assert failure["detail"]["errorInformation"]["code"] == "HEALTH_CONSTRAINTS"
    assert failure["detail"] | {"application": "shop", "deploymentGroup": "web"} == failure["detail"]
    assert webhook_receiver.bodies()[4]["detail"]["rollbackDeploymentId"] == rollback
    assert [r.headers["x-conveyor-event"] for r in webhook_receiver.requests][3:6] == [
        f"{D}failed",
        f"{D}rolled-back",
        f"{D}started",
    ]
    assert rules.list_deliveries(rt, "elsewhere") == []  # another application's rule hears nothing
