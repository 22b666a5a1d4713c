"""Which EC2 instance stands for a host in Classic Load Balancers, what describe_instance_health answers mean for
Block/AllowTraffic, how long BlockTraffic waits for draining, and which groups have traffic control."""

from __future__ import annotations

import pytest

from conveyor.deploy.aws_calls import AwsStepFailed, StepErrorCode
from conveyor.deploy.classic_load_balancers import (
    ClassicLoadBalancer,
    HostInstance,
    block_wait_seconds,
    describe_state,
    host_instance,
    is_in_service,
    is_out,
)
from conveyor.deploy.group_spec import parse_deployment_group
from conveyor.deploy.load_balancers import TrafficWait, classic_load_balancer_names, traffic_controlled
from conveyor.deploy.platforms import ComputePlatform
from conveyor.errors import SpecError

INSTANCE = "i-0abc12345def67890"
OTHER = "i-0fedcba9876543210"
WITH_TRAFFIC_CONTROL = {"deploymentOption": "WITH_TRAFFIC_CONTROL"}


@pytest.mark.parametrize(
    ("host", "tags", "instance"),
    [
        ("web-1", {"ElbInstanceId": INSTANCE, "ElbTargetId": "10.0.1.5"}, INSTANCE),
        ("web-1", {"ElbInstanceId": INSTANCE, "ElbTargetId": OTHER}, INSTANCE),
        ("web-1", {"ElbTargetId": INSTANCE}, INSTANCE),
        (INSTANCE, {}, INSTANCE),
        (INSTANCE, {"ElbTargetId": OTHER}, OTHER),
        (INSTANCE, {"ElbTargetId": "10.0.1.5"}, INSTANCE),
    ],
    ids=["instance-tag-beside-an-ip", "instance-tag-first", "target-tag", "own-name", "target-tag-beats-name", "ip"],
)
def test_the_instance_comes_from_the_tags_then_the_name(host: str, tags: dict[str, str], instance: str) -> None:
    found = host_instance(host, tags, ["shop-elb"])
    assert found == HostInstance(host, instance)
    assert found.as_instance() == {"InstanceId": instance}


@pytest.mark.parametrize(
    ("tags", "why"),
    [
        ({}, "neither a tag nor its name is one"),
        ({"ElbTargetId": "10.0.1.5"}, "neither its ElbTargetId tag '10.0.1.5' nor its name is one"),
        ({"ElbInstanceId": "web-1.internal", "ElbTargetId": INSTANCE}, "its ElbInstanceId tag 'web-1.internal' is"),
    ],
    ids=["untagged", "ip-target", "bad-instance-tag"],
)
def test_a_host_without_an_instance_is_refused_naming_it_and_the_load_balancers(tags: dict[str, str], why: str) -> None:
    with pytest.raises(AwsStepFailed) as info:
        host_instance("web-1", tags, ["shop-elb", "old-elb"])
    assert info.value.error_code is StepErrorCode.ELB_INVALID_INSTANCE
    assert info.value.message.startswith(
        "host web-1 cannot be named to Classic Load Balancers shop-elb, old-elb: a Classic Load Balancer takes EC2 "
        f"instance ids and {why}"
    )
    assert "tag the host with ElbInstanceId" in info.value.message


def test_what_the_instance_states_mean() -> None:
    serving = {"State": "InService", "ReasonCode": "N/A", "Description": "N/A"}
    draining = {
        "State": "InService",
        "ReasonCode": "N/A",
        "Description": "Instance deregistration currently in progress.",
    }
    failing = {"State": "OutOfService", "ReasonCode": "Instance", "Description": "Instance has failed at least the ..."}
    unregistered = {"State": "Unknown", "ReasonCode": "N/A", "Description": "N/A"}
    transient = {"State": "Unknown", "ReasonCode": "ELB", "Description": "A transient error occurred."}
    gone = {
        "State": "OutOfService",
        "ReasonCode": "Instance",
        "Description": "Instance is not currently registered with the LoadBalancer.",
    }
    assert [is_out(s) for s in (None, unregistered, gone, transient, draining, serving, failing)] == [
        True,
        True,
        True,
        False,
        False,
        False,
        False,
    ]
    assert not is_in_service(gone)
    assert [is_in_service(s) for s in (serving, draining, failing, None)] == [True, False, False, False]
    assert describe_state(serving) == "InService"
    assert describe_state(draining) == "InService: Instance deregistration currently in progress."
    assert describe_state(transient) == "Unknown, ELB: A transient error occurred."
    assert describe_state(None) == "not registered"


def test_block_traffic_waits_at_least_the_longest_connection_draining() -> None:
    wait = TrafficWait(timeout_seconds=60, poll_seconds=5)
    quick = ClassicLoadBalancer("quick", 0)
    assert block_wait_seconds(wait, [quick]) == 60
    assert block_wait_seconds(wait, [quick, ClassicLoadBalancer("slow", 300)]) == 305
    assert block_wait_seconds(wait, [ClassicLoadBalancer("short", 30)]) == 60


def test_classic_load_balancers_alone_give_a_group_traffic_control() -> None:
    group = {
        "deploymentStyle": WITH_TRAFFIC_CONTROL,
        "loadBalancerInfo": {"elbInfoList": [{"name": "a"}, {"name": "a"}]},
    }
    assert classic_load_balancer_names(group) == ("a",)
    assert traffic_controlled(group)
    assert not traffic_controlled({**group, "deploymentStyle": {"deploymentOption": "WITHOUT_TRAFFIC_CONTROL"}})
    assert not traffic_controlled({"deploymentStyle": WITH_TRAFFIC_CONTROL, "loadBalancerInfo": {}})


@pytest.mark.parametrize("style", ["IN_PLACE", "BLUE_GREEN"])
def test_a_host_group_may_name_classic_load_balancers_for_traffic_control(style: str) -> None:
    text = (
        "deploymentGroupName: web\n"
        f"deploymentStyle: {{deploymentType: {style}, deploymentOption: WITH_TRAFFIC_CONTROL}}\n"
        "loadBalancerInfo: {elbInfoList: [{name: shop-elb}]}\n"
    )
    spec = parse_deployment_group(text, ComputePlatform.SERVER)
    assert classic_load_balancer_names(spec.definition) == ("shop-elb",)


def test_traffic_control_without_any_load_balancer_is_refused() -> None:
    text = "deploymentGroupName: web\ndeploymentStyle: {deploymentOption: WITH_TRAFFIC_CONTROL}\n"
    with pytest.raises(SpecError) as info:
        parse_deployment_group(text, ComputePlatform.SERVER)
    assert "traffic control on hosts needs loadBalancerInfo.targetGroupInfoList or loadBalancerInfo.elbInfoList" in str(
        info.value
    )
