"""Lifecycle event orders and traffic plans (`conveyor.deploy.lifecycle`), and the purity of the planning modules."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conveyor.deploy.configs import PREDEFINED, IntervalUnit, TrafficRouting, TrafficRoutingType
from conveyor.deploy.lifecycle import (
    DeploymentType,
    LifecycleEvent,
    LifecycleStep,
    TargetLabel,
    TrafficShift,
    blue_green_events,
    ecs_events,
    failure_ends_target,
    host_events,
    in_place_events,
    lambda_events,
    scripts_revision,
    traffic_plan,
)
from tests.unit.test_import_contract import IMPURE, ROOT, check, reachable_project_files

Row = tuple[str, str, str | None]

# (event, what of the user's runs in it, whose appspec and scripts)
IN_PLACE: list[Row] = [
    ("ApplicationStop", "Scripts", "LastSuccessful"),
    ("DownloadBundle", "Nothing", None),
    ("BeforeInstall", "Scripts", "Deployed"),
    ("Install", "Nothing", None),
    ("AfterInstall", "Scripts", "Deployed"),
    ("ApplicationStart", "Scripts", "Deployed"),
    ("ValidateService", "Scripts", "Deployed"),
]
BLOCK_TRAFFIC: list[Row] = [
    ("BeforeBlockTraffic", "Scripts", "LastSuccessful"),
    ("BlockTraffic", "Nothing", None),
    ("AfterBlockTraffic", "Scripts", "LastSuccessful"),
]
ALLOW_TRAFFIC: list[Row] = [
    ("BeforeAllowTraffic", "Scripts", "Deployed"),
    ("AllowTraffic", "Nothing", None),
    ("AfterAllowTraffic", "Scripts", "Deployed"),
]
ORDERS: dict[str, tuple[tuple[LifecycleStep, ...], list[Row]]] = {
    "in place": (in_place_events(load_balancer=False), IN_PLACE),
    "in place behind a load balancer": (in_place_events(load_balancer=True), BLOCK_TRAFFIC + IN_PLACE + ALLOW_TRAFFIC),
    "blue/green, replacement hosts": (blue_green_events(TargetLabel.GREEN), IN_PLACE + ALLOW_TRAFFIC),
    "blue/green, original hosts": (blue_green_events(TargetLabel.BLUE), BLOCK_TRAFFIC),
    "blue/green rollback, original hosts": (
        blue_green_events(TargetLabel.BLUE, rollback=True),
        [
            ("BeforeAllowTraffic", "Scripts", "LastSuccessful"),
            ("AllowTraffic", "Nothing", None),
            ("AfterAllowTraffic", "Scripts", "LastSuccessful"),
        ],
    ),
    "blue/green rollback, replacement hosts": (
        blue_green_events(TargetLabel.GREEN, rollback=True),
        [
            ("BeforeBlockTraffic", "Scripts", "MostRecent"),
            ("BlockTraffic", "Nothing", None),
            ("AfterBlockTraffic", "Scripts", "MostRecent"),
        ],
    ),
    "ECS": (
        ecs_events(),
        [
            ("BeforeInstall", "Function", "Deployed"),
            ("Install", "Nothing", None),
            ("AfterInstall", "Function", "Deployed"),
            ("AllowTestTraffic", "Nothing", None),
            ("AfterAllowTestTraffic", "Function", "Deployed"),
            ("BeforeAllowTraffic", "Function", "Deployed"),
            ("AllowTraffic", "Nothing", None),
            ("AfterAllowTraffic", "Function", "Deployed"),
        ],
    ),
    "ECS rollback": (ecs_events(rollback=True), [("AllowTraffic", "Nothing", None)]),
    "Lambda": (
        lambda_events(),
        [
            ("Start", "Nothing", None),
            ("BeforeAllowTraffic", "Function", "Deployed"),
            ("AllowTraffic", "Nothing", None),
            ("AfterAllowTraffic", "Function", "Deployed"),
            ("End", "Nothing", None),
        ],
    ),
    "Lambda rollback": (
        lambda_events(rollback=True),
        [("Start", "Nothing", None), ("AllowTraffic", "Nothing", None), ("End", "Nothing", None)],
    ),
}


@pytest.mark.parametrize("kind", list(ORDERS))
def test_each_deployment_kind_runs_its_events_in_aws_order(kind: str) -> None:
    steps, expected = ORDERS[kind]
    assert [(s.event.value, s.runs.value, s.revision.value if s.revision else None) for s in steps] == expected


def test_host_events_picks_the_order_from_the_deployment_style() -> None:
    in_place = DeploymentType.IN_PLACE
    blue_green = DeploymentType.BLUE_GREEN

    assert host_events(in_place) == in_place_events(load_balancer=False)
    assert host_events(in_place, load_balancer=True) == in_place_events(load_balancer=True)
    assert host_events(in_place, load_balancer=True, rollback=True) == in_place_events(load_balancer=True)
    assert host_events(blue_green) == blue_green_events(TargetLabel.GREEN)
    assert host_events(blue_green, label=TargetLabel.BLUE) == blue_green_events(TargetLabel.BLUE)
    assert host_events(blue_green, label=TargetLabel.BLUE, rollback=True) == blue_green_events(
        TargetLabel.BLUE, rollback=True
    )


def test_only_ecs_before_install_cannot_be_rolled_back() -> None:
    every = [step for steps, _ in ORDERS.values() for step in steps]

    assert [s for s in every if not s.rollback_possible] == [ecs_events()[0]]
    assert ecs_events()[0].event is LifecycleEvent.BEFORE_INSTALL


def test_scripts_come_from_the_revision_each_event_names() -> None:
    stop, download, before_install = in_place_events(load_balancer=False)[:3]
    block_hook = blue_green_events(TargetLabel.GREEN, rollback=True)[0]

    def revision(step: LifecycleStep, last: str | None) -> str | None:
        return scripts_revision(step, deployed="r3", last_successful=last, most_recent="r2")

    assert revision(stop, "r1") == "r1"
    assert revision(stop, None) is None  # a host's first deployment: ApplicationStop has nothing to run
    assert revision(download, "r1") is None
    assert revision(before_install, "r1") == "r3"
    assert revision(block_hook, "r1") == "r2"
    assert revision(lambda_events()[1], None) == "r3"


def test_ignore_application_stop_failures_covers_application_stop_and_the_block_traffic_hooks_only() -> None:
    steps = {step.event: step for step in in_place_events(load_balancer=True)}

    ignored = {
        event for event, step in steps.items() if not failure_ends_target(step, ignore_application_stop_failures=True)
    }

    assert ignored == {
        LifecycleEvent.APPLICATION_STOP,
        LifecycleEvent.BEFORE_BLOCK_TRAFFIC,
        LifecycleEvent.AFTER_BLOCK_TRAFFIC,
    }
    assert all(failure_ends_target(step, ignore_application_stop_failures=False) for step in steps.values())


# --- traffic plans ---------------------------------------------------------------------------------------------

PLANS = {
    "CodeDeployDefault.LambdaCanary10Percent5Minutes": [(10, 300), (100, 0)],
    "CodeDeployDefault.LambdaCanary10Percent30Minutes": [(10, 1800), (100, 0)],
    "CodeDeployDefault.LambdaLinear10PercentEvery1Minute": [*((p, 60) for p in range(10, 100, 10)), (100, 0)],
    "CodeDeployDefault.LambdaLinear10PercentEvery10Minutes": [*((p, 600) for p in range(10, 100, 10)), (100, 0)],
    "CodeDeployDefault.LambdaAllAtOnce": [(100, 0)],
    "CodeDeployDefault.ECSCanary10Percent15Minutes": [(10, 900), (100, 0)],
    "CodeDeployDefault.ECSLinear10PercentEvery3Minutes": [*((p, 180) for p in range(10, 100, 10)), (100, 0)],
    "CodeDeployDefault.ECSAllAtOnce": [(100, 0)],
}


def _plan(routing: TrafficRouting | None, unit: IntervalUnit = IntervalUnit.MINUTES) -> list[tuple[int, int]]:
    assert routing is not None
    return [(shift.percent, shift.wait_seconds) for shift in traffic_plan(routing, unit)]


@pytest.mark.parametrize("name", list(PLANS))
def test_predefined_traffic_plans(name: str) -> None:
    assert _plan(PREDEFINED[name].traffic_routing) == PLANS[name]


def test_intervals_read_as_seconds_make_the_same_plan_faster() -> None:
    canary = PREDEFINED["CodeDeployDefault.LambdaCanary10Percent5Minutes"].traffic_routing
    linear = PREDEFINED["CodeDeployDefault.ECSLinear10PercentEvery3Minutes"].traffic_routing

    assert _plan(canary, IntervalUnit.SECONDS) == [(10, 5), (100, 0)]
    assert _plan(linear, IntervalUnit.SECONDS) == [*((p, 3) for p in range(10, 100, 10)), (100, 0)]


def test_a_linear_share_that_does_not_divide_a_hundred_ends_with_a_smaller_step() -> None:
    routing = TrafficRouting(TrafficRoutingType.TIME_BASED_LINEAR, 33, 2)
    assert _plan(routing) == [(33, 120), (66, 120), (99, 120), (100, 0)]


routings = st.one_of(
    st.just(TrafficRouting(TrafficRoutingType.ALL_AT_ONCE)),
    st.builds(
        TrafficRouting,
        st.sampled_from([TrafficRoutingType.TIME_BASED_CANARY, TrafficRoutingType.TIME_BASED_LINEAR]),
        st.integers(1, 99),
        st.integers(1, 2_880),
    ),
)


@settings(max_examples=300, deadline=None)
@given(routing=routings, unit=st.sampled_from(list(IntervalUnit)))
def test_every_traffic_plan_rises_to_a_hundred_percent_waiting_one_interval_between_shifts(
    routing: TrafficRouting, unit: IntervalUnit
) -> None:
    plan = traffic_plan(routing, unit)

    assert plan[-1] == TrafficShift(100, 0)
    percents = [shift.percent for shift in plan]
    assert percents == sorted(set(percents)), "traffic must only move forward"
    assert all(shift.wait_seconds == routing.interval_seconds(unit) > 0 for shift in plan[:-1])
    assert plan[0].percent == (100 if routing.type is TrafficRoutingType.ALL_AT_ONCE else routing.percentage)
    if routing.type is TrafficRoutingType.TIME_BASED_CANARY:
        assert len(plan) == 2
    if routing.type is TrafficRoutingType.TIME_BASED_LINEAR:
        assert all(0 < later - earlier <= routing.percentage for earlier, later in pairwise(percents))


# --- purity ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("module", ["configs", "config_spec", "batching", "lifecycle", "status"])
def test_the_planning_modules_reach_no_io_library(module: str) -> None:
    path = ROOT / "conveyor" / "deploy" / f"{module}.py"
    assert path.is_file()
    assert check(sorted(reachable_project_files(path)), IMPURE) == []
