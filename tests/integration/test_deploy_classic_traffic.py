"""Deployments on hosts behind Classic Load Balancers, against one moto server (so that a hook script can look at
the load balancer while its host is deployed to, or take it away): in place, each host out of the load balancer
during its deployment and back in after; blue/green, the replacements registered and the originals deregistered; a
group with both a Classic Load Balancer and a target group; and the failures naming the host and the load balancer."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from moto.server import ThreadedMotoServer

from conveyor import aws
from conveyor.config import Settings
from conveyor.deploy import deployments, registry
from conveyor.devstack import free_port
from conveyor.runtime import Runtime
from tests.conftest import AWS_REGION, settings_for
from tests.support.blue_green import ALLOW, BLOCK, blue_green_fleet, deploy_to, labels, serving
from tests.support.elb import ElbWorld, classic_load_balancer, elb_world, in_service, registered_instances
from tests.support.hosts import IN_PLACE_EVENTS, Fleet, app_revision, deploy, events_of, make_fleet

FULL_ORDER = [*BLOCK, *IN_PLACE_EVENTS, *ALLOW]
FIRST_TIME_SKIPPED = {"BeforeBlockTraffic", "AfterBlockTraffic", "ApplicationStop"}
CLASSIC = {
    "deploymentStyle": {"deploymentType": "IN_PLACE", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
    "loadBalancerInfo": {"elbInfoList": [{"name": "shop-elb"}]},
}
BOTH = {"elbInfoList": [{"name": "shop-elb"}], "targetGroupInfoList": [{"name": "shop-tg"}]}
# A hook script in Python, run by the agent like any other: it reaches the same moto server as the host's agent.
PYTHON_HOOK = """#!{python}
import os
import boto3
elb = boto3.client("elb", region_name="{region}", endpoint_url="{endpoint}", aws_access_key_id="testing",
                   aws_secret_access_key="testing")
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), *[".."] * 7)
{body}
"""
LOOKOUT = """states = elb.describe_instance_health(LoadBalancerName="shop-elb")["InstanceStates"]
serving = sorted(s["InstanceId"] for s in states if s["State"] == "InService")
with open(os.path.join(root, "serving"), "a") as out:
    out.write(" ".join([os.environ["LIFECYCLE_EVENT"], *serving]) + "\\n")"""
TAKE_AWAY = 'elb.delete_load_balancer(LoadBalancerName="shop-elb")'


@pytest.fixture
def moto_endpoint(fake_aws_credentials: None) -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    requests.post(f"{endpoint}/moto-api/reset", timeout=10).raise_for_status()  # its backends outlive a server
    try:
        yield endpoint
    finally:
        server.stop()


@pytest.fixture
def settings(tmp_path: Path, database_url: str, redis_client: redis.Redis, moto_endpoint: str) -> Settings:
    return settings_for(tmp_path, database_url, aws_endpoint_url=moto_endpoint, aws_region=AWS_REGION)


@pytest.fixture
def world(rt: Runtime) -> ElbWorld:
    made = elb_world(aws.client("ec2", rt.settings), aws.client("elbv2", rt.settings))
    made.listener(80, made.target_group("shop-tg"))
    return made


@pytest.fixture
def elb(rt: Runtime) -> Any:
    return aws.client("elb", rt.settings)


def python_hook(rt: Runtime, body: str) -> str:
    endpoint = rt.settings.aws_endpoint_url
    return PYTHON_HOOK.format(python=sys.executable, region=AWS_REGION, endpoint=endpoint, body=body)


def hooks(**scripts: str) -> str:
    """appspec `hooks` entries: event name → script path."""
    return "".join(f"  {event}:\n    - location: {script}\n" for event, script in scripts.items())


def event(deployment: dict[str, Any], host: str, name: str) -> dict[str, Any]:
    """One lifecycle event of a host's target."""
    target = next(t for t in deployment["targets"] if t["targetId"] == host)
    found: dict[str, Any] = next(e for e in target["lifecycleEvents"] if e["lifecycleEventName"] == name)
    return found


def in_place_fleet(rt: Runtime, tmp_path: Path, tags: dict[str, dict[str, str]], **group: Any) -> Fleet:
    """Hosts web-01, … in a group behind shop-elb (OneAtATime), each with its load balancer tags."""
    fleet = make_fleet(rt, tmp_path, len(tags), **{**CLASSIC, **group})
    for host, host_tags in tags.items():
        registry.register_host(rt, host, {"Role": "web", **host_tags})
    return fleet


def test_each_host_is_out_of_the_classic_load_balancer_while_it_is_deployed_to(
    rt: Runtime, tmp_path: Path, world: ElbWorld, elb: Any
) -> None:
    first, second = world.instance(), world.instance()
    classic_load_balancer(elb, "shop-elb", (first, second), draining_seconds=20)
    fleet = in_place_fleet(rt, tmp_path, {"web-01": {"ElbTargetId": first}, "web-02": {"ElbTargetId": second}})
    lookout = hooks(AfterInstall="scripts/lookout.py", AfterAllowTraffic="scripts/lookout.py")
    created = deploy(
        rt, app_revision("v1", extra_hooks=lookout, extra={"scripts/lookout.py": python_hook(rt, LOOKOUT)})
    )
    fleet.work()

    done = deployments.get_deployment(rt, created["deploymentId"])
    assert done["status"] == "Succeeded", done
    for host in ("web-01", "web-02"):
        assert events_of(done, host) == [  # the hooks of an earlier revision are Skipped: there is none on the host
            (name, "Skipped" if name in FIRST_TIME_SKIPPED else "Succeeded") for name in FULL_ORDER
        ]
    # one host at a time: while one installs, only the other serves; after AllowTraffic both do
    assert (fleet.roots["web-01"] / "serving").read_text().splitlines() == [
        f"AfterInstall {second}",
        f"AfterAllowTraffic {' '.join(sorted([first, second]))}",
    ]
    assert (fleet.roots["web-02"] / "serving").read_text().splitlines() == [
        f"AfterInstall {first}",
        f"AfterAllowTraffic {' '.join(sorted([first, second]))}",
    ]
    assert in_service(elb, "shop-elb") == {first, second}


def test_a_classic_load_balancer_gone_before_allow_traffic_fails_the_host_naming_it(
    rt: Runtime, tmp_path: Path, world: ElbWorld, elb: Any
) -> None:
    instance = world.instance()
    classic_load_balancer(elb, "shop-elb", (instance,))
    fleet = in_place_fleet(rt, tmp_path, {"web-01": {"ElbInstanceId": instance}})
    take_away = hooks(BeforeAllowTraffic="scripts/take_away.py")
    created = deploy(
        rt, app_revision("v1", extra_hooks=take_away, extra={"scripts/take_away.py": python_hook(rt, TAKE_AWAY)})
    )
    fleet.work()

    failed = deployments.get_deployment(rt, created["deploymentId"])
    assert failed["status"] == "Failed"
    assert events_of(failed, "web-01")[-3:] == [
        ("BeforeAllowTraffic", "Succeeded"),
        ("AllowTraffic", "Failed"),
        ("AfterAllowTraffic", "Skipped"),
    ]
    diagnostics = event(failed, "web-01", "AllowTraffic")["diagnostics"]
    assert diagnostics["errorCode"] == "UnknownError"
    assert diagnostics["message"] == (
        f"host web-01 (instance {instance}): Classic Load Balancer shop-elb of loadBalancerInfo.elbInfoList: "
        "LoadBalancerNotFound: The specified load balancer does not exist: shop-elb (ELASTIC_LOAD_BALANCING_INVALID)"
    )


@pytest.mark.parametrize(
    ("balancer", "tags", "message"),
    [
        (
            "old-elb",
            {"ElbInstanceId": "{instance}"},
            "host web-01 (instance {instance}): Classic Load Balancer old-elb of loadBalancerInfo.elbInfoList: "
            "LoadBalancerNotFound: The specified load balancer does not exist: old-elb "
            "(ELASTIC_LOAD_BALANCING_INVALID)",
        ),
        (
            "shop-elb",
            {"ElbTargetId": "10.0.1.11"},
            "host web-01 cannot be named to Classic Load Balancer shop-elb: a Classic Load Balancer takes EC2 instance "
            "ids and neither its ElbTargetId tag '10.0.1.11' nor its name is one; tag the host with ElbInstanceId "
            "(its instance id, i-…) (ELB_INVALID_INSTANCE)",
        ),
    ],
    ids=["unknown-load-balancer", "host-without-instance"],
)
def test_block_traffic_fails_before_anything_of_the_revision_runs(
    rt: Runtime, tmp_path: Path, world: ElbWorld, elb: Any, balancer: str, tags: dict[str, str], message: str
) -> None:
    instance = world.instance()
    classic_load_balancer(elb, "shop-elb", (instance,))
    host_tags = {key: value.format(instance=instance) for key, value in tags.items()}
    fleet = in_place_fleet(rt, tmp_path, {"web-01": host_tags}, loadBalancerInfo={"elbInfoList": [{"name": balancer}]})
    created = deploy(rt, app_revision("v1"))
    fleet.work()

    failed = deployments.get_deployment(rt, created["deploymentId"])
    assert failed["status"] == "Failed"
    assert events_of(failed, "web-01")[:3] == [
        ("BeforeBlockTraffic", "Skipped"),
        ("BlockTraffic", "Failed"),
        ("AfterBlockTraffic", "Skipped"),
    ]
    assert event(failed, "web-01", "BlockTraffic")["diagnostics"]["message"] == message.format(instance=instance)
    assert not (fleet.roots["web-01"] / "journal").exists()  # nothing of the revision ran
    assert in_service(elb, "shop-elb") == {instance}  # never taken out


def test_a_group_with_both_kinds_takes_its_hosts_out_of_both_and_back(
    rt: Runtime, tmp_path: Path, world: ElbWorld, elb: Any
) -> None:
    instance = world.instance()
    classic_load_balancer(elb, "shop-elb")
    fleet = in_place_fleet(
        rt,
        tmp_path,
        {"web-01": {"ElbTargetId": "10.0.1.11", "ElbInstanceId": instance}},
        loadBalancerInfo=BOTH,
    )
    deploy(rt, app_revision("v1"))
    fleet.work()
    assert in_service(elb, "shop-elb") == {instance}
    assert serving(world) == {"10.0.1.11"}

    broken = deploy(rt, app_revision("v2", validate="exit 3"))
    fleet.work()
    failed = deployments.get_deployment(rt, broken["deploymentId"])
    assert failed["status"] == "Failed"
    assert events_of(failed, "web-01")[:2] == [("BeforeBlockTraffic", "Succeeded"), ("BlockTraffic", "Succeeded")]
    assert registered_instances(elb, "shop-elb") == set()  # blocked from both, never allowed again
    assert serving(world) == set()


@pytest.mark.parametrize("balancers", [{"elbInfoList": [{"name": "shop-elb"}]}, BOTH], ids=["classic", "both"])
def test_blue_green_moves_a_classic_load_balancer_to_the_replacements(
    rt: Runtime, tmp_path: Path, world: ElbWorld, elb: Any, balancers: dict[str, Any]
) -> None:
    instances = {host: world.instance() for host in ("web-01", "web-02", "next-01", "next-02")}
    classic_load_balancer(elb, "shop-elb", (instances["web-01"], instances["web-02"]))
    fleet = blue_green_fleet(rt, tmp_path, world, group={"loadBalancerInfo": balancers}, instances=instances)
    created = deploy_to(rt, app_revision("v1"))
    fleet.work()

    done = deployments.get_deployment(rt, created)
    assert done["status"] == "Succeeded", done
    assert labels(done) == {
        "next-01": ("Green", "Succeeded"),
        "next-02": ("Green", "Succeeded"),
        "web-01": ("Blue", "Succeeded"),
        "web-02": ("Blue", "Succeeded"),
    }
    assert events_of(done, "web-01")[1] == ("BlockTraffic", "Succeeded")
    assert registered_instances(elb, "shop-elb") == {instances["next-01"], instances["next-02"]}
    assert in_service(elb, "shop-elb") == {instances["next-01"], instances["next-02"]}
    # the target group, when the group names it too, moved the same way; alone, the Classic one leaves it as it was
    assert serving(world) == (
        {"10.0.1.21", "10.0.1.22"} if "targetGroupInfoList" in balancers else {"10.0.1.11", "10.0.1.12"}
    )


def test_blue_green_with_an_unknown_classic_load_balancer_fails_at_allow_traffic_and_the_originals_serve(
    rt: Runtime, tmp_path: Path, world: ElbWorld, elb: Any
) -> None:
    instances = {host: world.instance() for host in ("web-01", "next-01")}
    classic_load_balancer(elb, "shop-elb", (instances["web-01"],))
    fleet = blue_green_fleet(
        rt,
        tmp_path,
        world,
        size=1,
        group={"loadBalancerInfo": {"elbInfoList": [{"name": "shop-elb"}, {"name": "old-elb"}]}},
        instances=instances,
    )
    created = deploy_to(rt, app_revision("v1"))
    fleet.work()

    failed = deployments.get_deployment(rt, created)
    assert failed["status"] == "Failed"
    assert events_of(failed, "next-01")[-3:] == [
        ("BeforeAllowTraffic", "Succeeded"),
        ("AllowTraffic", "Failed"),
        ("AfterAllowTraffic", "Skipped"),
    ]
    assert event(failed, "next-01", "AllowTraffic")["diagnostics"]["message"] == (
        f"host next-01 (instance {instances['next-01']}): Classic Load Balancer old-elb of "
        "loadBalancerInfo.elbInfoList: LoadBalancerNotFound: The specified load balancer does not exist: old-elb "
        "(ELASTIC_LOAD_BALANCING_INVALID)"
    )
    assert registered_instances(elb, "shop-elb") == {instances["web-01"]}  # nothing moved
    assert labels(failed)["web-01"] == ("Blue", "Skipped")
