"""Deployment configurations: the predefined table, custom ones and their validation (`conveyor.deploy.configs`)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conveyor.deploy.config_spec import DeploymentConfigError, deployment_config_from, parse_deployment_config
from conveyor.deploy.configs import (
    PREDEFINED,
    ComputePlatform,
    DeploymentConfig,
    DeploymentConfigNotFound,
    IncompatibleDeploymentConfig,
    IntervalUnit,
    MinimumHealthyHosts,
    MinimumHealthyHostsType,
    TrafficRouting,
    TrafficRoutingType,
    ZonalConfig,
    resolve_config,
)

HOST_COUNT, FLEET_PERCENT, MOST_CONCURRENCY = (
    MinimumHealthyHostsType.HOST_COUNT,
    MinimumHealthyHostsType.FLEET_PERCENT,
    MinimumHealthyHostsType.MOST_CONCURRENCY,
)
CANARY, LINEAR, ALL_AT_ONCE = (
    TrafficRoutingType.TIME_BASED_CANARY,
    TrafficRoutingType.TIME_BASED_LINEAR,
    TrafficRoutingType.ALL_AT_ONCE,
)

# Every predefined configuration, as AWS names it: (platform, minimum healthy hosts, traffic routing).
PREDEFINED_TABLE: dict[str, tuple[str, tuple[str, int] | None, tuple[str, int, int] | None]] = {
    "CodeDeployDefault.OneAtATime": ("Server", ("MOST_CONCURRENCY", 1), None),
    "CodeDeployDefault.HalfAtATime": ("Server", ("FLEET_PERCENT", 50), None),
    "CodeDeployDefault.AllAtOnce": ("Server", ("HOST_COUNT", 0), None),
    "CodeDeployDefault.LambdaCanary10Percent5Minutes": ("Lambda", None, ("TimeBasedCanary", 10, 5)),
    "CodeDeployDefault.LambdaCanary10Percent10Minutes": ("Lambda", None, ("TimeBasedCanary", 10, 10)),
    "CodeDeployDefault.LambdaCanary10Percent15Minutes": ("Lambda", None, ("TimeBasedCanary", 10, 15)),
    "CodeDeployDefault.LambdaCanary10Percent30Minutes": ("Lambda", None, ("TimeBasedCanary", 10, 30)),
    "CodeDeployDefault.LambdaLinear10PercentEvery1Minute": ("Lambda", None, ("TimeBasedLinear", 10, 1)),
    "CodeDeployDefault.LambdaLinear10PercentEvery2Minutes": ("Lambda", None, ("TimeBasedLinear", 10, 2)),
    "CodeDeployDefault.LambdaLinear10PercentEvery3Minutes": ("Lambda", None, ("TimeBasedLinear", 10, 3)),
    "CodeDeployDefault.LambdaLinear10PercentEvery10Minutes": ("Lambda", None, ("TimeBasedLinear", 10, 10)),
    "CodeDeployDefault.LambdaAllAtOnce": ("Lambda", None, ("AllAtOnce", 100, 0)),
    "CodeDeployDefault.ECSLinear10PercentEvery1Minutes": ("ECS", None, ("TimeBasedLinear", 10, 1)),
    "CodeDeployDefault.ECSLinear10PercentEvery3Minutes": ("ECS", None, ("TimeBasedLinear", 10, 3)),
    "CodeDeployDefault.ECSCanary10Percent5Minutes": ("ECS", None, ("TimeBasedCanary", 10, 5)),
    "CodeDeployDefault.ECSCanary10Percent15Minutes": ("ECS", None, ("TimeBasedCanary", 10, 15)),
    "CodeDeployDefault.ECSAllAtOnce": ("ECS", None, ("AllAtOnce", 100, 0)),
}


def _row(config: DeploymentConfig) -> tuple[str, tuple[str, int] | None, tuple[str, int, int] | None]:
    minimum, routing = config.minimum_healthy_hosts, config.traffic_routing
    return (
        config.compute_platform.value,
        (minimum.type.value, minimum.value) if minimum else None,
        (routing.type.value, routing.percentage, routing.interval) if routing else None,
    )


def test_the_predefined_configurations_are_aws_s_table_exactly() -> None:
    assert {name: _row(config) for name, config in PREDEFINED.items()} == PREDEFINED_TABLE
    assert all(config.predefined and config.zonal is None for config in PREDEFINED.values())


@pytest.mark.parametrize(
    ("minimum", "fleet", "hosts"),
    [
        (MinimumHealthyHosts(FLEET_PERCENT, 50), 1, 1),  # half of one host rounds up to the host
        (MinimumHealthyHosts(FLEET_PERCENT, 50), 3, 2),
        (MinimumHealthyHosts(FLEET_PERCENT, 50), 10, 5),
        (MinimumHealthyHosts(FLEET_PERCENT, 95), 10, 10),
        (MinimumHealthyHosts(FLEET_PERCENT, 40), 9, 4),
        (MinimumHealthyHosts(FLEET_PERCENT, 99), 10, 10),  # why OneAtATime cannot be a plain 99 %
        (MinimumHealthyHosts(FLEET_PERCENT, 0), 10, 0),
        (MinimumHealthyHosts(HOST_COUNT, 6), 9, 6),
        (MinimumHealthyHosts(HOST_COUNT, 12), 3, 12),
        (MinimumHealthyHosts(MOST_CONCURRENCY, 1), 1, 0),
        (MinimumHealthyHosts(MOST_CONCURRENCY, 1), 10, 9),
        (MinimumHealthyHosts(MOST_CONCURRENCY, 1), 250, 249),
    ],
)
def test_a_minimum_becomes_a_number_of_hosts_rounding_percentages_up(
    minimum: MinimumHealthyHosts, fleet: int, hosts: int
) -> None:
    assert minimum.hosts(fleet) == hosts


@settings(max_examples=300, deadline=None)
@given(percent=st.integers(0, 99), fleet=st.integers(0, 500))
def test_a_percentage_is_the_smallest_count_that_reaches_it(percent: int, fleet: int) -> None:
    hosts = MinimumHealthyHosts(FLEET_PERCENT, percent).hosts(fleet)
    assert hosts * 100 >= percent * fleet
    assert hosts == 0 or (hosts - 1) * 100 < percent * fleet


def test_intervals_are_minutes_unless_read_as_seconds() -> None:
    routing = PREDEFINED["CodeDeployDefault.LambdaCanary10Percent15Minutes"].traffic_routing
    assert routing is not None
    assert routing.interval_seconds() == 900
    assert routing.interval_seconds(IntervalUnit.MINUTES) == 900
    assert routing.interval_seconds(IntervalUnit.SECONDS) == 15


# --- resolving a name ------------------------------------------------------------------------------------------


def test_a_deployment_without_a_configuration_gets_the_platform_s_default() -> None:
    assert resolve_config(None, ComputePlatform.SERVER).name == "CodeDeployDefault.OneAtATime"
    assert resolve_config("", ComputePlatform.LAMBDA).name == "CodeDeployDefault.LambdaAllAtOnce"
    assert resolve_config(None, ComputePlatform.ECS).name == "CodeDeployDefault.ECSAllAtOnce"


def test_a_custom_configuration_is_found_by_name_but_cannot_shadow_a_predefined_one() -> None:
    mine = DeploymentConfig("TwoAtATime", minimum_healthy_hosts=MinimumHealthyHosts(HOST_COUNT, 2))
    impostor = DeploymentConfig("CodeDeployDefault.AllAtOnce", minimum_healthy_hosts=MinimumHealthyHosts(HOST_COUNT, 9))
    custom = {mine.name: mine, impostor.name: impostor}

    assert resolve_config("TwoAtATime", ComputePlatform.SERVER, custom) is mine
    assert resolve_config("CodeDeployDefault.AllAtOnce", ComputePlatform.SERVER, custom) is PREDEFINED[impostor.name]


def test_an_unknown_name_is_refused_with_the_closest_known_one() -> None:
    with pytest.raises(DeploymentConfigNotFound) as caught:
        resolve_config("CodeDeployDefault.OneAtATim", ComputePlatform.SERVER)
    assert caught.value.message == (
        "deployment configuration CodeDeployDefault.OneAtATim does not exist; "
        "did you mean CodeDeployDefault.OneAtATime?"
    )
    assert caught.value.status_code == 404
    with pytest.raises(DeploymentConfigNotFound, match=r"^deployment configuration Nothing-like-it does not exist$"):
        resolve_config("Nothing-like-it", ComputePlatform.SERVER)


def test_a_configuration_of_another_platform_is_refused() -> None:
    with pytest.raises(IncompatibleDeploymentConfig) as caught:
        resolve_config("CodeDeployDefault.LambdaCanary10Percent5Minutes", ComputePlatform.ECS)
    assert caught.value.message == (
        "deployment configuration CodeDeployDefault.LambdaCanary10Percent5Minutes is for the Lambda compute "
        "platform, not ECS"
    )
    assert caught.value.status_code == 400


# --- custom configurations -------------------------------------------------------------------------------------


def test_a_server_configuration_as_create_deployment_config_takes_it() -> None:
    text = json.dumps(
        {"deploymentConfigName": "ThreeAtATime", "minimumHealthyHosts": {"type": "HOST_COUNT", "value": 6}}
    )

    config = parse_deployment_config(text)

    assert config == DeploymentConfig("ThreeAtATime", ComputePlatform.SERVER, MinimumHealthyHosts(HOST_COUNT, 6))
    assert not config.predefined


def test_lambda_and_ecs_configurations_in_yaml() -> None:
    canary = parse_deployment_config(
        "deploymentConfigName: Canary25Percent2Minutes\n"
        "computePlatform: Lambda\n"
        "trafficRoutingConfig:\n"
        "  type: TimeBasedCanary\n"
        "  timeBasedCanary: {canaryPercentage: 25, canaryInterval: 2}\n"
    )
    linear = parse_deployment_config(
        "deploymentConfigName: Linear20PercentEvery4Minutes\n"
        "computePlatform: ECS\n"
        "trafficRoutingConfig:\n"
        "  type: TimeBasedLinear\n"
        "  timeBasedLinear: {linearPercentage: 20, linearInterval: 4}\n"
    )
    at_once = deployment_config_from(
        {"deploymentConfigName": "Now", "computePlatform": "ECS", "trafficRoutingConfig": {"type": "AllAtOnce"}}
    )

    assert canary.compute_platform is ComputePlatform.LAMBDA
    assert canary.traffic_routing == TrafficRouting(CANARY, 25, 2)
    assert linear.compute_platform is ComputePlatform.ECS
    assert linear.traffic_routing == TrafficRouting(LINEAR, 20, 4)
    assert at_once.traffic_routing == TrafficRouting(ALL_AT_ONCE)


def test_a_zonal_configuration_is_read_with_its_per_zone_minimum_defaulting_to_zero_percent() -> None:
    config = deployment_config_from(
        {
            "deploymentConfigName": "ZoneByZone",
            "minimumHealthyHosts": {"type": "FLEET_PERCENT", "value": 75},
            "zonalConfig": {
                "firstZoneMonitorDurationInSeconds": 600,
                "monitorDurationInSeconds": 120,
                "minimumHealthyHostsPerZone": {"type": "HOST_COUNT", "value": 1},
            },
        }
    )
    bare = deployment_config_from(
        {"deploymentConfigName": "Z", "minimumHealthyHosts": {"type": "HOST_COUNT", "value": 1}, "zonalConfig": {}}
    )

    assert config.zonal == ZonalConfig(600, 120, MinimumHealthyHosts(HOST_COUNT, 1))
    assert bare.zonal == ZonalConfig(None, None, MinimumHealthyHosts(FLEET_PERCENT, 0))


def test_get_deployment_config_s_answer_is_read_back() -> None:
    answer = {
        "deploymentConfigInfo": {
            "deploymentConfigId": "0f3e1c52-2d8d-4c4c-9a3e-8a3f5a1c0d11",
            "deploymentConfigName": "Half",
            "minimumHealthyHosts": {"type": "FLEET_PERCENT", "value": 50},
            "createTime": 1754000000.0,
            "computePlatform": "Server",
        }
    }

    assert deployment_config_from(answer) == DeploymentConfig(
        "Half", minimum_healthy_hosts=MinimumHealthyHosts(FLEET_PERCENT, 50)
    )


def test_every_problem_is_reported_at_once_with_its_path_and_line() -> None:
    text = (
        "deploymentConfigName: CodeDeployDefault.Mine\n"  # 1
        "computePlatform: Lambda\n"  # 2
        "minimumHealthyHosts:\n"  # 3
        "  type: HOST_COUNT\n"  # 4
        "  value: 2\n"  # 5
        "trafficRoutingConfig:\n"  # 6
        "  type: TimeBasedCanary\n"  # 7
        "  timeBasedCanary:\n"  # 8
        "    canaryPercentage: 100\n"  # 9
        "    canaryInterval: 0\n"  # 10
        "  timeBasedLinear: {linearPercentage: 10, linearInterval: 1}\n"  # 11
        "zonalConfig: {}\n"  # 12
        "retries: 3\n"  # 13
    )

    with pytest.raises(DeploymentConfigError) as caught:
        parse_deployment_config(text, "mine.yml")

    assert [(p.line, p.path, p.message) for p in caught.value.problems] == [
        (
            1,
            "deploymentConfigName",
            "names starting with CodeDeployDefault. are reserved for the predefined configurations",
        ),
        (3, "minimumHealthyHosts", "applies to the Server compute platform only, not Lambda"),
        (9, "trafficRoutingConfig.timeBasedCanary.canaryPercentage", "must be a percentage from 1 to 99, not 100"),
        (10, "trafficRoutingConfig.timeBasedCanary.canaryInterval", "must be a number of minutes, 1 or more, not 0"),
        (11, "trafficRoutingConfig.timeBasedLinear", "does not apply to type TimeBasedCanary"),
        (12, "zonalConfig", "applies to the Server compute platform only, not Lambda"),
        (
            13,
            "retries",
            "unknown key; expected one of computePlatform, deploymentConfigName, minimumHealthyHosts, "
            "trafficRoutingConfig, zonalConfig",
        ),
    ]
    assert caught.value.code == "InvalidDeploymentConfig"
    assert caught.value.status_code == 400
    assert str(caught.value).startswith("mine.yml: 7 problems\n  mine.yml:1: deploymentConfigName: names starting")


NAMED = {"deploymentConfigName": "x"}
SERVER = {**NAMED, "minimumHealthyHosts": {"type": "HOST_COUNT", "value": 1}}
ECS = {**NAMED, "computePlatform": "ECS"}
NAME_RULE = "needs a name of 1 to 100 letters, digits or + = , . @ _ -"
HOSTS_RULE = "must be an integer (a number of hosts, 0 or more)"


def _minimum(**fields: Any) -> dict[str, Any]:
    return {**NAMED, "minimumHealthyHosts": fields}


def _routing(**fields: Any) -> dict[str, Any]:
    return {**ECS, "trafficRoutingConfig": fields}


INVALID: list[tuple[Any, list[tuple[str, str]]]] = [
    ({}, [("deploymentConfigName", NAME_RULE), ("minimumHealthyHosts", "is required for the Server compute platform")]),
    ({**SERVER, "deploymentConfigName": "a b"}, [("deploymentConfigName", NAME_RULE)]),
    ({**SERVER, "deploymentConfigName": "x" * 101}, [("deploymentConfigName", NAME_RULE)]),
    ({**NAMED, "computePlatform": "Fargate"}, [("computePlatform", "must be one of Server, Lambda, ECS")]),
    ({**NAMED, "computePlatform": "Lambda"}, [("trafficRoutingConfig", "is required for the Lambda compute platform")]),
    (
        _minimum(type="MOST_CONCURRENCY", value=1),
        [("minimumHealthyHosts.type", "must be one of HOST_COUNT, FLEET_PERCENT")],
    ),
    (
        _minimum(type="FLEET_PERCENT", value=100),
        [("minimumHealthyHosts.value", "must be a percentage from 0 to 99, not 100")],
    ),
    (
        _minimum(type="HOST_COUNT", value=-1),
        [("minimumHealthyHosts.value", "must be a number of hosts, 0 or more, not -1")],
    ),
    (_minimum(type="HOST_COUNT", value="2"), [("minimumHealthyHosts.value", HOSTS_RULE)]),
    (_minimum(type="HOST_COUNT", value=True), [("minimumHealthyHosts.value", HOSTS_RULE)]),
    (_minimum(type="HOST_COUNT"), [("minimumHealthyHosts.value", HOSTS_RULE)]),
    ({**NAMED, "minimumHealthyHosts": [1]}, [("minimumHealthyHosts", "must be a mapping")]),
    (
        {**SERVER, "trafficRoutingConfig": {"type": "AllAtOnce"}},
        [("trafficRoutingConfig", "applies to the Lambda and ECS compute platforms only, not Server")],
    ),
    (_routing(type="TimeBasedLinear"), [("trafficRoutingConfig.timeBasedLinear", "is required")]),
    (
        _routing(type="Blue"),
        [("trafficRoutingConfig.type", "must be one of TimeBasedCanary, TimeBasedLinear, AllAtOnce")],
    ),
    (
        _routing(type="AllAtOnce", timeBasedCanary={}),
        [("trafficRoutingConfig.timeBasedCanary", "does not apply to type AllAtOnce")],
    ),
    (
        _routing(type="TimeBasedLinear", timeBasedLinear={"linearPercentage": 10, "linearInterval": 1, "steps": 3}),
        [
            (
                "trafficRoutingConfig.timeBasedLinear.steps",
                "unknown key; expected one of linearInterval, linearPercentage",
            )
        ],
    ),
    (
        {
            **SERVER,
            "zonalConfig": {
                "monitorDurationInSeconds": -5,
                "minimumHealthyHostsPerZone": {"type": "FLEET_PERCENT", "value": 150},
            },
        },
        [
            ("zonalConfig.minimumHealthyHostsPerZone.value", "must be a percentage from 0 to 99, not 150"),
            ("zonalConfig.monitorDurationInSeconds", "must be a number of seconds, 0 or more, not -5"),
        ],
    ),
    (["deploymentConfigName"], [("", "a deployment configuration must be a mapping with a deploymentConfigName")]),
]


@pytest.mark.parametrize(("document", "problems"), INVALID)
def test_each_invalid_field_is_named_with_what_is_wrong(document: Any, problems: list[tuple[str, str]]) -> None:
    with pytest.raises(DeploymentConfigError) as caught:
        deployment_config_from(document)
    assert [(p.path, p.message) for p in caught.value.problems] == problems


def test_a_file_that_is_not_yaml_is_a_deployment_config_error_with_its_line() -> None:
    with pytest.raises(DeploymentConfigError) as caught:
        parse_deployment_config("deploymentConfigName: x\nminimumHealthyHosts: {type: [\n", "bad.yml")
    assert [p.line for p in caught.value.problems] == [3]
    assert caught.value.source == "bad.yml"


# --- round trip ------------------------------------------------------------------------------------------------


@st.composite
def custom_configs(draw: st.DrawFn) -> DeploymentConfig:
    name = draw(
        st.text("abcXYZ019+=,.@_-", min_size=1, max_size=100).filter(lambda n: not n.startswith("CodeDeployDefault."))
    )
    platform = draw(st.sampled_from(list(ComputePlatform)))
    if platform is ComputePlatform.SERVER:
        kind = draw(st.sampled_from([HOST_COUNT, FLEET_PERCENT]))
        value = draw(st.integers(0, 99) if kind is FLEET_PERCENT else st.integers(0, 10_000))
        zonal = draw(
            st.none()
            | st.builds(
                ZonalConfig,
                st.none() | st.integers(0, 86_400),
                st.none() | st.integers(0, 86_400),
                st.builds(MinimumHealthyHosts, st.just(HOST_COUNT), st.integers(0, 50)),
            )
        )
        return DeploymentConfig(name, platform, MinimumHealthyHosts(kind, value), zonal=zonal)
    kind = draw(st.sampled_from(list(TrafficRoutingType)))
    if kind is ALL_AT_ONCE:
        return DeploymentConfig(name, platform, traffic_routing=TrafficRouting(kind))
    routing = TrafficRouting(kind, draw(st.integers(1, 99)), draw(st.integers(1, 2_880)))
    return DeploymentConfig(name, platform, traffic_routing=routing)


@settings(max_examples=200, deadline=None)
@given(config=custom_configs())
def test_what_get_deployment_config_prints_reads_back_as_the_same_configuration(config: DeploymentConfig) -> None:
    assert deployment_config_from(config.to_info()) == config
    assert parse_deployment_config(json.dumps({"deploymentConfigInfo": config.to_info()})) == config
