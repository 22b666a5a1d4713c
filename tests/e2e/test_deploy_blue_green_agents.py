"""A blue/green deployment through a running Conveyor with real `conveyor agent` processes, each standing for a host
with its own root directory, against one moto server for ELBv2: the replacements install and wait Ready while the
originals serve, then ContinueDeployment moves the target group from the originals to the replacements."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from moto.server import ThreadedMotoServer

from conveyor.devstack import free_port
from tests.conftest import AWS_REGION, REDIS_URL
from tests.e2e.conftest import RunningStack
from tests.support.elb import ElbWorld, elb_world
from tests.support.hosts import IN_PLACE_EVENTS, app_revision, zip_bytes

pytestmark = pytest.mark.e2e
AGENT = [sys.executable, "-c", "from conveyor.cli import main; main()", "--direct", "agent"]
HOSTS = {  # name: (tag Tier, target id)
    "blue-1": ("edge", "10.0.1.11"),
    "blue-2": ("edge", "10.0.1.12"),
    "green-1": ("next", "10.0.1.21"),
    "green-2": ("next", "10.0.1.22"),
}
GROUP = {
    "deploymentGroupName": "edge",
    "deploymentConfigName": "CodeDeployDefault.AllAtOnce",
    "onPremisesInstanceTagFilters": [{"Key": "Tier", "Value": "edge", "Type": "KEY_AND_VALUE"}],
    "deploymentStyle": {"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
    "loadBalancerInfo": {"targetGroupInfoList": [{"name": "edge-tg"}]},
    "blueGreenDeploymentConfiguration": {
        "deploymentReadyOption": {"actionOnTimeout": "STOP_DEPLOYMENT", "waitTimeInMinutes": 60}
    },
}
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}


@pytest.fixture
def moto_world(fake_aws_credentials: None) -> Iterator[tuple[str, ElbWorld]]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    requests.post(f"{endpoint}/moto-api/reset", timeout=10).raise_for_status()  # its backends outlive a server
    try:
        world = elb_world(
            boto3.client("ec2", region_name=AWS_REGION, endpoint_url=endpoint),
            boto3.client("elbv2", region_name=AWS_REGION, endpoint_url=endpoint),
        )
        arn = world.target_group("edge-tg")
        world.listener(80, arn)
        world.elbv2.register_targets(TargetGroupArn=arn, Targets=[{"Id": "10.0.1.11"}, {"Id": "10.0.1.12"}])
        yield endpoint, world
    finally:
        server.stop()


@pytest.fixture
def agents(conveyor_stack: RunningStack, moto_world: tuple[str, ElbWorld], tmp_path: Path) -> Iterator[dict[str, Path]]:
    settings = conveyor_stack.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONVEYOR_", "AWS_"))}
    env |= FAKE_CREDENTIALS | {
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
        "CONVEYOR_DATA_DIR": str(settings.data_dir),
        "CONVEYOR_DATABASE_URL": settings.database_url,
        "CONVEYOR_REDIS_URL": REDIS_URL,
        "CONVEYOR_BLOB_URL": settings.blob_url,
        "CONVEYOR_LEASE_SECONDS": "2",
        "CONVEYOR_AWS_REGION": AWS_REGION,
        "CONVEYOR_AWS_ENDPOINT_URL": moto_world[0],
    }
    roots = {name: tmp_path / "hosts" / name for name in HOSTS}
    logs = {name: (tmp_path / f"{name}.log").open("w") for name in HOSTS}
    processes = [
        subprocess.Popen(
            [*AGENT, "--name", name, "--tag", f"Tier={tier}", "--tag", f"ElbTargetId={ip}", "--root", str(roots[name])],
            env=env,
            stdout=logs[name],
            stderr=subprocess.STDOUT,
        )
        for name, (tier, ip) in HOSTS.items()
    ]
    try:
        conveyor_stack.wait_for("/hosts", lambda body: len(body["hosts"]) == len(HOSTS), timeout=60)
        yield roots
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=20)
        for name, log in logs.items():
            log.close()
            print(f"----- agent {name} -----\n{(tmp_path / f'{name}.log').read_text(errors='replace')[-3000:]}")


def _serving(world: ElbWorld) -> set[str]:
    arn = world.elbv2.describe_target_groups(Names=["edge-tg"])["TargetGroups"][0]["TargetGroupArn"]
    return {
        d["Target"]["Id"] for d in world.elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
    }


def _events(body: dict[str, Any], host: str) -> list[tuple[str, str]]:
    target = next(t for t in body["targets"] if t["targetId"] == host)
    return [(e["lifecycleEventName"], e["status"]) for e in target["lifecycleEvents"]]


def test_agents_install_wait_ready_then_move_the_traffic(
    conveyor_stack: RunningStack, moto_world: tuple[str, ElbWorld], agents: dict[str, Path]
) -> None:
    stack, world = conveyor_stack, moto_world[1]
    assert stack.api("POST", "/applications", json={"applicationName": "site"}).status_code == 201
    assert stack.api("POST", "/applications/site/deployment-groups", json=GROUP).status_code == 201
    uploaded = stack.api("POST", "/deployment-bundles?bundleType=zip", data=zip_bytes(app_revision("v1")))
    body = {
        "revision": uploaded.json()["revision"],
        "targetInstances": {"tagFilters": [{"Key": "Tier", "Value": "next", "Type": "KEY_AND_VALUE"}]},
    }
    created = stack.api("POST", "/applications/site/deployment-groups/edge/deployments", json=body)
    assert created.status_code == 201, created.text
    path = f"/deployments/{created.json()['deploymentId']}"

    ready = stack.wait_for(path, lambda b: b["status"] in ("Ready", "Failed", "Stopped"), timeout=120)
    assert ready["status"] == "Ready", ready
    assert _serving(world) == {"10.0.1.11", "10.0.1.12"}
    for root in (agents["green-1"], agents["green-2"]):
        assert (root / "var/www/shop/index.html").read_text() == "<h1>v1</h1>"

    continued = stack.api("POST", f"{path}/continue", json={"deploymentWaitType": "READY_WAIT"})
    assert continued.status_code == 200, continued.text
    done = stack.wait_for(path, lambda b: b["status"] in ("Succeeded", "Failed", "Stopped"), timeout=120)
    assert done["status"] == "Succeeded", done
    assert _serving(world) == {"10.0.1.21", "10.0.1.22"}
    allow = ["BeforeAllowTraffic", "AllowTraffic", "AfterAllowTraffic"]
    assert [name for name, _ in _events(done, "green-1")] == [*IN_PLACE_EVENTS, *allow]
    assert _events(done, "green-2")[1:] == [(name, "Succeeded") for name in [*IN_PLACE_EVENTS[1:], *allow]]
    assert _events(done, "blue-1") == [
        ("BeforeBlockTraffic", "Skipped"),
        ("BlockTraffic", "Succeeded"),
        ("AfterBlockTraffic", "Skipped"),
    ]
    group = stack.api("GET", "/applications/site/deployment-groups/edge").json()
    assert group["hosts"] == ["green-1", "green-2"]
