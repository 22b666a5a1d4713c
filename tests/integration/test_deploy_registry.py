"""The deploy registry on SQLite and PostgreSQL: applications, deployment configurations and groups, hosts."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from conveyor.deploy import registry
from conveyor.errors import Conflict, InvalidRequest, NotFound, SpecError
from conveyor.runtime import Runtime

WEB_GROUP = {
    "deploymentGroupName": "web",
    "deploymentConfigName": "CodeDeployDefault.HalfAtATime",
    "onPremisesInstanceTagFilters": [{"Key": "Role", "Value": "web", "Type": "KEY_AND_VALUE"}],
    "autoRollbackConfiguration": {"enabled": True, "events": ["DEPLOYMENT_FAILURE"]},
}


def test_an_application_a_group_and_the_hosts_its_tags_choose(rt: Runtime) -> None:
    created = registry.create_application(rt, "shop")
    assert created["computePlatform"] == "Server"
    group = registry.create_deployment_group(rt, "shop", yaml.safe_dump(WEB_GROUP))
    assert group["deploymentStyle"] == {"deploymentType": "IN_PLACE", "deploymentOption": "WITHOUT_TRAFFIC_CONTROL"}
    assert group["deploymentConfigName"] == "CodeDeployDefault.HalfAtATime"
    assert group["hosts"] == []

    registry.register_host(rt, "web-2", {"Role": "web"})
    registry.register_host(rt, "web-1", {"Role": "web", "Env": "prod"})
    registry.register_host(rt, "db-1", {"Role": "db"})
    assert registry.get_deployment_group(rt, "shop", "web")["hosts"] == ["web-1", "web-2"]
    again = registry.register_host(rt, "web-2", {"Role": "batch"})  # an agent restarting with other tags
    assert again["queue"] == "host-web-2"
    assert registry.get_deployment_group(rt, "shop", "web")["hosts"] == ["web-1"]
    assert registry.get_application(rt, "shop")["deploymentGroups"] == ["web"]
    assert [h["instanceName"] for h in registry.list_hosts(rt)] == ["db-1", "web-1", "web-2"]


def test_a_group_without_a_configuration_uses_the_platforms_default(rt: Runtime) -> None:
    registry.create_application(rt, "fn", compute_platform="Lambda")
    group = registry.create_deployment_group(rt, "fn", json.dumps({"deploymentGroupName": "live"}))
    assert group["deploymentConfigName"] == "CodeDeployDefault.LambdaAllAtOnce"
    assert group["deploymentStyle"] == {"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"}
    registry.create_application(rt, "hosts")
    assert (
        registry.create_deployment_group(rt, "hosts", json.dumps({"deploymentGroupName": "g"}))["deploymentConfigName"]
        == "CodeDeployDefault.OneAtATime"
    )


def test_custom_configurations_are_kept_and_used_by_groups(rt: Runtime) -> None:
    custom = {
        "deploymentConfigName": "TwoAtATime",
        "computePlatform": "Server",
        "minimumHealthyHosts": {"type": "HOST_COUNT", "value": 2},
    }
    info = registry.create_deployment_config(rt, json.dumps(custom))
    assert info["minimumHealthyHosts"] == {"type": "HOST_COUNT", "value": 2}
    with pytest.raises(Conflict, match="already exists"):
        registry.create_deployment_config(rt, json.dumps(custom))
    assert "TwoAtATime" in registry.list_deployment_configs(rt)
    assert "CodeDeployDefault.AllAtOnce" in registry.list_deployment_configs(rt)
    assert registry.get_deployment_config(rt, "TwoAtATime")["computePlatform"] == "Server"
    registry.create_application(rt, "shop")
    group = registry.create_deployment_group(
        rt, "shop", json.dumps({**WEB_GROUP, "deploymentConfigName": "TwoAtATime"})
    )
    assert group["deploymentConfigName"] == "TwoAtATime"


def test_bad_requests_are_refused_with_what_is_wrong_and_where(rt: Runtime) -> None:
    with pytest.raises(InvalidRequest, match="compute platform must be Server, Lambda or ECS"):
        registry.create_application(rt, "x", compute_platform="Mainframe")
    with pytest.raises(InvalidRequest, match="application name"):
        registry.create_application(rt, "no spaces")
    registry.create_application(rt, "shop")
    with pytest.raises(Conflict):
        registry.create_application(rt, "shop")
    with pytest.raises(NotFound, match="no application named 'nope'"):
        registry.create_deployment_group(rt, "nope", json.dumps(WEB_GROUP))
    with pytest.raises(NotFound, match=r"did you mean CodeDeployDefault\.HalfAtATime"):
        registry.create_deployment_group(
            rt, "shop", json.dumps({**WEB_GROUP, "deploymentConfigName": "CodeDeployDefault.HalfAtTime"})
        )
    with pytest.raises(SpecError) as caught:
        registry.create_deployment_group(
            rt,
            "shop",
            "deploymentGroupName: web\n"
            "deploymentStyle:\n  deploymentType: IN_PLACE\n  deploymentOption: WITH_TRAFFIC_CONTROL\n"
            "alarmConfiguration:\n  alarms: [{name: a}, {name: b}, {name: c}, {name: d}, {name: e}, {name: f},"
            " {name: g}, {name: h}, {name: i}, {name: j}, {name: k}]\n"
            "colour: blue\n",
        )
    shown = [(p.path, p.line) for p in caught.value.problems]
    assert ("alarmConfiguration.alarms", 6) in shown
    assert ("colour", 7) in shown
    registry.create_deployment_group(rt, "shop", json.dumps(WEB_GROUP))
    with pytest.raises(Conflict, match="already has a deployment group named 'web'"):
        registry.create_deployment_group(rt, "shop", json.dumps(WEB_GROUP))
    with pytest.raises(InvalidRequest, match="host name"):
        registry.register_host(rt, "../etc", {})
    with pytest.raises(InvalidRequest, match="at most 10 tags"):
        registry.register_host(rt, "big", {f"k{i}": "v" for i in range(11)})


def test_platform_rules_for_lambda_and_ecs_groups(rt: Runtime) -> None:
    registry.create_application(rt, "fn", compute_platform="Lambda")
    with pytest.raises(SpecError) as caught:
        registry.create_deployment_group(
            rt,
            "fn",
            json.dumps(
                {
                    "deploymentGroupName": "live",
                    "deploymentStyle": {"deploymentType": "IN_PLACE"},
                    "ec2TagFilters": [{"Key": "Role", "Value": "web"}],
                }
            ),
        )
    assert {p.message for p in caught.value.problems} == {
        "Lambda deployment groups use BLUE_GREEN",
        "a Lambda deployment group targets a function alias, not tagged hosts",
    }
    registry.create_application(rt, "svc", compute_platform="ECS")
    with pytest.raises(SpecError) as caught:
        registry.create_deployment_group(rt, "svc", json.dumps({"deploymentGroupName": "blue-green"}))
    assert {p.message for p in caught.value.problems} == {
        "an ECS deployment group needs exactly one ecsServices entry",
        "an ECS deployment group needs one targetGroupPairInfoList entry",
    }
    ecs_group = {
        "deploymentGroupName": "blue-green",
        "ecsServices": [{"serviceName": "web", "clusterName": "main"}],
        "loadBalancerInfo": {
            "targetGroupPairInfoList": [
                {
                    "targetGroups": [{"name": "blue"}, {"name": "green"}],
                    "prodTrafficRoute": {"listenerArns": ["arn:aws:elasticloadbalancing:us-east-1:1:listener/app/x/1"]},
                }
            ]
        },
    }
    with pytest.raises(InvalidRequest, match="for the Server compute platform, not ECS"):
        registry.create_deployment_group(
            rt, "svc", json.dumps({**ecs_group, "deploymentConfigName": "CodeDeployDefault.OneAtATime"})
        )
    made = registry.create_deployment_group(rt, "svc", json.dumps(ecs_group))
    assert made["deploymentConfigName"] == "CodeDeployDefault.ECSAllAtOnce"


def test_the_registry_over_http(client: Any) -> None:
    made = client.post("/api/v1/applications", json={"applicationName": "shop"})
    assert made.status_code == 201
    assert client.post("/api/v1/applications", json={"applicationName": "shop"}).status_code == 409
    group = client.post(
        "/api/v1/applications/shop/deployment-groups",
        data=yaml.safe_dump(WEB_GROUP),
        headers={"Content-Type": "application/yaml"},
    )
    assert group.status_code == 201, group.get_json()
    bad = client.post(
        "/api/v1/applications/shop/deployment-groups",
        data="deploymentGroupName: x\nshade: red\n",
        headers={"Content-Type": "application/yaml"},
    )
    assert bad.status_code == 400
    assert bad.get_json()["problems"] == [{"path": "shade", "message": "unknown key 'shade'", "line": 2}]
    host = client.post("/api/v1/hosts", json={"instanceName": "web-1", "tags": [{"Key": "Role", "Value": "web"}]})
    assert host.get_json()["queue"] == "host-web-1"
    assert client.post("/api/v1/hosts", json={"instanceName": "web-1", "tags": "Role=web"}).status_code == 400
    shown = client.get("/api/v1/applications/shop/deployment-groups/web").get_json()
    assert shown["hosts"] == ["web-1"]
    assert client.get("/api/v1/applications/shop/deployment-groups/nope").status_code == 404
    names = client.get("/api/v1/deployment-configs").get_json()["deploymentConfigsList"]
    assert "CodeDeployDefault.OneAtATime" in names
    info = client.get("/api/v1/deployment-configs/CodeDeployDefault.HalfAtATime").get_json()["deploymentConfigInfo"]
    assert info["minimumHealthyHosts"] == {"type": "FLEET_PERCENT", "value": 50}
