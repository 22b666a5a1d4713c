"""Deployment group requests: the schema's problems of value and the platform's rules come in one report; a problem
of shape stops the report at the schema."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conveyor.deploy.group_spec import DeploymentGroupError, parse_deployment_group
from conveyor.deploy.platforms import ComputePlatform


def problems(request: dict[str, Any], platform: ComputePlatform = ComputePlatform.SERVER) -> list[tuple[str, str]]:
    with pytest.raises(DeploymentGroupError) as info:
        parse_deployment_group(json.dumps(request, indent=2), platform, "group.json")
    return [(p.path, p.message) for p in info.value.problems]


def test_problems_of_value_and_the_platform_rules_come_in_one_report() -> None:
    found = problems(
        {
            "deploymentGroupName": "web fleet",
            "deploymentStyle": {"deploymentType": "IN_PLACE", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
            "ecsServices": [{"serviceName": "web", "clusterName": "main"}],
            "colour": "blue",
        }
    )
    assert sorted(path for path, _ in found) == ["colour", "deploymentGroupName", "ecsServices", "loadBalancerInfo"]
    assert ("ecsServices", "ecsServices belong to ECS deployment groups") in found
    assert ("colour", "unknown key 'colour'") in found


def test_a_rule_does_not_repeat_a_value_the_schema_refused() -> None:
    found = problems(
        {"deploymentGroupName": "fn", "deploymentStyle": {"deploymentType": "SIDEWAYS"}}, ComputePlatform.LAMBDA
    )
    # the schema says the type is none of the two; the Lambda rule (BLUE_GREEN only) is not said on top of it
    assert [path for path, _ in found] == ["deploymentStyle.deploymentType"]


def test_a_problem_of_shape_stops_the_report_at_the_schema() -> None:
    found = problems({"deploymentGroupName": 7, "ecsServices": [{"serviceName": "web", "clusterName": "main"}]})
    assert found == [("deploymentGroupName", "7 is not of type 'string'")]
