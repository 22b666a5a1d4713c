"""BlockTraffic and AllowTraffic against ELBv2 target groups in moto: registering, deregistering, waiting (with an
injected clock) and the errors that name the target group and the host."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from moto import mock_aws

from conveyor import aws
from conveyor.config import Settings, load_settings
from conveyor.deploy.aws_calls import AwsStepFailed, StepErrorCode
from conveyor.deploy.load_balancers import TrafficWait, allow_traffic, block_traffic
from conveyor.deploy.status import DeploymentErrorCode
from tests.conftest import AWS_REGION
from tests.support.clock import FakeClock
from tests.support.elb import ElbWorld, elb_world

WEB_1 = {"ElbTargetId": "10.0.1.5", "ElbTargetPort": "8080"}


@pytest.fixture
def settings(tmp_path: Path, fake_aws_credentials: None) -> Settings:
    return load_settings(environ={}, overrides={"data_dir": tmp_path / "data", "aws_region": AWS_REGION})


@pytest.fixture
def world(settings: Settings) -> Iterator[ElbWorld]:
    with mock_aws():
        made = elb_world(aws.client("ec2", settings), aws.client("elbv2", settings))
        for name in ("web", "api"):
            made.listener(80 if name == "web" else 81, made.target_group(name))
        made.target_group("fleet", target_type="instance")
        yield made


def _targets(world: ElbWorld, name: str) -> list[tuple[str, int, str]]:
    arn = world.elbv2.describe_target_groups(Names=[name])["TargetGroups"][0]["TargetGroupArn"]
    found = world.elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
    return [(d["Target"]["Id"], d["Target"]["Port"], d["TargetHealth"]["State"]) for d in found]


def test_allow_then_block_traffic_in_every_target_group(world: ElbWorld) -> None:
    clock = FakeClock()
    wait = TrafficWait(timeout_seconds=60, poll_seconds=5, sleep=clock.sleep, clock=clock)

    allow_traffic(world.elbv2, ["web", "api"], "web-1", WEB_1, wait)
    assert _targets(world, "web") == [("10.0.1.5", 8080, "healthy")]
    assert _targets(world, "api") == [("10.0.1.5", 8080, "healthy")]

    block_traffic(world.elbv2, ["web", "api"], "web-1", WEB_1, wait)
    assert _targets(world, "web") == []
    assert _targets(world, "api") == []
    assert clock.sleeps == []  # moto answers at once: nothing to wait for

    block_traffic(world.elbv2, ["web"], "web-1", WEB_1, wait)  # already out: done, not an error
    assert _targets(world, "web") == []


def test_an_instance_that_is_not_running_is_refused_naming_group_and_host(world: ElbWorld) -> None:
    instance = world.instance()
    world.ec2.stop_instances(InstanceIds=[instance])

    with pytest.raises(AwsStepFailed) as info:
        allow_traffic(world.elbv2, ["fleet"], "web-2", {"ElbTargetId": instance})

    assert info.value.error_code is StepErrorCode.ELB_INVALID_INSTANCE
    assert info.value.message.startswith(
        f"could not register host web-2 (target {instance}) with target group fleet: InvalidTarget:"
    )


def test_a_target_still_draining_times_out_blocking(world: ElbWorld) -> None:
    instance = world.instance()
    allow_traffic(world.elbv2, ["fleet"], instance, {})  # named by its instance id, no tag needed
    world.ec2.terminate_instances(InstanceIds=[instance])  # moto leaves its target draining
    clock = FakeClock()

    with pytest.raises(AwsStepFailed) as info:
        block_traffic(world.elbv2, ["fleet"], instance, {}, TrafficWait(20, 5, clock.sleep, clock))

    assert info.value.error_code is DeploymentErrorCode.TIMEOUT
    assert f"host {instance} (target {instance}) did not manage to leave target group fleet within 20 s" in str(
        info.value
    )
    assert "last state: draining, Target.DeregistrationInProgress" in info.value.message
    assert len(clock.sleeps) == 4


def test_a_missing_target_group_is_named(world: ElbWorld) -> None:
    with pytest.raises(AwsStepFailed) as info:
        allow_traffic(world.elbv2, ["web", "no-such-group"], "web-1", WEB_1)
    assert info.value.error_code is StepErrorCode.ELASTIC_LOAD_BALANCING_INVALID
    assert info.value.message.startswith(
        "target group no-such-group of loadBalancerInfo.targetGroupInfoList: TargetGroupNotFound"
    )
    assert _targets(world, "web") == []  # nothing is registered before every group is known


def test_a_host_without_a_target_or_of_the_wrong_kind_is_refused_before_any_call(world: ElbWorld) -> None:
    with pytest.raises(AwsStepFailed, match=r"^host web-3: it has no load balancer target"):
        block_traffic(world.elbv2, ["web"], "web-3", {"role": "web"})
    with pytest.raises(AwsStepFailed, match=r"target group fleet takes instance targets; host web-1"):
        allow_traffic(world.elbv2, ["web", "fleet"], "web-1", WEB_1)
    assert _targets(world, "web") == []
    with pytest.raises(AwsStepFailed, match=r"the deployment group names no target group"):
        allow_traffic(world.elbv2, [], "web-1", WEB_1)
