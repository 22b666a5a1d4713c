"""The buildspec's batch section, and what a batch does next given its builds' states (pure)."""

from __future__ import annotations

import pytest

from conveyor.build.batch_engine import next_step
from conveyor.build.batch_spec import BatchTask
from conveyor.build.spec import parse_buildspec
from conveyor.build.status import BuildStatus
from conveyor.errors import SpecError


def batch_of(section: str) -> tuple[BatchTask, ...]:
    parsed = parse_buildspec("version: 0.2\nphases: {}\nbatch:\n" + section)
    assert parsed.batch is not None
    return parsed.batch.tasks


def problems_of(section: str) -> str:
    with pytest.raises(SpecError) as caught:
        parse_buildspec("version: 0.2\nphases: {}\nbatch:\n" + section)
    return str(caught.value)


def test_a_build_list_with_its_per_task_settings() -> None:
    tasks = batch_of(
        "  fast-fail: true\n  build-list:\n"
        "    - identifier: small\n      env:\n        variables: {A: 1}\n"
        "    - identifier: big\n      buildspec: ci/big.yml\n      ignore-failure: true\n"
        "      env:\n        compute-type: BUILD_GENERAL1_LARGE\n"
    )

    assert tasks == (
        BatchTask("small", variables={"A": "1"}),
        BatchTask("big", "ci/big.yml", {}, "BUILD_GENERAL1_LARGE", ignore_failure=True),
    )


def test_a_matrix_is_the_cartesian_product_of_its_dynamic_values() -> None:
    tasks = batch_of(
        "  build-matrix:\n    static:\n      ignore-failure: true\n      env:\n        variables: {X: s}\n"
        "    dynamic:\n      buildspec: [ci/a.yml, ci/b.yml]\n"
        "      env:\n        variables:\n          PY: ['3.11', '3.12']\n          DB: [pg]\n"
    )

    assert [t.identifier for t in tasks] == ["a_PY_3_11_DB_pg", "a_PY_3_12_DB_pg", "b_PY_3_11_DB_pg", "b_PY_3_12_DB_pg"]
    assert tasks[1] == BatchTask("a_PY_3_12_DB_pg", "ci/a.yml", {"X": "s", "PY": "3.12", "DB": "pg"}, None, True)


def test_matrix_identifiers_that_come_out_alike_are_numbered() -> None:
    tasks = batch_of("  build-matrix:\n    dynamic:\n      env:\n        variables:\n          V: [a.b, a_b]\n")

    assert [t.identifier for t in tasks] == ["V_a_b", "V_a_b_2"]


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ("  build-list: []\n", "batch.build-list: must be a non-empty list of tasks"),
        ("  build-list: [{identifier: a}]\n  build-graph: [{identifier: b}]\n", "exactly one of build-list"),
        ("  build-list: [{identifier: 'no spaces'}]\n", "needs an identifier of letters, digits and _"),
        ("  build-list: [{identifier: a}, {identifier: a}]\n", "identifier 'a' is used twice"),
        ("  build-list: [{identifier: a, depend-on: [b]}]\n", "batch.build-list[0].depend-on: unknown key"),
        ("  build-graph: [{identifier: a, depend-on: [zz]}]\n", "no task 'zz' in the graph"),
        ("  build-graph: [{identifier: a, depend-on: [a]}]\n", "in a cycle: a → a"),
        ("  build-list: [{identifier: a, env: {compute-type: HUGE}}]\n", "'HUGE' is not a compute type"),
        ("  build-matrix: {dynamic: {}}\n", "a build matrix needs dynamic values"),
        ("  build-fanout: {}\n", "build-fanout is not supported by Conveyor"),
        ("  build-list: [{identifier: a}]\n  parallel: 3\n", "batch.parallel: unknown key"),
    ],
)
def test_a_bad_batch_section_says_what_and_where(section: str, expected: str) -> None:
    assert expected in problems_of(section)


def test_a_batch_of_more_than_a_hundred_builds_is_refused() -> None:
    values = ", ".join(str(n) for n in range(11))
    variables = f"          A: [{values}]\n          B: [{values}]\n"
    section = "  build-matrix:\n    dynamic:\n      env:\n        variables:\n" + variables

    assert "a batch runs at most 100 builds, this one 121" in problems_of(section)


# -- the engine ------------------------------------------------------------------------------------------------------

GRAPH = (
    BatchTask("lint"),
    BatchTask("test"),
    BatchTask("package", depend_on=("lint", "test")),
    BatchTask("deploy", depend_on=("package",)),
)
S, F, R = BuildStatus.SUCCEEDED.value, BuildStatus.FAILED.value, BuildStatus.IN_PROGRESS.value


def test_tasks_start_when_what_they_depend_on_is_done() -> None:
    assert next_step(GRAPH, {}).start == ("lint", "test")
    assert next_step(GRAPH, {"lint": S, "test": R}).start == ()
    assert next_step(GRAPH, {"lint": S, "test": S}).start == ("package",)
    finished = next_step(GRAPH, {"lint": S, "test": S, "package": S, "deploy": S})
    assert finished.status is BuildStatus.SUCCEEDED


def test_a_failure_blocks_everything_downstream_and_fails_the_batch() -> None:
    step = next_step(GRAPH, {"lint": S, "test": F})

    assert step.start == ()
    assert step.never == ("package", "deploy")
    assert step.status is BuildStatus.FAILED


def test_an_ignored_failure_counts_as_done() -> None:
    tasks = (BatchTask("flaky", ignore_failure=True), BatchTask("after", depend_on=("flaky",)))

    assert next_step(tasks, {"flaky": F}).start == ("after",)
    assert next_step(tasks, {"flaky": F, "after": S}).status is BuildStatus.SUCCEEDED


def test_without_fast_fail_running_builds_finish_after_a_failure() -> None:
    tasks = (BatchTask("a"), BatchTask("b"), BatchTask("c", depend_on=("a",)))

    running = next_step(tasks, {"a": F, "b": R})
    assert (running.stop, running.status, running.never) == ((), None, ("c",))
    assert next_step(tasks, {"a": F, "b": S}).status is BuildStatus.FAILED


def test_fast_fail_stops_what_runs_and_starts_nothing() -> None:
    tasks = (BatchTask("a"), BatchTask("b"), BatchTask("c"))

    step = next_step(tasks, {"a": F, "b": R}, fast_fail=True)

    assert (step.start, step.stop, step.never, step.status) == ((), ("b",), ("c",), None)


def test_a_stop_request_ends_the_batch_stopped() -> None:
    step = next_step(GRAPH, {"lint": S, "test": BuildStatus.STOPPED.value}, stop_requested=True)

    assert step.status is BuildStatus.STOPPED
    assert step.never == ("package", "deploy")
