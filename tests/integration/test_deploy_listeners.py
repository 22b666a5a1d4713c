"""ECS blue/green traffic on ELBv2 listeners in moto: the test listener moves wholly, the production listener step
by step (default action and rules), a rollback moves it back, and listeners that reach neither group are refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from moto import mock_aws

from conveyor import aws
from conveyor.config import Settings, load_settings
from conveyor.deploy.aws_calls import AwsStepFailed, StepErrorCode
from conveyor.deploy.configs import IntervalUnit, resolve_config
from conveyor.deploy.lifecycle import traffic_plan
from conveyor.deploy.listeners import (
    TargetGroupPair,
    allow_test_traffic,
    forward_weights,
    listener_weights,
    resolve_pair,
    shift_listener,
    shift_production,
)
from conveyor.deploy.platforms import ComputePlatform
from tests.conftest import AWS_REGION
from tests.support.elb import ElbWorld, elb_world


@pytest.fixture
def settings(tmp_path: Path, fake_aws_credentials: None) -> Settings:
    return load_settings(environ={}, overrides={"data_dir": tmp_path / "data", "aws_region": AWS_REGION})


@pytest.fixture
def world(settings: Settings) -> Iterator[ElbWorld]:
    with mock_aws():
        yield elb_world(aws.client("ec2", settings), aws.client("elbv2", settings))


@pytest.fixture
def pair(world: ElbWorld) -> TargetGroupPair:
    blue = world.target_group("shop-blue")
    world.target_group("shop-green")
    production = world.listener(80, blue)
    test = world.listener(8080, blue)
    world.elbv2.create_rule(
        ListenerArn=production,
        Priority=10,
        Conditions=[{"Field": "path-pattern", "Values": ["/api/*"]}],
        Actions=[{"Type": "forward", "TargetGroupArn": blue}],
    )
    group = {
        "loadBalancerInfo": {
            "targetGroupPairInfoList": [
                {
                    "targetGroups": [{"name": "shop-blue"}, {"name": "shop-green"}],
                    "prodTrafficRoute": {"listenerArns": [production]},
                    "testTrafficRoute": {"listenerArns": [test]},
                }
            ]
        }
    }
    return resolve_pair(world.elbv2, group)


def _rule_weights(world: ElbWorld, listener_arn: str, pair: TargetGroupPair) -> dict[str, int]:
    [rule] = [r for r in world.elbv2.describe_rules(ListenerArn=listener_arn)["Rules"] if not r["IsDefault"]]
    weights = forward_weights(rule["Actions"][0])
    return {g.name: weights.get(g.arn, 0) for g in (pair.original, pair.replacement)}


def test_test_traffic_moves_wholly_and_production_step_by_step(world: ElbWorld, pair: TargetGroupPair) -> None:
    [production], [test] = pair.production_listeners, pair.test_listeners
    assert listener_weights(world.elbv2, production, pair) == {"shop-blue": 100, "shop-green": 0}

    allow_test_traffic(world.elbv2, pair)
    assert listener_weights(world.elbv2, test, pair) == {"shop-blue": 0, "shop-green": 100}
    assert listener_weights(world.elbv2, production, pair) == {"shop-blue": 100, "shop-green": 0}

    config = resolve_config("CodeDeployDefault.ECSLinear10PercentEvery1Minutes", ComputePlatform.ECS)
    assert config.traffic_routing is not None
    seen = []
    for shift in traffic_plan(config.traffic_routing, IntervalUnit.SECONDS):
        shift_production(world.elbv2, pair, shift.percent)
        seen.append(listener_weights(world.elbv2, production, pair)["shop-green"])
        assert _rule_weights(world, production, pair)["shop-green"] == shift.percent
    assert seen == [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]


def test_a_rollback_moves_production_back_to_the_original_group(world: ElbWorld, pair: TargetGroupPair) -> None:
    [production] = pair.production_listeners
    shift_production(world.elbv2, pair, 10)
    assert listener_weights(world.elbv2, production, pair) == {"shop-blue": 90, "shop-green": 10}

    shift_production(world.elbv2, pair, 0)

    assert listener_weights(world.elbv2, production, pair) == {"shop-blue": 100, "shop-green": 0}
    assert _rule_weights(world, production, pair) == {"shop-blue": 100, "shop-green": 0}


def test_rules_forwarding_elsewhere_are_left_alone(world: ElbWorld, pair: TargetGroupPair) -> None:
    [production] = pair.production_listeners
    admin = world.target_group("admin")
    world.elbv2.create_rule(
        ListenerArn=production,
        Priority=20,
        Conditions=[{"Field": "path-pattern", "Values": ["/admin/*"]}],
        Actions=[{"Type": "forward", "TargetGroupArn": admin}],
    )
    shift_production(world.elbv2, pair, 100)
    [untouched] = [r for r in world.elbv2.describe_rules(ListenerArn=production)["Rules"] if r["Priority"] == "20"]
    assert forward_weights(untouched["Actions"][0]) == {admin: 100}


def test_a_listener_that_reaches_neither_group_is_refused(world: ElbWorld, pair: TargetGroupPair) -> None:
    elsewhere = world.listener(9090, world.target_group("other"))
    with pytest.raises(AwsStepFailed) as info:
        shift_listener(world.elbv2, elsewhere, pair, 50)
    assert info.value.error_code is StepErrorCode.ELASTIC_LOAD_BALANCING_INVALID
    assert info.value.message == (f"listener {elsewhere} forwards to neither target group shop-blue nor shop-green")


def test_a_missing_listener_or_target_group_is_named(world: ElbWorld, pair: TargetGroupPair) -> None:
    gone = pair.production_listeners[0].replace("listener/", "listener/x")
    with pytest.raises(
        AwsStepFailed, match=rf"could not shift listener {gone} to 10 % on shop-green: ListenerNotFound"
    ):
        shift_listener(world.elbv2, gone, pair, 10)
    group = {
        "loadBalancerInfo": {"targetGroupPairInfoList": [{"targetGroups": [{"name": "shop-blue"}, {"name": "x"}]}]}
    }
    with pytest.raises(
        AwsStepFailed,
        match=r"target group x of loadBalancerInfo.targetGroupPairInfoList\[0\].targetGroups: TargetGroupNotFound",
    ):
        resolve_pair(world.elbv2, group)
