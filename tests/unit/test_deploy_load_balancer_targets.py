"""Which ELBv2 target stands for a host, and what describe_target_health answers mean for Block/AllowTraffic."""

from __future__ import annotations

import pytest

from conveyor.deploy.aws_calls import AwsStepFailed, StepErrorCode
from conveyor.deploy.load_balancers import (
    HostTarget,
    TargetGroup,
    check_target_kind,
    describe_state,
    host_target,
    is_allowed,
    is_blocked,
    never_allowed,
    target_group_names,
)


def test_the_tags_name_the_target_and_its_port() -> None:
    target = host_target("web-1", {"ElbTargetId": "10.0.1.5", "ElbTargetPort": "8080", "role": "web"})
    assert target == HostTarget("web-1", "10.0.1.5", 8080)
    assert target.as_target() == {"Id": "10.0.1.5", "Port": 8080}
    assert target.kind == "ip"
    assert str(target) == "host web-1 (target 10.0.1.5:8080)"


def test_a_host_named_by_its_instance_id_or_address_is_its_own_target() -> None:
    assert host_target("i-0abc12345def67890", {}).as_target() == {"Id": "i-0abc12345def67890"}
    assert host_target("i-0abc12345def67890", {}).kind == "instance"
    assert host_target("fd00::5", {}).id == "fd00::5"


@pytest.mark.parametrize(
    ("tags", "message"),
    [
        ({}, "host web-1: it has no load balancer target: not an EC2 instance id or IP address; tag the host with"),
        ({"ElbTargetId": "web-1.internal"}, "host web-1: its ElbTargetId tag 'web-1.internal' is not an EC2"),
        (
            {"ElbTargetId": "10.0.1.5", "ElbTargetPort": "http"},
            "host web-1: its ElbTargetPort tag 'http' is not a port",
        ),
        ({"ElbTargetId": "10.0.1.5", "ElbTargetPort": "70000"}, "host web-1: its ElbTargetPort tag '70000' is not"),
    ],
    ids=["untagged", "bad-id", "bad-port", "port-too-high"],
)
def test_a_host_without_a_usable_target_is_refused_by_name(tags: dict[str, str], message: str) -> None:
    with pytest.raises(AwsStepFailed) as info:
        host_target("web-1", tags)
    assert info.value.message.startswith(message)
    assert info.value.error_code is StepErrorCode.ELB_INVALID_INSTANCE


def test_a_target_of_the_wrong_kind_for_its_group_is_refused() -> None:
    ip_group = TargetGroup("blue", "arn:blue", "ip")
    check_target_kind(ip_group, HostTarget("web-1", "10.0.1.5"))
    with pytest.raises(
        AwsStepFailed,
        match=r"target group blue takes ip targets; host web-1 \(target i-0abc12345def67890\) is an instance id",
    ):
        check_target_kind(ip_group, HostTarget("web-1", "i-0abc12345def67890"))
    with pytest.raises(AwsStepFailed, match=r"takes instance targets; .* is an IP address"):
        check_target_kind(TargetGroup("green", "arn:green", "instance"), HostTarget("web-2", "10.0.1.6"))


def test_what_the_health_states_mean() -> None:
    healthy = {"State": "healthy"}
    draining = {"State": "draining", "Reason": "Target.DeregistrationInProgress"}
    gone = {"State": "unused", "Reason": "Target.NotRegistered", "Description": "Target is not registered"}
    unattached = {"State": "unused", "Reason": "Target.NotInUse"}
    initial = {"State": "initial", "Reason": "Elb.RegistrationInProgress"}
    assert [is_blocked(h) for h in (None, gone, draining, healthy)] == [True, True, False, False]
    assert [is_allowed(h) for h in (None, healthy, initial, unattached)] == [False, True, False, False]
    assert [never_allowed(h) for h in (unattached, initial, None)] == [True, False, False]
    assert describe_state(gone) == "unused, Target.NotRegistered: Target is not registered"
    assert describe_state(None) == "not reported"


def test_the_groups_target_groups_are_read_once_each_in_order() -> None:
    group = {"loadBalancerInfo": {"targetGroupInfoList": [{"name": "blue"}, {"name": "api"}, {"name": "blue"}]}}
    assert target_group_names(group) == ("blue", "api")
    assert target_group_names({}) == ()
