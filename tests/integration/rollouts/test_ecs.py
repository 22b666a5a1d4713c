"""ECS blue/green deployments end to end in moto: the replacement task set made behind the second target group, the
test listener and then the production listener moved to it, hook functions played by the test (reporting over HTTP
to a real Conveyor server), and a rollback that moves the listeners back and removes the replacement."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import select

from conveyor import aws
from conveyor.db.models import Dispatch
from conveyor.deploy import deployments, registry
from conveyor.deploy.deployments import DeploymentRequest
from conveyor.dispatch import Kind
from conveyor.errors import InvalidRequest
from conveyor.runtime import Runtime
from tests.support.elb import ElbWorld, elb_world
from tests.support.lambdas import AFTER, BEFORE, Journal, content_revision

ECS_EVENTS = [
    "BeforeInstall",
    "Install",
    "AfterInstall",
    "AllowTestTraffic",
    "AfterAllowTestTraffic",
    "BeforeAllowTraffic",
    "AllowTraffic",
    "AfterAllowTraffic",
]
ON_FAILURE = {"enabled": True, "events": ["DEPLOYMENT_FAILURE"]}


@dataclass
class Store:
    """A service `web` in cluster `shop` behind blue (production :80, test :8080), with its original task set."""

    world: ElbWorld
    ecs: Any
    blue: str
    green: str
    production: str
    test: str
    shifts: list[tuple[str, dict[str, int]]] = field(default_factory=list)  # (listener, weights) as Conveyor set them

    def weights(self, listener: str) -> dict[str, int]:
        [found] = self.world.elbv2.describe_listeners(ListenerArns=[listener])["Listeners"]
        [action] = found["DefaultActions"]
        if "ForwardConfig" not in action:
            return {action["TargetGroupArn"]: 100}
        return {g["TargetGroupArn"]: g["Weight"] for g in action["ForwardConfig"]["TargetGroups"] if g["Weight"]}

    def task_sets(self) -> list[dict[str, Any]]:
        return list(self.ecs.describe_task_sets(cluster="shop", service="web")["taskSets"])


@pytest.fixture
def store(rt: Runtime, journal: Journal) -> Store:
    world = elb_world(aws.client("ec2", rt.settings), aws.client("elbv2", rt.settings))
    blue, green = world.target_group("web-blue"), world.target_group("web-green")
    production, test = world.listener(80, blue), world.listener(8080, blue)
    ecs = aws.client("ecs", rt.settings)
    _service(ecs, world, blue)
    made = Store(world, ecs, blue, green, production, test)

    def noted(params: dict[str, Any], **_: Any) -> None:
        action = params["DefaultActions"][0]
        weights = {g["TargetGroupArn"]: g["Weight"] for g in action["ForwardConfig"]["TargetGroups"] if g["Weight"]}
        made.shifts.append(("production" if params["ListenerArn"] == production else "test", weights))

    aws.client("elbv2", rt.settings).meta.events.register(
        "provide-client-params.elastic-load-balancing-v2.ModifyListener", noted
    )
    _group(rt, made)
    return made


def _service(ecs: Any, world: ElbWorld, blue: str) -> None:
    """Cluster `shop`, task definitions web:1 and web:2, service `web` with its original task set behind blue."""
    ecs.create_cluster(clusterName="shop")
    for image in ("shop:1", "shop:2"):
        ecs.register_task_definition(
            family="web",
            networkMode="awsvpc",
            requiresCompatibilities=["FARGATE"],
            cpu="256",
            memory="512",
            containerDefinitions=[
                {"name": "web", "image": image, "cpu": 256, "memory": 512, "portMappings": [{"containerPort": 8000}]}
            ],
        )
    security_group = world.ec2.create_security_group(GroupName="web", Description="web", VpcId=world.vpc_id)["GroupId"]
    awsvpc = {"subnets": [world.subnet_id], "securityGroups": [security_group], "assignPublicIp": "DISABLED"}
    network = {"awsvpcConfiguration": awsvpc}
    ecs.create_service(
        cluster="shop",
        serviceName="web",
        desiredCount=0,  # moto cannot start awsvpc tasks (its network interfaces lack a DNS name): start none
        launchType="FARGATE",
        deploymentController={"type": "CODE_DEPLOY"},
        networkConfiguration=network,
    )
    ecs.create_task_set(
        cluster="shop",
        service="web",
        taskDefinition="web:1",
        externalId="original",
        launchType="FARGATE",
        networkConfiguration=network,
        loadBalancers=[{"targetGroupArn": blue, "containerName": "web", "containerPort": 8000}],
    )


def _group(rt: Runtime, store: Store) -> None:
    registry.create_application(rt, "store", compute_platform="ECS")
    canary = {"type": "TimeBasedCanary", "timeBasedCanary": {"canaryPercentage": 20, "canaryInterval": 1}}
    config = {
        "deploymentConfigName": "Canary20Percent1Second",
        "computePlatform": "ECS",
        "trafficRoutingConfig": canary,
    }
    registry.create_deployment_config(rt, json.dumps(config))
    pair = {
        "targetGroups": [{"name": "web-blue"}, {"name": "web-green"}],
        "prodTrafficRoute": {"listenerArns": [store.production]},
        "testTrafficRoute": {"listenerArns": [store.test]},
    }
    group = {
        "deploymentGroupName": "web",
        "deploymentConfigName": "Canary20Percent1Second",
        "ecsServices": [{"serviceName": "web", "clusterName": "shop"}],
        "loadBalancerInfo": {"targetGroupPairInfoList": [pair]},
        "autoRollbackConfiguration": ON_FAILURE,
    }
    registry.create_deployment_group(rt, "store", json.dumps(group))


def _appspec(task_definition: str = "web:2", hooks: list[dict[str, str]] | None = None) -> str:
    return json.dumps(
        {
            "version": "0.0",
            "Resources": [
                {
                    "TargetService": {
                        "Type": "AWS::ECS::Service",
                        "Properties": {
                            "TaskDefinition": task_definition,
                            "LoadBalancerInfo": {"ContainerName": "web", "ContainerPort": 8000},
                        },
                    }
                }
            ],
            "Hooks": hooks or [{"AfterAllowTestTraffic": BEFORE}, {"AfterAllowTraffic": AFTER}],
        }
    )


def _deploy(rt: Runtime, text: str | None = None) -> dict[str, Any]:
    return deployments.create_deployment(rt, DeploymentRequest("store", "web", content_revision(text or _appspec())))


def _events(deployment: dict[str, Any]) -> list[tuple[str, str]]:
    [target] = deployment["targets"]
    assert target["targetId"] == "shop:web"
    return [(e["lifecycleEventName"], e["status"]) for e in target["lifecycleEvents"]]


def test_a_blue_green_deployment_moves_the_listeners_to_a_replacement_task_set(
    rt: Runtime, run_jobs: Any, journal: Journal, store: Store
) -> None:
    created = _deploy(rt)
    run_jobs()

    deployment = deployments.get_deployment(rt, created["deploymentId"])
    assert deployment["status"] == "Succeeded", deployment.get("errorInformation")
    assert _events(deployment) == [
        (name, "Skipped" if name in ("BeforeInstall", "AfterInstall", "BeforeAllowTraffic") else "Succeeded")
        for name in ECS_EVENTS
    ]
    assert store.shifts == [
        ("test", {store.green: 100}),
        ("production", {store.blue: 80, store.green: 20}),
        ("production", {store.green: 100}),
    ]
    assert journal.order == [f"invoke {BEFORE}", f"invoke {AFTER}"]
    [replacement] = store.task_sets()  # the original was removed once the deployment succeeded
    assert replacement["externalId"] == created["deploymentId"]
    assert replacement["status"] == "PRIMARY"
    assert replacement["taskDefinition"].endswith("task-definition/web:2")
    assert replacement["loadBalancers"] == [
        {"targetGroupArn": store.green, "containerName": "web", "containerPort": 8000}
    ]
    with rt.db.reader() as session:
        attempts = session.scalars(select(Dispatch.attempt).where(Dispatch.kind == Kind.DEPLOY_ROLLOUT.value)).all()
    assert attempts == [1]  # one job ran it all, without a failed attempt


def test_a_failure_before_install_is_not_rolled_back(
    rt: Runtime, run_jobs: Any, journal: Journal, store: Store
) -> None:
    journal.answers[BEFORE] = "Failed"
    created = _deploy(rt, _appspec(hooks=[{"BeforeInstall": BEFORE}]))
    run_jobs()

    failed = deployments.get_deployment(rt, created["deploymentId"])
    assert failed["status"] == "Failed"
    assert _events(failed)[:2] == [("BeforeInstall", "Failed"), ("Install", "Skipped")]
    assert "rollbackInfo" not in failed  # nothing was replaced yet
    assert [s["externalId"] for s in store.task_sets()] == ["original"]
    assert store.shifts == []


def test_a_failed_hook_rolls_the_listeners_back_and_removes_the_replacement(
    rt: Runtime, run_jobs: Any, journal: Journal, store: Store
) -> None:
    journal.answers[AFTER] = "Failed"
    created = _deploy(rt)
    run_jobs()

    failed = deployments.get_deployment(rt, created["deploymentId"])
    assert failed["status"] == "Failed"
    assert failed["errorInformation"]["code"] == "HOOK_EXECUTION_FAILURE"
    assert _events(failed)[-1] == ("AfterAllowTraffic", "Failed")
    rollback = deployments.get_deployment(rt, failed["rollbackInfo"]["rollbackDeploymentId"])
    assert (rollback["status"], rollback["creator"]) == ("Succeeded", "codeDeployRollback")
    assert _events(rollback) == [("AllowTraffic", "Succeeded")]
    assert store.weights(store.production) == {store.blue: 100}
    assert store.weights(store.test) == {store.blue: 100}
    assert [s["externalId"] for s in store.task_sets()] == ["original"]


def test_a_task_definition_placeholder_is_refused_before_anything_is_recorded(rt: Runtime, store: Store) -> None:
    with pytest.raises(InvalidRequest, match="TaskDefinition is the placeholder <TASK_DEFINITION>"):
        _deploy(rt, _appspec("<TASK_DEFINITION>"))
    assert deployments.list_deployments(rt, "store", "web") == []
    assert [s["externalId"] for s in store.task_sets()] == ["original"]
