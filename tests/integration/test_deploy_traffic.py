"""In-place deployments on hosts behind ELBv2 target groups (moto): the full order with BlockTraffic and AllowTraffic,
targets taken out and put back, and the failures that name the target group and the host."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from conveyor import aws
from conveyor.deploy import deployments, registry
from conveyor.runtime import Runtime
from tests.support.elb import ElbWorld, elb_world
from tests.support.hosts import IN_PLACE_EVENTS, Fleet, app_revision, deploy, events_of, make_fleet

BLOCK = ["BeforeBlockTraffic", "BlockTraffic", "AfterBlockTraffic"]
ALLOW = ["BeforeAllowTraffic", "AllowTraffic", "AfterAllowTraffic"]
FULL_ORDER = [*BLOCK, *IN_PLACE_EVENTS, *ALLOW]
TRAFFIC_HOOKS = "".join(
    f"  {event}:\n    - location: scripts/journal.sh\n"
    for event in ("BeforeBlockTraffic", "AfterBlockTraffic", "BeforeAllowTraffic", "AfterAllowTraffic")
)
TRAFFIC_CONTROL = {
    "deploymentStyle": {"deploymentType": "IN_PLACE", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
    "loadBalancerInfo": {"targetGroupInfoList": [{"name": "shop-tg"}]},
}


@pytest.fixture
def world(rt: Runtime, fake_aws_credentials: None) -> Iterator[ElbWorld]:
    with mock_aws():
        made = elb_world(aws.client("ec2", rt.settings), aws.client("elbv2", rt.settings))
        made.listener(80, made.target_group("shop-tg"))
        made.target_group("shop-fleet", target_type="instance")
        yield made


def behind_balancer(
    rt: Runtime,
    tmp_path: Path,
    targets: dict[str, str | None],
    config: str = "CodeDeployDefault.OneAtATime",
    **group: Any,
) -> Fleet:
    """Hosts web-01, … in a group with traffic control; each tagged with its target id (None: no tag)."""
    fleet = make_fleet(rt, tmp_path, len(targets), config, **{**TRAFFIC_CONTROL, **group})
    for host, target in targets.items():
        registry.register_host(rt, host, {"Role": "web", **({"ElbTargetId": target} if target else {})})
    return fleet


def registered(world: ElbWorld, name: str = "shop-tg") -> dict[str, str]:
    arn = world.elbv2.describe_target_groups(Names=[name])["TargetGroups"][0]["TargetGroupArn"]
    found = world.elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
    return {d["Target"]["Id"]: d["TargetHealth"]["State"] for d in found}


def journal(fleet: Fleet, host: str, deployment_id: str) -> list[str]:
    """`<event> <version>` for each hook script the deployment ran on the host, in order."""
    lines = [line.split() for line in (fleet.roots[host] / "journal").read_text().splitlines()]
    return [f"{event} {version}" for event, version, deployment in lines if deployment == deployment_id]


def test_each_host_leaves_and_rejoins_the_target_group_in_the_full_order(
    rt: Runtime, tmp_path: Path, world: ElbWorld
) -> None:
    fleet = behind_balancer(rt, tmp_path, {"web-01": "10.0.1.11", "web-02": "10.0.1.12"})
    first = deploy(rt, app_revision("v1", extra_hooks=TRAFFIC_HOOKS))
    fleet.work()
    second = deploy(rt, app_revision("v2", extra_hooks=TRAFFIC_HOOKS))
    fleet.work()

    done = deployments.get_deployment(rt, first["deploymentId"])
    assert done["status"] == "Succeeded"
    on_first = events_of(done, "web-01")
    assert [name for name, _ in on_first] == FULL_ORDER
    assert on_first[0] == ("BeforeBlockTraffic", "Skipped")  # no revision installed before on this host
    assert on_first[2] == ("AfterBlockTraffic", "Skipped")
    done = deployments.get_deployment(rt, second["deploymentId"])
    assert done["status"] == "Succeeded"
    for host in ("web-01", "web-02"):
        assert events_of(done, host) == [(name, "Succeeded") for name in FULL_ORDER]
        # the BlockTraffic hooks and ApplicationStop from the last successful revision, the rest from the new one
        assert journal(fleet, host, second["deploymentId"]) == [
            "BeforeBlockTraffic v1",
            "AfterBlockTraffic v1",
            "ApplicationStop v1",
            "BeforeInstall v2",
            "ApplicationStart v2",
            "BeforeAllowTraffic v2",
            "AfterAllowTraffic v2",
        ]
    target = next(t for t in done["targets"] if t["targetId"] == "web-02")
    block = next(e for e in target["lifecycleEvents"] if e["lifecycleEventName"] == "BlockTraffic")
    allow = next(e for e in target["lifecycleEvents"] if e["lifecycleEventName"] == "AllowTraffic")
    assert block["startTime"] <= block["endTime"] <= allow["startTime"] <= allow["endTime"]
    assert registered(world) == {"10.0.1.11": "healthy", "10.0.1.12": "healthy"}


def test_a_failed_host_stays_out_until_the_rollback_puts_it_back_in_the_same_order(
    rt: Runtime, tmp_path: Path, world: ElbWorld
) -> None:
    rollback_on_failure = {"enabled": True, "events": ["DEPLOYMENT_FAILURE"]}
    fleet = behind_balancer(
        rt,
        tmp_path,
        {"web-01": "10.0.1.11"},
        "CodeDeployDefault.AllAtOnce",
        autoRollbackConfiguration=rollback_on_failure,
    )
    deploy(rt, app_revision("v1"))
    fleet.work()
    bad = deploy(rt, app_revision("v2", validate="echo v2 is broken >&2; exit 3"))
    fleet.work_next("web-01")

    failed = deployments.get_deployment(rt, bad["deploymentId"])
    assert failed["status"] == "Failed"
    assert events_of(failed, "web-01") == [
        *[(name, "Succeeded") for name in FULL_ORDER[: FULL_ORDER.index("ValidateService")]],
        ("ValidateService", "Failed"),
        *[(name, "Skipped") for name in ALLOW],
    ]
    assert registered(world) == {}  # blocked, never allowed again

    fleet.work()  # the rollback
    rollback = deployments.get_deployment(rt, failed["rollbackInfo"]["rollbackDeploymentId"])
    assert (rollback["creator"], rollback["status"]) == ("codeDeployRollback", "Succeeded")
    assert events_of(rollback, "web-01") == [(name, "Succeeded") for name in FULL_ORDER]
    assert registered(world) == {"10.0.1.11": "healthy"}
    assert (fleet.site("web-01") / "index.html").read_text() == "<h1>v1</h1>"


def test_a_host_with_no_target_fails_at_block_traffic_naming_itself(
    rt: Runtime, tmp_path: Path, world: ElbWorld
) -> None:
    fleet = behind_balancer(rt, tmp_path, {"web-01": None})
    created = deploy(rt, app_revision("v1"))
    fleet.work()

    failed = deployments.get_deployment(rt, created["deploymentId"])
    assert failed["status"] == "Failed"
    assert events_of(failed, "web-01") == [
        ("BeforeBlockTraffic", "Skipped"),
        ("BlockTraffic", "Failed"),
        *[(name, "Skipped") for name in FULL_ORDER[2:]],
    ]
    diagnostics = failed["targets"][0]["lifecycleEvents"][1]["diagnostics"]
    assert diagnostics["errorCode"] == "UnknownError"
    assert diagnostics["message"] == (
        "host web-01: it has no load balancer target: not an EC2 instance id or IP address; tag the host with "
        "ElbTargetId (and ElbTargetPort when its port is not the target group's) (ELB_INVALID_INSTANCE)"
    )
    assert not (fleet.roots["web-01"] / "journal").exists()  # nothing of the revision ran


def test_an_allow_traffic_refused_fails_the_host_naming_the_target_group(
    rt: Runtime, tmp_path: Path, world: ElbWorld
) -> None:
    instance = world.instance()
    world.ec2.stop_instances(InstanceIds=[instance])  # ELBv2 refuses to register a stopped instance
    fleet = behind_balancer(
        rt,
        tmp_path,
        {"web-01": instance},
        loadBalancerInfo={"targetGroupInfoList": [{"name": "shop-fleet"}]},
    )
    created = deploy(rt, app_revision("v1"))
    fleet.work()

    failed = deployments.get_deployment(rt, created["deploymentId"])
    assert failed["status"] == "Failed"
    assert events_of(failed, "web-01")[-3:] == [
        ("BeforeAllowTraffic", "Succeeded"),
        ("AllowTraffic", "Failed"),
        ("AfterAllowTraffic", "Skipped"),
    ]
    message = failed["targets"][0]["lifecycleEvents"][-2]["diagnostics"]["message"]
    assert message.startswith(f"could not register host web-01 (target {instance}) with target group shop-fleet: ")
    assert message.endswith("(ELB_INVALID_INSTANCE)")
    assert registered(world, "shop-fleet") == {}
    assert (fleet.site("web-01") / "index.html").read_text() == "<h1>v1</h1>"  # installed, but serving nothing


@pytest.mark.parametrize("ignore", [True, False])
def test_ignore_application_stop_failures_covers_the_block_traffic_hooks(
    rt: Runtime, tmp_path: Path, world: ElbWorld, ignore: bool
) -> None:
    fleet = behind_balancer(rt, tmp_path, {"web-01": "10.0.1.11"})
    failing_hook = "  BeforeBlockTraffic:\n    - location: scripts/refuse.sh\n"
    deploy(rt, app_revision("v1", extra_hooks=failing_hook, extra={"scripts/refuse.sh": "#!/bin/bash\nexit 7\n"}))
    fleet.work()
    second = deploy(rt, app_revision("v2"), ignore_application_stop_failures=ignore)
    fleet.work()

    done = deployments.get_deployment(rt, second["deploymentId"])
    events = events_of(done, "web-01")
    assert events[0] == ("BeforeBlockTraffic", "Failed")
    assert done["targets"][0]["lifecycleEvents"][0]["diagnostics"]["errorCode"] == "ScriptFailed"
    if ignore:
        assert done["status"] == "Succeeded"
        assert events[1:] == [(name, "Succeeded") for name in FULL_ORDER[1:]]
        assert registered(world) == {"10.0.1.11": "healthy"}
    else:
        assert done["status"] == "Failed"
        assert events[1:] == [(name, "Skipped") for name in FULL_ORDER[1:]]
        assert registered(world) == {"10.0.1.11": "healthy"}  # never blocked: still serving v1
