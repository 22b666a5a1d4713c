"""Invariants of the batching state machine (`conveyor.deploy.batching`), over random fleets and results."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from conveyor.deploy.batching import (
    FleetState,
    FleetStep,
    HostHealth,
    advance,
    begin,
    deployment_order,
    plan_batches,
    record,
)
from conveyor.deploy.configs import MinimumHealthyHosts
from conveyor.deploy.status import TargetStatus
from tests.support.fleets import (
    ALL_AT_ONCE,
    FAILED,
    HALF_AT_A_TIME,
    HEALTHY,
    ONE_AT_A_TIME,
    SUCCEEDED,
    UNHEALTHY,
    count,
    deploy,
    fleet,
    percent,
)


@st.composite
def fleets(draw: st.DrawFn) -> dict[str, HostHealth]:
    size = draw(st.integers(0, 14))
    return {
        f"host-{i:02}": HostHealth(
            draw(st.sampled_from([HEALTHY, HEALTHY, HEALTHY, UNHEALTHY])),
            draw(st.sampled_from([None, "r0", "r1"])),
        )
        for i in range(size)
    }


minimums = st.one_of(
    st.sampled_from([ONE_AT_A_TIME, HALF_AT_A_TIME, ALL_AT_ONCE]),
    st.builds(count, st.integers(0, 16)),
    st.builds(percent, st.integers(0, 99)),
)


def check_step(before: FleetState, step: FleetStep) -> None:
    """Everything one `advance` must respect."""
    state = step.state
    assert advance(state) == FleetStep(state, outcome=step.outcome), "advance is not idempotent"
    for host in step.start:
        assert before.targets[host] is TargetStatus.PENDING, f"{host} started twice"
        assert state.targets[host] is TargetStatus.IN_PROGRESS
    if step.start:
        assert before.halt is None, "a halted deployment started a batch"
        assert state.halt is None
        assert not before.hosts(TargetStatus.IN_PROGRESS), "a batch started while another ran"
        assert len(step.start) <= state.concurrency
        healthy_taken = [h for h in step.start if h in state.healthy_at_start]
        if healthy_taken:
            assert before.healthy - len(healthy_taken) >= state.minimum, "the healthy count fell below the minimum"
        assert state.healthy >= min(state.minimum, before.healthy), "a batch lowered an already low healthy count"
    if step.outcome is not None:
        assert not state.hosts(TargetStatus.IN_PROGRESS)
        assert not state.hosts(TargetStatus.PENDING)


@settings(max_examples=400, deadline=None)
@given(hosts=fleets(), minimum=minimums, data=st.data())
def test_random_deployments_respect_every_rule(
    hosts: dict[str, HostHealth], minimum: MinimumHealthyHosts, data: st.DataObject
) -> None:
    step = begin(hosts, minimum, "r1")
    initial = step.state
    pending = dict.fromkeys(initial.order, TargetStatus.PENDING)
    check_step(FleetState(initial.order, initial.minimum, initial.healthy_at_start, pending, initial.halt), step)
    started: list[str] = list(step.start)
    while step.outcome is None:
        state = step.state
        for host in step.start:
            state = record(state, host, succeeded=data.draw(st.booleans(), label=host))
        following = advance(state)
        check_step(state, following)
        started += following.start
        step = following
    state, outcome = step.state, step.outcome
    assert sorted(started) == sorted(set(started)), "a host was deployed to twice"
    assert set(state.order) == set(hosts)
    assert all(status.final for status in state.targets.values())
    succeeded = len(state.hosts(TargetStatus.SUCCEEDED))
    attempted_all = not state.hosts(TargetStatus.SKIPPED)
    assert (outcome.status is SUCCEEDED) == (attempted_all and succeeded >= max(state.minimum, 1))
    assert state.batches == tuple(batch for batch in state.batches if batch)
    assert [h for batch in state.batches for h in batch] == started


@settings(max_examples=300, deadline=None)
@given(hosts=fleets(), minimum=minimums)
def test_when_every_host_succeeds_each_is_deployed_to_exactly_once_in_order(
    hosts: dict[str, HostHealth], minimum: MinimumHealthyHosts
) -> None:
    batches = plan_batches(hosts, minimum, "r1")
    feasible = 0 <= minimum.hosts(len(hosts)) < len(hosts)

    assert [h for batch in batches for h in batch] == (list(deployment_order(hosts, "r1")) if feasible else [])
    assert all(0 < len(batch) <= len(hosts) - minimum.hosts(len(hosts)) for batch in batches)
    if feasible:
        assert deploy(hosts, minimum).outcome.status is SUCCEEDED


@settings(max_examples=300, deadline=None)
@given(size=st.integers(1, 12), data=st.data())
def test_one_at_a_time_on_a_healthy_fleet_only_forgives_the_last_host(size: int, data: st.DataObject) -> None:
    failing = data.draw(st.sets(st.sampled_from(sorted(fleet(size)))))
    last = f"h{size}"

    run = deploy(fleet(size), ONE_AT_A_TIME, failing)

    forgiven = not failing or (failing == {last} and size > 1)
    assert (run.outcome.status is SUCCEEDED) == forgiven
    assert all(len(batch) == 1 for batch in run.batches)
    if failing:
        first_failure = min(failing, key=lambda h: int(h[1:]))
        assert run.batches[-1] == (first_failure,), "the deployment went on after a host failed"


@settings(max_examples=300, deadline=None)
@given(size=st.integers(1, 12), data=st.data())
def test_all_at_once_succeeds_when_any_host_does(size: int, data: st.DataObject) -> None:
    failing = data.draw(st.sets(st.sampled_from(sorted(fleet(size)))))

    run = deploy(fleet(size), ALL_AT_ONCE, failing)

    assert run.batches == (tuple(fleet(size)),)
    assert (run.outcome.status is SUCCEEDED) == (len(failing) < size)


@settings(max_examples=300, deadline=None)
@given(size=st.integers(2, 12), data=st.data())
def test_half_at_a_time_needs_half_of_the_fleet_rounded_up(size: int, data: st.DataObject) -> None:
    failing = data.draw(st.sets(st.sampled_from(sorted(fleet(size)))))

    run = deploy(fleet(size), HALF_AT_A_TIME, failing)

    succeeded = len(run.state.hosts(TargetStatus.SUCCEEDED))
    assert all(len(batch) <= size // 2 for batch in run.batches)
    if run.outcome.status is SUCCEEDED:
        assert succeeded >= -(-size // 2)
    if len(failing) > size // 2:
        assert run.outcome.status is FAILED
