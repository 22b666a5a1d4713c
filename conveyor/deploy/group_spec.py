"""Deployment groups as `create-deployment-group` takes them: parse and validate. Pure.

The request's shape, in YAML or JSON: `deploymentGroupName`, `deploymentConfigName`, tag filters and sets
(`conveyor.deploy.targets`), `deploymentStyle`, `loadBalancerInfo`, `alarmConfiguration`,
`autoRollbackConfiguration`, `blueGreenDeploymentConfiguration`, `ecsServices`, `serviceRoleArn`. Every problem is
reported at once with its field path (and line, from a file). Rules between fields, by compute platform:

* Server: `deploymentStyle` defaults to IN_PLACE without traffic control; WITH_TRAFFIC_CONTROL needs
  `loadBalancerInfo.targetGroupInfoList` (ELBv2 target groups), `loadBalancerInfo.elbInfoList` (Classic Load
  Balancers) or both; BLUE_GREEN needs WITH_TRAFFIC_CONTROL, and its replacement hosts are
  discovered (greenFleetProvisioningOption COPY_AUTO_SCALING_GROUP is refused: there is no Auto Scaling here);
* Lambda: the style is BLUE_GREEN with traffic control (filled in when absent, refused otherwise); no tags, no load
  balancer;
* ECS: BLUE_GREEN with traffic control, `ecsServices` (one service) and a `loadBalancerInfo.targetGroupPairInfoList`
  of one pair (two target groups and a production route);
* an alarm configuration holds at most 10 alarms; rollback events are DEPLOYMENT_FAILURE, DEPLOYMENT_STOP_ON_ALARM
  and DEPLOYMENT_STOP_ON_REQUEST.

The deployment configuration named must exist for the platform; that check needs the stored custom configurations
and is made by the registry.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from conveyor.deploy.platforms import ComputePlatform
from conveyor.deploy.targets import has_targets
from conveyor.errors import SpecError
from conveyor.schema_problems import check_beside, load_validator, schema_findings
from conveyor.specfile import Document, ProblemList, load_document

SCHEMA_PATH = Path(__file__).with_name("deployment_group.schema.json")


class DeploymentGroupError(SpecError):
    """A deployment group request is invalid; every problem is listed with its field path."""

    code = "InvalidDeploymentGroup"


@dataclass(frozen=True)
class DeploymentGroupSpec:
    name: str
    config_name: str | None
    definition: dict[str, Any]  # the request, with the style filled in


@cache
def _validator() -> Draft202012Validator:
    return load_validator(SCHEMA_PATH)


def parse_deployment_group(
    text: str, platform: ComputePlatform, source: str = "deployment group"
) -> DeploymentGroupSpec:
    try:  # a file that cannot be read and a request with problems are refused alike
        return read_deployment_group(load_document(text, source), platform)
    except SpecError as exc:
        raise DeploymentGroupError(exc.source, exc.problems) from None


def read_deployment_group(document: Document, platform: ComputePlatform) -> DeploymentGroupSpec:
    problems = ProblemList(document)
    data = document.data
    if not isinstance(data, dict):
        problems.add((), "a deployment group must be a mapping with a deploymentGroupName")
        problems.raise_if_any()
    findings = schema_findings(_validator(), data)
    for path, message in findings.problems:
        problems.add(path, message)
    if not findings.shape_holds:
        problems.raise_if_any()
    definition = dict(data)
    check_beside(problems, lambda found: _check_platform(definition, platform, found))
    problems.raise_if_any()
    return DeploymentGroupSpec(definition["deploymentGroupName"], definition.get("deploymentConfigName"), definition)


def _check_platform(data: dict[str, Any], platform: ComputePlatform, problems: ProblemList) -> None:
    style = data.setdefault("deploymentStyle", {})
    if platform is ComputePlatform.SERVER:
        style.setdefault("deploymentType", "IN_PLACE")
        style.setdefault("deploymentOption", "WITHOUT_TRAFFIC_CONTROL")
        balancers = data.get("loadBalancerInfo") or {}
        if style["deploymentOption"] == "WITH_TRAFFIC_CONTROL" and not (
            balancers.get("targetGroupInfoList") or balancers.get("elbInfoList")
        ):
            problems.add(
                ("loadBalancerInfo",),
                "traffic control on hosts needs loadBalancerInfo.targetGroupInfoList or loadBalancerInfo.elbInfoList",
            )
        if data.get("ecsServices"):
            problems.add(("ecsServices",), "ecsServices belong to ECS deployment groups")
        if style["deploymentType"] == "BLUE_GREEN":
            _check_host_blue_green(data, style, problems)
        return
    _needs_blue_green(style, platform, problems)
    if platform is ComputePlatform.LAMBDA:
        _check_lambda(data, problems)
    else:
        _check_ecs(data, problems)


def _check_host_blue_green(data: dict[str, Any], style: dict[str, Any], problems: ProblemList) -> None:
    if style["deploymentOption"] != "WITH_TRAFFIC_CONTROL":
        problems.add(
            ("deploymentStyle", "deploymentOption"),
            "blue/green on hosts reroutes traffic through load balancers: use WITH_TRAFFIC_CONTROL",
        )
    config = data.get("blueGreenDeploymentConfiguration") or {}
    if (config.get("greenFleetProvisioningOption") or {}).get("action") == "COPY_AUTO_SCALING_GROUP":
        problems.add(
            ("blueGreenDeploymentConfiguration", "greenFleetProvisioningOption", "action"),
            "Conveyor's hosts have no Auto Scaling groups to copy: use DISCOVER_EXISTING",
        )


def _check_lambda(data: dict[str, Any], problems: ProblemList) -> None:
    for key in ("ec2TagFilters", "onPremisesInstanceTagFilters", "ec2TagSet", "onPremisesTagSet"):
        if key in data:
            problems.add((key,), "a Lambda deployment group targets a function alias, not tagged hosts")
    for key in ("loadBalancerInfo", "ecsServices"):
        if key in data:
            problems.add((key,), f"{key} does not apply to a Lambda deployment group")


def _check_ecs(data: dict[str, Any], problems: ProblemList) -> None:
    if has_targets(data):
        problems.add(("ec2TagFilters",), "an ECS deployment group targets a service, not tagged hosts")
    if len(data.get("ecsServices") or []) != 1:
        problems.add(("ecsServices",), "an ECS deployment group needs exactly one ecsServices entry")
    pairs = (data.get("loadBalancerInfo") or {}).get("targetGroupPairInfoList") or []
    if len(pairs) != 1:
        problems.add(("loadBalancerInfo",), "an ECS deployment group needs one targetGroupPairInfoList entry")
    for index, pair in enumerate(pairs):
        path = ("loadBalancerInfo", "targetGroupPairInfoList", index)
        if len(pair.get("targetGroups") or []) != 2:
            problems.add((*path, "targetGroups"), "needs two target groups")
        if not (pair.get("prodTrafficRoute") or {}).get("listenerArns"):
            problems.add((*path, "prodTrafficRoute"), "needs listenerArns")


def _needs_blue_green(style: dict[str, Any], platform: ComputePlatform, problems: ProblemList) -> None:
    for key, wanted in (("deploymentType", "BLUE_GREEN"), ("deploymentOption", "WITH_TRAFFIC_CONTROL")):
        if style.setdefault(key, wanted) != wanted:
            problems.add(("deploymentStyle", key), f"{platform.value} deployment groups use {wanted}")
