"""Execution modes on real workers, SQLite and PostgreSQL: stage locks, waiting, supersession, queues, parallel runs.

Manual approvals hold stages for exactly as long as each test wants."""

from __future__ import annotations

from typing import Any

from conveyor.db.models import Pipeline
from conveyor.pipeline import control, definitions, gates, views
from conveyor.pipeline import service as pipelines
from conveyor.runtime import Runtime
from tests.support.approvals import answer, gated_pipeline, stage_of, status
from tests.support.gitrepo import GitRepo


def _start(rt: Runtime, name: str, run_jobs: Any) -> str:
    execution_id = pipelines.start_pipeline(rt, name)
    run_jobs()
    return execution_id


def test_superseded_mode_locks_stages_and_a_newer_execution_replaces_the_waiting_one(
    rt: Runtime, repo: GitRepo, run_jobs: Any
) -> None:
    repo.commit({"README": "one"})
    definitions.create_pipeline(rt, gated_pipeline("locks", repo.url))

    first = _start(rt, "locks", run_jobs)
    second = _start(rt, "locks", run_jobs)
    assert stage_of(rt, first, "Gate")["status"] == "InProgress"
    waiting = views.get_execution(rt, second)
    assert waiting["status"] == "InProgress"
    assert waiting["waitingForStage"] == "Gate"
    assert stage_of(rt, second, "Source")["status"] == "Succeeded"
    assert stage_of(rt, second, "Gate")["status"] is None

    third = _start(rt, "locks", run_jobs)
    superseded = views.get_execution(rt, second)
    assert superseded["status"] == "Superseded"
    assert superseded["statusSummary"] == f"Superseded by the newer execution {third}"
    assert superseded["waitingForStage"] is None
    assert views.get_execution(rt, third)["waitingForStage"] == "Gate"

    answer(rt, "locks", first, "Gate", "Review")
    run_jobs()
    assert stage_of(rt, first, "Release")["status"] == "InProgress"
    assert stage_of(rt, third, "Gate")["status"] == "InProgress"  # the freed stage took the waiting execution
    assert views.get_execution(rt, third)["waitingForStage"] is None

    answer(rt, "locks", first, "Release", "Ship")
    answer(rt, "locks", third, "Gate", "Review")
    run_jobs()
    answer(rt, "locks", third, "Release", "Ship")
    run_jobs()
    assert [status(rt, e) for e in (first, second, third)] == ["Succeeded", "Superseded", "Succeeded"]


def test_queued_mode_lets_waiting_executions_in_first_come_first_served(
    rt: Runtime, repo: GitRepo, run_jobs: Any
) -> None:
    repo.commit({"README": "one"})
    definitions.create_pipeline(rt, gated_pipeline("fifo", repo.url, mode="QUEUED"))
    first, second, third = (_start(rt, "fifo", run_jobs) for _ in range(3))
    assert [views.get_execution(rt, e)["waitingForStage"] for e in (first, second, third)] == [None, "Gate", "Gate"]

    answer(rt, "fifo", first, "Gate", "Review")
    run_jobs()
    assert stage_of(rt, second, "Gate")["status"] == "InProgress"
    assert views.get_execution(rt, third)["waitingForStage"] == "Gate"

    answer(rt, "fifo", second, "Gate", "Review")
    run_jobs()
    assert stage_of(rt, third, "Gate")["status"] == "InProgress"
    assert views.get_execution(rt, second)["waitingForStage"] == "Release"  # the first still holds Release

    answer(rt, "fifo", first, "Release", "Ship")
    run_jobs()
    answer(rt, "fifo", second, "Release", "Ship")
    answer(rt, "fifo", third, "Gate", "Review")
    run_jobs()
    answer(rt, "fifo", third, "Release", "Ship")
    run_jobs()
    assert [status(rt, e) for e in (first, second, third)] == ["Succeeded"] * 3


def test_parallel_mode_runs_executions_side_by_side(rt: Runtime, repo: GitRepo, run_jobs: Any) -> None:
    repo.commit({"README": "one"})
    definitions.create_pipeline(rt, gated_pipeline("side", repo.url, mode="PARALLEL"))
    executions = [_start(rt, "side", run_jobs) for _ in range(3)]
    assert all(stage_of(rt, e, "Gate")["status"] == "InProgress" for e in executions)
    for execution_id in executions:
        answer(rt, "side", execution_id, "Gate", "Review")
    run_jobs()
    assert all(stage_of(rt, e, "Release")["status"] == "InProgress" for e in executions)
    for execution_id in executions:
        answer(rt, "side", execution_id, "Release", "Ship")
    run_jobs()
    assert [status(rt, e) for e in executions] == ["Succeeded"] * 3


def test_approvals_answered_at_the_same_moment_all_move_their_executions_on(
    rt: Runtime, repo: GitRepo, run_jobs: Any
) -> None:
    """Each answer records an event (which refers to the pipeline row) and then enters the next stage (which locks
    that row): on PostgreSQL a plain FOR UPDATE there deadlocked two such transactions; FOR NO KEY UPDATE does not."""
    import threading

    from tests.support.approvals import token

    repo.commit({"README": "one"})
    for mode in ("PARALLEL", "QUEUED"):
        definitions.create_pipeline(rt, gated_pipeline(f"crowd-{mode.lower()}", repo.url, mode=mode))
    parallel = [_start(rt, "crowd-parallel", run_jobs) for _ in range(6)]
    queued = _start(rt, "crowd-queued", run_jobs)
    answers = [("crowd-parallel", e, token(rt, e, "Gate", "Review")) for e in parallel]
    answers.append(("crowd-queued", queued, token(rt, queued, "Gate", "Review")))
    barrier = threading.Barrier(len(answers))
    errors: list[BaseException] = []

    def approve(name: str, execution_id: str, approval_token: str) -> None:
        barrier.wait()
        try:
            from conveyor.pipeline import control

            control.put_approval_result(rt, name, "Gate", "Review", approval_token, "Approved", "", "crowd")
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=approve, args=answer_) for answer_ in answers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    run_jobs()
    assert all(stage_of(rt, e, "Release")["status"] == "InProgress" for e in [*parallel, queued])


def test_a_disabled_transition_holds_every_parallel_execution_and_enabling_it_lets_all_in(
    rt: Runtime, repo: GitRepo, run_jobs: Any
) -> None:
    repo.commit({"README": "one"})
    definitions.create_pipeline(rt, gated_pipeline("frozen", repo.url, mode="PARALLEL"))
    control.set_transition(rt, "frozen", "Gate", "Inbound", enabled=False, reason="change freeze")
    executions = [_start(rt, "frozen", run_jobs) for _ in range(2)]
    for execution_id in executions:
        waiting = views.get_execution(rt, execution_id)
        assert (waiting["status"], waiting["waitingForStage"]) == ("InProgress", "Gate")
        assert stage_of(rt, execution_id, "Gate")["status"] is None
    control.set_transition(rt, "frozen", "Gate", "Inbound", enabled=True)
    run_jobs()
    assert all(stage_of(rt, e, "Gate")["status"] == "InProgress" for e in executions)


def test_a_parallel_execution_locked_before_a_transition_changed_reads_it_again_before_entering(
    rt: Runtime, repo: GitRepo, run_jobs: Any
) -> None:
    """An execution reads the disabled transitions without locking the pipeline; one it saw disabled is read again
    under the lock, and one disabled after that read no longer stops the change under way (nor the next ones)."""
    repo.commit({"README": "one"})
    definitions.create_pipeline(rt, gated_pipeline("gate", repo.url, mode="PARALLEL"))
    control.set_transition(rt, "gate", "Gate", "Inbound", enabled=False, reason="change freeze")
    held = _start(rt, "gate", run_jobs)
    with rt.db.session() as session:
        locked = gates.lock_execution(session, held)
        assert locked.disabled_seen == {"Gate"}
        locked.disabled_seen = frozenset()  # as if read before a disable that committed meanwhile
        assert not gates.is_blocked(session, locked, "Gate")
        assert locked.pipeline is None  # nothing seen disabled: the pipeline row was neither locked nor read
    with rt.db.session() as session:  # an enable committed after the unlocked read (written here without waking)
        session.get_one(Pipeline, locked.execution.pipeline_id).disabled_transitions = {}
    with rt.db.session() as session:
        locked = gates.lock_execution(session, held)
        locked.disabled_seen = frozenset({"Gate"})  # as read before that enable committed
        assert not gates.is_blocked(session, locked, "Gate")
        assert locked.pipeline is not None  # read again, under the lock
