"""The build engine's phase transitions and build status, CodeBuild's table with the [U] points decided."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conveyor.build.engine import build_status, next_phase
from conveyor.build.status import BuildStatus, PhaseType

P = PhaseType
S = BuildStatus
RUNNABLE = [p for p in PhaseType if p is not P.COMPLETED]
BEFORE_FINALIZING = RUNNABLE[: RUNNABLE.index(P.FINALIZING)]


def test_a_succeeding_build_visits_every_phase_in_order() -> None:
    visited = [P.SUBMITTED]
    while visited[-1] is not P.COMPLETED:
        visited.append(next_phase(visited[-1], S.SUCCEEDED))

    assert visited == list(PhaseType)


@pytest.mark.parametrize(
    ("phase", "expected"),
    [
        (P.PROVISIONING, P.FINALIZING),
        (P.DOWNLOAD_SOURCE, P.FINALIZING),
        (P.INSTALL, P.FINALIZING),
        (P.PRE_BUILD, P.FINALIZING),
        (P.BUILD, P.POST_BUILD),
        (P.POST_BUILD, P.UPLOAD_ARTIFACTS),
        (P.UPLOAD_ARTIFACTS, P.FINALIZING),
        (P.FINALIZING, P.COMPLETED),
    ],
)
def test_a_failed_phase_without_on_failure(phase: PhaseType, expected: PhaseType) -> None:
    assert next_phase(phase, S.FAILED) is expected


@pytest.mark.parametrize(
    ("phase", "expected"),
    [
        (P.INSTALL, P.PRE_BUILD),
        (P.PRE_BUILD, P.BUILD),
        (P.BUILD, P.POST_BUILD),
        (P.POST_BUILD, P.UPLOAD_ARTIFACTS),
    ],
)
def test_on_failure_continue_goes_on_to_the_next_phase(phase: PhaseType, expected: PhaseType) -> None:
    assert next_phase(phase, S.FAILED, "CONTINUE") is expected


@pytest.mark.parametrize("phase", [P.INSTALL, P.PRE_BUILD, P.BUILD, P.POST_BUILD])
def test_on_failure_abort_goes_straight_to_finalizing(phase: PhaseType) -> None:
    assert next_phase(phase, S.FAILED, "ABORT") is P.FINALIZING


@pytest.mark.parametrize("phase", [P.PROVISIONING, P.DOWNLOAD_SOURCE, P.UPLOAD_ARTIFACTS])
def test_on_failure_continue_does_not_apply_outside_buildspec_phases(phase: PhaseType) -> None:
    assert next_phase(phase, S.FAILED, "CONTINUE") is P.FINALIZING


@pytest.mark.parametrize("on_failure", [None, "CONTINUE"])
@pytest.mark.parametrize("status", [S.TIMED_OUT, S.STOPPED, S.FAULT])
@pytest.mark.parametrize("phase", BEFORE_FINALIZING)
def test_a_timed_out_stopped_or_faulted_build_goes_to_finalizing_whatever_the_phase(
    phase: PhaseType, status: BuildStatus, on_failure: str | None
) -> None:
    assert next_phase(phase, status, on_failure) is P.FINALIZING


@pytest.mark.parametrize("status", list(BuildStatus))
def test_finalizing_always_leads_to_completed(status: BuildStatus) -> None:
    assert next_phase(P.FINALIZING, status, "ABORT") is P.COMPLETED


def test_completed_has_no_next_phase() -> None:
    with pytest.raises(ValueError, match="COMPLETED is the last phase"):
        next_phase(P.COMPLETED, S.SUCCEEDED)


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([], S.SUCCEEDED),
        ([S.SUCCEEDED, S.SUCCEEDED], S.SUCCEEDED),
        ([S.SUCCEEDED, S.FAILED, S.SUCCEEDED], S.FAILED),
        ([S.FAILED, S.STOPPED], S.STOPPED),
        ([S.FAILED, S.TIMED_OUT], S.TIMED_OUT),
        ([S.STOPPED, S.TIMED_OUT], S.TIMED_OUT),
        ([S.TIMED_OUT, S.FAULT, S.FAILED], S.FAULT),
        ([S.FAULT, S.SUCCEEDED], S.FAULT),
    ],
)
def test_build_status_precedence(statuses: list[BuildStatus], expected: BuildStatus) -> None:
    assert build_status(statuses) is expected


def test_build_status_reads_any_iterable_once() -> None:
    assert build_status(iter([S.SUCCEEDED, S.FAILED])) is S.FAILED


@given(
    start=st.sampled_from(RUNNABLE),
    outcomes=st.lists(
        st.tuples(st.sampled_from(list(BuildStatus)), st.sampled_from([None, "ABORT", "CONTINUE"])),
        min_size=len(PhaseType),
        max_size=len(PhaseType),
    ),
)
def test_every_walk_moves_forward_visits_finalizing_and_completes(
    start: PhaseType, outcomes: list[tuple[BuildStatus, str | None]]
) -> None:
    order = list(PhaseType)
    visited = [start]
    for status, on_failure in outcomes:
        if visited[-1] is P.COMPLETED:
            break
        following = next_phase(visited[-1], status, on_failure)
        assert order.index(following) > order.index(visited[-1])
        visited.append(following)

    assert visited[-1] is P.COMPLETED
    assert P.FINALIZING in visited
