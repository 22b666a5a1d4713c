"""Batches and the minimum of healthy hosts (`conveyor.deploy.batching`): AWS's tables and examples."""

from __future__ import annotations

import pytest

from conveyor.deploy.batching import (
    FleetStep,
    HostHealth,
    Outcome,
    RevisionHealth,
    advance,
    begin,
    deployment_order,
    group_revision_after,
    health_after,
    plan_batches,
    record,
    stop,
)
from conveyor.deploy.configs import MinimumHealthyHosts
from conveyor.deploy.status import DeploymentErrorCode, DeploymentStatus, TargetStatus
from tests.support.fleets import (
    ALL_AT_ONCE,
    FAILED,
    HALF_AT_A_TIME,
    HEALTH,
    HEALTHY,
    INVALID,
    ONE_AT_A_TIME,
    STOPPED,
    SUCCEEDED,
    UNHEALTHY,
    count,
    deploy,
    fleet,
    names,
    percent,
    span,
)

# --- AWS's predefined configurations: 1, 2, 3 and 10 hosts -----------------------------------------------------

BATCHES = [
    (ONE_AT_A_TIME, 1, [names(1)]),
    (ONE_AT_A_TIME, 2, [names(1), names(2)]),
    (ONE_AT_A_TIME, 3, [names(1), names(2), names(3)]),
    (ONE_AT_A_TIME, 10, [names(n) for n in range(1, 11)]),
    (HALF_AT_A_TIME, 1, []),  # half of one host rounds up to the host: nothing may go offline
    (HALF_AT_A_TIME, 2, [names(1), names(2)]),
    (HALF_AT_A_TIME, 3, [names(1), names(2), names(3)]),
    (HALF_AT_A_TIME, 10, [span(1, 5), span(6, 10)]),
    (ALL_AT_ONCE, 1, [names(1)]),
    (ALL_AT_ONCE, 2, [names(1, 2)]),
    (ALL_AT_ONCE, 3, [names(1, 2, 3)]),
    (ALL_AT_ONCE, 10, [span(1, 10)]),
]


@pytest.mark.parametrize(("minimum", "size", "batches"), BATCHES)
def test_the_batches_of_each_predefined_configuration(
    minimum: MinimumHealthyHosts, size: int, batches: list[tuple[str, ...]]
) -> None:
    assert list(plan_batches(fleet(size), minimum, "r1")) == batches
    run = deploy(fleet(size), minimum)
    assert list(run.batches) == batches
    assert run.outcome.status is (SUCCEEDED if batches else FAILED)


# (configuration, hosts, failing hosts) → (outcome, error code, batches run, hosts skipped)
DECISIONS = [
    # OneAtATime: any host but the last failing fails the deployment; the last may fail; a lone host must succeed.
    (ONE_AT_A_TIME, 1, names(1), FAILED, HEALTH, [names(1)], ()),
    (ONE_AT_A_TIME, 2, names(1), FAILED, HEALTH, [names(1)], names(2)),
    (ONE_AT_A_TIME, 2, names(2), SUCCEEDED, None, [names(1), names(2)], ()),
    (ONE_AT_A_TIME, 3, names(2), FAILED, HEALTH, [names(1), names(2)], names(3)),
    (ONE_AT_A_TIME, 3, names(3), SUCCEEDED, None, [names(1), names(2), names(3)], ()),
    (ONE_AT_A_TIME, 10, names(1), FAILED, HEALTH, [names(1)], span(2, 10)),
    (ONE_AT_A_TIME, 10, names(9), FAILED, HEALTH, [names(n) for n in range(1, 10)], names(10)),
    (ONE_AT_A_TIME, 10, names(10), SUCCEEDED, None, [names(n) for n in range(1, 11)], ()),
    # HalfAtATime: floor(N/2) at a time, ceil(N/2) must stay healthy; a lone host cannot be deployed to.
    (HALF_AT_A_TIME, 1, (), FAILED, INVALID, [], names(1)),
    (HALF_AT_A_TIME, 2, names(1), FAILED, HEALTH, [names(1)], names(2)),
    (HALF_AT_A_TIME, 2, names(2), SUCCEEDED, None, [names(1), names(2)], ()),
    (HALF_AT_A_TIME, 3, names(1), FAILED, HEALTH, [names(1)], names(2, 3)),
    (HALF_AT_A_TIME, 3, names(3), SUCCEEDED, None, [names(1), names(2), names(3)], ()),
    (HALF_AT_A_TIME, 10, span(1, 5), FAILED, HEALTH, [span(1, 5)], span(6, 10)),
    (HALF_AT_A_TIME, 10, span(6, 10), SUCCEEDED, None, [span(1, 5), span(6, 10)], ()),
    # one failure in the first half leaves 9 healthy: 4 more may go offline, then the last one
    (HALF_AT_A_TIME, 10, names(1), SUCCEEDED, None, [span(1, 5), span(6, 9), names(10)], ()),
    (HALF_AT_A_TIME, 10, names(1, 2), SUCCEEDED, None, [span(1, 5), span(6, 8), names(9, 10)], ()),
    # four failures leave 6 healthy: one more may go offline; it fails too and the healthy count is the minimum
    (HALF_AT_A_TIME, 10, (*span(1, 4), "h6"), FAILED, HEALTH, [span(1, 5), names(6)], span(7, 10)),
    # AllAtOnce: everything at once; one success is enough, none is a failure.
    (ALL_AT_ONCE, 1, names(1), FAILED, HEALTH, [names(1)], ()),
    (ALL_AT_ONCE, 2, names(1), SUCCEEDED, None, [names(1, 2)], ()),
    (ALL_AT_ONCE, 2, names(1, 2), FAILED, HEALTH, [names(1, 2)], ()),
    (ALL_AT_ONCE, 3, names(1, 3), SUCCEEDED, None, [names(1, 2, 3)], ()),
    (ALL_AT_ONCE, 10, span(1, 9), SUCCEEDED, None, [span(1, 10)], ()),
    (ALL_AT_ONCE, 10, span(1, 10), FAILED, HEALTH, [span(1, 10)], ()),
]


@pytest.mark.parametrize(("minimum", "size", "failing", "status", "code", "batches", "skipped"), DECISIONS)
def test_when_a_predefined_configuration_succeeds_or_fails(
    minimum: MinimumHealthyHosts,
    size: int,
    failing: tuple[str, ...],
    status: DeploymentStatus,
    code: DeploymentErrorCode | None,
    batches: list[tuple[str, ...]],
    skipped: tuple[str, ...],
) -> None:
    run = deploy(fleet(size), minimum, failing)

    assert (run.outcome.status, run.outcome.error_code) == (status, code)
    assert list(run.batches) == batches
    assert run.skipped == skipped
    assert run.state.hosts(TargetStatus.FAILED) == tuple(h for h in fleet(size) if h in failing and h not in skipped)


# --- custom minimums: the examples of AWS's guide and API reference ---------------------------------------------


def test_a_host_count_of_six_out_of_nine_deploys_three_at_a_time_and_needs_six_successes() -> None:
    assert plan_batches(fleet(9), count(6)) == (span(1, 3), span(4, 6), span(7, 9))
    assert deploy(fleet(9), count(6), span(7, 9)).outcome.status is SUCCEEDED
    # three failures at first leave six healthy: none may go offline any more
    run = deploy(fleet(9), count(6), span(1, 3))
    assert (run.outcome.status, run.skipped) == (FAILED, span(4, 9))


def test_forty_percent_of_nine_is_a_minimum_of_four_and_batches_of_five() -> None:
    assert plan_batches(fleet(9), percent(40)) == (span(1, 5), span(6, 9))
    assert deploy(fleet(9), percent(40), span(6, 9)).outcome.status is SUCCEEDED  # five succeeded
    assert deploy(fleet(9), percent(40), span(1, 5)).outcome.status is FAILED


def test_a_minimum_of_eight_out_of_ten_goes_two_at_a_time_and_survives_a_second_failure_only_on_the_last_host() -> None:
    assert plan_batches(fleet(10), count(8)) == tuple(names(n, n + 1) for n in range(1, 10, 2))
    both = deploy(fleet(10), count(8), names(1, 2))
    assert (both.outcome.status, both.batches, both.skipped) == (FAILED, (names(1, 2),), span(3, 10))
    # one failure leaves 9 healthy: one host at a time from then on
    last = deploy(fleet(10), count(8), names(1, 10))
    assert last.outcome.status is SUCCEEDED
    assert last.batches == (names(1, 2), *(names(n) for n in range(3, 11)))
    middle = deploy(fleet(10), count(8), names(1, 5))
    assert (middle.outcome.status, middle.skipped) == (FAILED, span(6, 10))


def test_a_minimum_of_nine_out_of_ten_is_one_at_a_time_and_the_last_host_may_fail() -> None:
    assert plan_batches(fleet(10), count(9)) == tuple(names(n) for n in range(1, 11))
    assert deploy(fleet(10), count(9), names(10)).outcome.status is SUCCEEDED
    assert deploy(fleet(10), count(9), names(4)).outcome.status is FAILED


def test_a_minimum_of_the_whole_fleet_fails_before_any_host_is_touched() -> None:
    step = begin(fleet(10), percent(95))  # 9.5 rounds up to 10

    assert step.start == ()
    assert step.outcome == Outcome(
        FAILED,
        INVALID,
        "the minimum of 10 hosts healthy leaves none of the 10 hosts free to be deployed to; "
        "the minimum must be lower than the number of hosts",
    )
    assert step.skip == span(1, 10)
    assert deploy(fleet(3), count(7)).outcome.error_code is INVALID


def test_a_group_without_hosts_fails_with_no_instances() -> None:
    step = begin({}, ALL_AT_ONCE)
    assert step.outcome == Outcome(
        FAILED, DeploymentErrorCode.NO_INSTANCES, "the deployment group has no hosts to deploy to"
    )


def test_failure_messages_say_what_happened_in_numbers() -> None:
    stuck = deploy(fleet(3), ONE_AT_A_TIME, names(1)).outcome
    hopeless = deploy(fleet(2), ALL_AT_ONCE, names(1, 2)).outcome

    assert stuck.message == (
        "1 of 3 hosts failed: 2 hosts healthy and the minimum is 2, so none of the 2 hosts left can be taken offline"
    )
    assert (
        hopeless.message == "2 of 2 hosts failed: at most 0 can succeed and at least 1 must (minimum healthy hosts: 0)"
    )
    assert deploy(fleet(2), ALL_AT_ONCE).outcome.message == "2 of 2 hosts succeeded"


# --- order and health ------------------------------------------------------------------------------------------


def test_hosts_go_unhealthy_first_then_unknown_old_and_current_revisions_keeping_their_given_order() -> None:
    hosts = {
        "current-1": HostHealth(HEALTHY, "r2"),
        "old-1": HostHealth(HEALTHY, "r1"),
        "unhealthy-current": HostHealth(UNHEALTHY, "r2"),
        "unknown-1": HostHealth(HEALTHY, None),
        "old-2": HostHealth(HEALTHY, "r0"),
        "unhealthy-unknown": HostHealth(UNHEALTHY, None),
        "unknown-2": HostHealth(HEALTHY, None),
    }

    assert deployment_order(hosts, "r2") == (
        "unhealthy-current",
        "unhealthy-unknown",
        "unknown-1",
        "unknown-2",
        "old-1",
        "old-2",
        "current-1",
    )
    assert [hosts[h].revision_health("r2") for h in ("current-1", "old-1", "unknown-1")] == [
        RevisionHealth.CURRENT,
        RevisionHealth.OLD,
        RevisionHealth.UNKNOWN,
    ]


def test_a_fleet_never_deployed_to_follows_its_configuration_like_any_other() -> None:
    new_hosts = {f"h{i}": HostHealth() for i in range(1, 4)}  # Healthy, revision Unknown

    assert plan_batches(new_hosts, ONE_AT_A_TIME, None) == (names(1), names(2), names(3))
    run = deploy(new_hosts, ONE_AT_A_TIME, names(1), group_revision=None)
    assert (run.outcome.status, run.skipped) == (FAILED, names(2, 3))


def test_unhealthy_hosts_go_first_and_do_not_count_against_the_minimum() -> None:
    hosts = {**fleet(4), **{f"u{i}": HostHealth(UNHEALTHY, "r1") for i in range(1, 7)}}  # 4 healthy of 10

    # the minimum (5) is above the healthy count: unhealthy hosts may still be deployed to, 5 at a time
    assert plan_batches(hosts, HALF_AT_A_TIME, "r1") == (
        ("u1", "u2", "u3", "u4", "u5"),
        ("u6", "h1", "h2", "h3", "h4"),
    )
    # when the unhealthy hosts fail, the healthy count stays below the minimum and no healthy host is touched
    run = deploy(hosts, HALF_AT_A_TIME, [f"u{i}" for i in range(1, 7)])
    assert run.outcome.status is FAILED
    assert run.batches == (("u1", "u2", "u3", "u4", "u5"), ("u6",))
    assert run.skipped == span(1, 4)


# --- stop, duplicates, health values ---------------------------------------------------------------------------


def test_a_stop_lets_the_batch_in_progress_finish_and_skips_the_rest() -> None:
    first = begin(fleet(3), ONE_AT_A_TIME)
    stopped = stop(first.state, DeploymentErrorCode.MANUAL_STOP, "stopped by alice")

    assert advance(stopped) == FleetStep(stopped)  # h1 is still being deployed to
    step = advance(record(stopped, "h1", succeeded=True))
    assert step.start == ()
    assert step.skip == names(2, 3)
    assert step.outcome == Outcome(STOPPED, DeploymentErrorCode.MANUAL_STOP, "stopped by alice")
    assert stop(step.state, DeploymentErrorCode.ALARM_ACTIVE, "later") is step.state


def test_an_alarm_stop_keeps_its_first_reason_and_the_status_the_caller_gives() -> None:
    first = begin(fleet(4), HALF_AT_A_TIME)
    alarmed = stop(first.state, DeploymentErrorCode.ALARM_ACTIVE, "alarm cpu-high fired", status=FAILED)
    again = stop(alarmed, DeploymentErrorCode.MANUAL_STOP, "stopped by bob")

    assert again is alarmed
    step = advance(record(record(alarmed, "h1", succeeded=True), "h2", succeeded=True))
    assert step.outcome == Outcome(FAILED, DeploymentErrorCode.ALARM_ACTIVE, "alarm cpu-high fired")
    assert step.skip == names(3, 4)


def test_a_deployment_halted_before_its_first_batch_starts_no_host() -> None:
    halt = Outcome(STOPPED, DeploymentErrorCode.ALARM_ACTIVE, "alarm in ALARM state: errors")
    step = begin(fleet(3), ONE_AT_A_TIME, halt=halt)

    assert step.start == ()
    assert step.skip == names(1, 2, 3)
    assert step.outcome == halt
    assert step.state.batches == ()
    assert begin({}, ONE_AT_A_TIME, halt=halt).outcome == halt  # the first reason wins over NO_INSTANCES


def test_duplicate_and_stray_results_change_nothing() -> None:
    first = begin(fleet(3), ONE_AT_A_TIME)
    done = record(first.state, "h1", succeeded=True)

    assert record(done, "h1", succeeded=False) is done  # a late duplicate
    assert record(done, "h2", succeeded=False) is done  # a host that was never started
    assert record(done, "nobody", succeeded=True) is done


def test_health_values_after_a_successful_deployment() -> None:
    hosts = {"a": HostHealth(HEALTHY, "r1"), "b": HostHealth(UNHEALTHY, "r0"), "c": HostHealth(HEALTHY, "r1")}
    run = deploy(hosts, ONE_AT_A_TIME, ["c"], group_revision="r1")  # b, a, c; the last one may fail

    assert run.outcome.status is SUCCEEDED
    assert health_after(hosts, run.state, "r2", "r1") == {
        "a": HostHealth(HEALTHY, "r2"),
        "b": HostHealth(HEALTHY, "r2"),
        "c": HostHealth(UNHEALTHY, None),  # was Current, failed: Unknown
    }
    assert group_revision_after(run.state, "r2", "r1") == "r2"


def test_health_values_after_a_failed_deployment() -> None:
    hosts = {"a": HostHealth(HEALTHY, "r1"), "b": HostHealth(HEALTHY, "r0"), "c": HostHealth(HEALTHY, "r1")}
    run = deploy(hosts, ONE_AT_A_TIME, ["b"], group_revision="r1")  # b (Old) first; it fails

    assert run.outcome.status is FAILED
    assert health_after(hosts, run.state, "r2", "r1") == {
        "a": HostHealth(HEALTHY, "r1"),  # never attempted: unchanged
        "b": HostHealth(UNHEALTHY, "r0"),
        "c": HostHealth(HEALTHY, "r1"),
    }
    assert group_revision_after(run.state, "r2", "r1") == "r1"
