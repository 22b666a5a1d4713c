"""Blue/green fleets for deploy tests: a group `shop/web` behind the target group `shop-tg` (moto), its original
hosts web-01, … (tag Role=web) and replacement hosts next-01, … (tag Role=next), each served by this process."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from conveyor.deploy import deployments, registry, revisions
from conveyor.runtime import Runtime
from jobs.deploy import serve_host
from tests.support.elb import ElbWorld
from tests.support.hosts import Fleet, make_fleet, zip_bytes

BLOCK = ["BeforeBlockTraffic", "BlockTraffic", "AfterBlockTraffic"]
ALLOW = ["BeforeAllowTraffic", "AllowTraffic", "AfterAllowTraffic"]
TRAFFIC_HOOKS = "".join(
    f"  {event}:\n    - location: scripts/journal.sh\n"
    for event in ("BeforeBlockTraffic", "AfterBlockTraffic", "BeforeAllowTraffic", "AfterAllowTraffic")
)
REPLACEMENTS = {"tagFilters": [{"Key": "Role", "Value": "next", "Type": "KEY_AND_VALUE"}]}
ORIGINALS = {"tagFilters": [{"Key": "Role", "Value": "web", "Type": "KEY_AND_VALUE"}]}


def blue_green_fleet(
    rt: Runtime,
    tmp_path: Path,
    world: ElbWorld,
    size: int = 2,
    config: str = "CodeDeployDefault.OneAtATime",
    group: dict[str, Any] | None = None,
    instances: Mapping[str, str] | None = None,
    **blue_green: Any,
) -> Fleet:
    """`size` original hosts web-0N (10.0.1.1N, serving in shop-tg) and `size` replacements next-0N (10.0.1.2N);
    `group` adds to (or replaces keys of) the group's definition, `instances` gives hosts an ElbInstanceId tag."""
    definition = {
        "deploymentStyle": {"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
        "loadBalancerInfo": {"targetGroupInfoList": [{"name": "shop-tg"}]},
        "blueGreenDeploymentConfiguration": blue_green,
        **(group or {}),
    }
    fleet = make_fleet(rt, tmp_path, size, config, **definition)
    for index in range(1, size + 1):
        for host, role, address in ((f"web-{index:02d}", "web", 10 + index), (f"next-{index:02d}", "next", 20 + index)):
            instance = {"ElbInstanceId": instances[host]} if instances and host in instances else {}
            registry.register_host(rt, host, {"Role": role, "ElbTargetId": f"10.0.1.{address}", **instance})
        replacement = f"next-{index:02d}"
        fleet.roots[replacement] = tmp_path / "hosts" / replacement
        fleet.roots[replacement].mkdir(parents=True)
        serve_host(replacement, fleet.roots[replacement])
    world.elbv2.register_targets(
        TargetGroupArn=arn(world), Targets=[{"Id": f"10.0.1.{10 + i}"} for i in range(1, size + 1)]
    )
    return fleet


def arn(world: ElbWorld, name: str = "shop-tg") -> str:
    found: str = world.elbv2.describe_target_groups(Names=[name])["TargetGroups"][0]["TargetGroupArn"]
    return found


def serving(world: ElbWorld) -> set[str]:
    """The targets registered in shop-tg."""
    found = world.elbv2.describe_target_health(TargetGroupArn=arn(world))["TargetHealthDescriptions"]
    return {d["Target"]["Id"] for d in found}


def deploy_to(rt: Runtime, files: dict[str, str], target_instances: Any = REPLACEMENTS, **options: Any) -> str:
    """Deploy a zip of `files` blue/green to shop/web, the replacements those `target_instances` match."""
    revision = revisions.store_bundle(rt, zip_bytes(files), "zip")
    request = deployments.DeploymentRequest("shop", "web", revision, target_instances=target_instances, **options)
    return str(deployments.create_deployment(rt, request)["deploymentId"])


def journal(fleet: Fleet, host: str, deployment_id: str) -> list[str]:
    """`<event> <version>` for each hook script the deployment ran on the host, in order."""
    path = fleet.roots[host] / "journal"
    lines = [line.split() for line in path.read_text().splitlines()] if path.exists() else []
    return [f"{event} {version}" for event, version, deployment in lines if deployment == deployment_id]


def labels(deployment: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Each target's (label, status)."""
    return {t["targetId"]: (t["instanceLabel"], t["status"]) for t in deployment["targets"]}
