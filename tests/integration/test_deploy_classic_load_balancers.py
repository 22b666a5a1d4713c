"""BlockTraffic and AllowTraffic against Classic Load Balancers in moto: registering, deregistering, waiting (with an
injected clock), connection draining read from the load balancer, and the errors that name the load balancer and
the host."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from conveyor import aws
from conveyor.config import Settings, load_settings
from conveyor.deploy.aws_calls import AwsStepFailed, StepErrorCode
from conveyor.deploy.classic_load_balancers import (
    HostInstance,
    allow_traffic,
    block_traffic,
    instance_state,
    is_in_service,
    is_out,
    resolve_load_balancers,
)
from conveyor.deploy.load_balancers import TrafficWait
from conveyor.deploy.status import DeploymentErrorCode
from tests.conftest import AWS_REGION
from tests.support.clock import FakeClock
from tests.support.elb import classic_load_balancer, in_service, registered_instances


@dataclass
class ClassicWorld:
    ec2: Any
    elb: Any

    def instance(self) -> str:
        made = self.ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)
        instance_id: str = made["Instances"][0]["InstanceId"]
        return instance_id


@pytest.fixture
def settings(tmp_path: Path, fake_aws_credentials: None) -> Settings:
    return load_settings(environ={}, overrides={"data_dir": tmp_path / "data", "aws_region": AWS_REGION})


@pytest.fixture
def world(settings: Settings) -> Iterator[ClassicWorld]:
    with mock_aws():
        made = ClassicWorld(aws.client("ec2", settings), aws.client("elb", settings))
        classic_load_balancer(made.elb, "web-elb")
        classic_load_balancer(made.elb, "api-elb", draining_seconds=300)
        yield made


def test_allow_then_block_traffic_in_every_classic_load_balancer(world: ClassicWorld) -> None:
    instance = world.instance()
    clock = FakeClock()
    wait = TrafficWait(timeout_seconds=60, poll_seconds=5, sleep=clock.sleep, clock=clock)
    tags = {"ElbTargetId": instance}

    allow_traffic(world.elb, ["web-elb", "api-elb"], "web-1", tags, wait)
    assert in_service(world.elb, "web-elb") == {instance}
    assert in_service(world.elb, "api-elb") == {instance}

    block_traffic(world.elb, ["web-elb", "api-elb"], "web-1", tags, wait)
    assert registered_instances(world.elb, "web-elb") == set()
    assert registered_instances(world.elb, "api-elb") == set()
    assert clock.sleeps == []  # moto answers at once: nothing to wait for

    block_traffic(world.elb, ["web-elb"], "web-1", tags, wait)  # already out: done, not an error
    assert registered_instances(world.elb, "web-elb") == set()


def test_a_host_is_named_by_its_instance_tag_or_its_own_name(world: ClassicWorld) -> None:
    tagged, named = world.instance(), world.instance()
    allow_traffic(world.elb, ["web-elb"], "web-1", {"ElbTargetId": "10.0.1.5", "ElbInstanceId": tagged})
    allow_traffic(world.elb, ["web-elb"], named, {})
    assert in_service(world.elb, "web-elb") == {tagged, named}


def test_an_unknown_load_balancer_is_named_with_the_host_and_nothing_changes(world: ClassicWorld) -> None:
    instance = world.instance()
    with pytest.raises(AwsStepFailed) as info:
        allow_traffic(world.elb, ["web-elb", "no-such-elb"], "web-1", {"ElbInstanceId": instance})

    assert info.value.error_code is StepErrorCode.ELASTIC_LOAD_BALANCING_INVALID
    assert info.value.message == (
        f"host web-1 (instance {instance}): Classic Load Balancer no-such-elb of loadBalancerInfo.elbInfoList: "
        "LoadBalancerNotFound: The specified load balancer does not exist: no-such-elb"
    )
    assert registered_instances(world.elb, "web-elb") == set()  # nothing is registered before every one is known


def test_an_instance_that_never_comes_in_service_times_out_naming_it(world: ClassicWorld) -> None:
    instance = world.instance()
    world.ec2.stop_instances(InstanceIds=[instance])  # moto registers it, and reports it OutOfService
    clock = FakeClock()

    with pytest.raises(AwsStepFailed) as info:
        allow_traffic(
            world.elb, ["web-elb"], "web-2", {"ElbInstanceId": instance}, TrafficWait(20, 5, clock.sleep, clock)
        )

    assert info.value.error_code is DeploymentErrorCode.TIMEOUT
    assert info.value.message == (
        f"host web-2 (instance {instance}) did not manage to come InService in Classic Load Balancer web-elb "
        "within 20 s; last state: OutOfService"
    )
    assert len(clock.sleeps) == 4
    assert registered_instances(world.elb, "web-elb") == {instance}  # registered: AWS may still bring it in


def test_connection_draining_and_instance_states_are_read_from_each_load_balancer(world: ClassicWorld) -> None:
    instance = HostInstance("web-1", world.instance())
    found = resolve_load_balancers(world.elb, ["web-elb", "api-elb"], instance)
    assert [(b.name, b.draining_seconds) for b in found] == [("web-elb", 0), ("api-elb", 300)]
    assert is_out(instance_state(world.elb, found[0], instance))

    allow_traffic(world.elb, ["web-elb"], "web-1", {"ElbInstanceId": instance.id})
    assert is_in_service(instance_state(world.elb, found[0], instance))
    assert not is_out(instance_state(world.elb, found[0], instance))


def test_a_host_that_cannot_be_named_is_refused_before_any_call(world: ClassicWorld) -> None:
    with pytest.raises(AwsStepFailed) as info:
        block_traffic(world.elb, ["web-elb", "no-such-elb"], "web-3", {"ElbTargetId": "10.0.1.7"})
    assert info.value.error_code is StepErrorCode.ELB_INVALID_INSTANCE
    assert info.value.message == (
        "host web-3 cannot be named to Classic Load Balancers web-elb, no-such-elb: a Classic Load Balancer takes EC2 "
        "instance ids and neither its ElbTargetId tag '10.0.1.7' nor its name is one; tag the host with "
        "ElbInstanceId (its instance id, i-…)"
    )
    with pytest.raises(AwsStepFailed, match=r"names no Classic Load Balancer \(loadBalancerInfo.elbInfoList\)"):
        allow_traffic(world.elb, [], "web-3", {"ElbInstanceId": world.instance()})
