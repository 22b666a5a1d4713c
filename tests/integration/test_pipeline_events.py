"""Every state change becomes an event, in order, in the transaction that made it: one place for notifications,
commit statuses and chat to read."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from conveyor.db.models import PipelineExecution
from conveyor.pipeline import control, definitions, events
from conveyor.pipeline import service as pipelines
from conveyor.pipeline.events import list_events
from conveyor.runtime import Runtime
from tests.support.approvals import answer, gated_pipeline
from tests.support.gitrepo import GitRepo


def _changes(rt: Runtime, execution_id: str) -> list[tuple[str, ...]]:
    shown = []
    for event in list_events(rt, execution_id=execution_id):
        detail = event["detail"]
        where = [detail[k] for k in ("stage", "action") if k in detail]
        shown.append((event["detail-type"].split()[1], *where, detail["state"]))
    return shown


def test_a_run_with_an_approval_tells_each_change_once_and_in_order(rt: Runtime, repo: GitRepo, run_jobs: Any) -> None:
    repo.commit({"README": "one"})
    definitions.create_pipeline(rt, gated_pipeline("told", repo.url))
    execution_id = pipelines.start_pipeline(rt, "told")
    run_jobs()
    answer(rt, "told", execution_id, "Gate", "Review", summary="fine")
    run_jobs()
    answer(rt, "told", execution_id, "Release", "Ship")
    run_jobs()
    assert _changes(rt, execution_id) == [
        ("Pipeline", "STARTED"),
        ("Stage", "Source", "STARTED"),
        ("Action", "Source", "Source", "STARTED"),
        ("Action", "Source", "Source", "SUCCEEDED"),
        ("Stage", "Source", "SUCCEEDED"),
        ("Stage", "Gate", "STARTED"),
        ("Action", "Gate", "Review", "STARTED"),  # an approval that started: approval needed
        ("Action", "Gate", "Review", "SUCCEEDED"),
        ("Stage", "Gate", "SUCCEEDED"),
        ("Stage", "Release", "STARTED"),
        ("Action", "Release", "Ship", "STARTED"),
        ("Action", "Release", "Ship", "SUCCEEDED"),
        ("Stage", "Release", "SUCCEEDED"),
        ("Pipeline", "SUCCEEDED"),
    ]
    events = list_events(rt, execution_id=execution_id)
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)
    review = events[7]["detail"]
    assert review["type"] == {"category": "Approval", "provider": "Manual"}
    assert review["summary"] == "Approved by tester: fine"
    assert events[0]["detail"]["pipeline"] == "told"
    assert events[0]["detail"]["trigger-type"] == "StartPipelineExecution"


def test_rejection_retry_supersession_and_stop_are_told(
    rt: Runtime, repo: GitRepo, run_jobs: Any, client: FlaskClient
) -> None:
    repo.commit({"README": "one"})
    definitions.create_pipeline(rt, gated_pipeline("busy", repo.url))
    first = pipelines.start_pipeline(rt, "busy")
    run_jobs()
    answer(rt, "busy", first, "Gate", "Review", status="Rejected")
    run_jobs()
    control.retry_stage(rt, "busy", first, "Gate", "FAILED_ACTIONS")
    run_jobs()
    second = pipelines.start_pipeline(rt, "busy")
    run_jobs()
    third = pipelines.start_pipeline(rt, "busy")
    run_jobs()
    control.stop_execution(rt, "busy", first, abandon=True, reason="enough")
    run_jobs()

    assert _changes(rt, first)[-9:] == [
        ("Action", "Gate", "Review", "FAILED"),
        ("Stage", "Gate", "FAILED"),
        ("Pipeline", "FAILED"),
        ("Stage", "Gate", "RESUMED"),
        ("Pipeline", "RESUMED"),
        ("Action", "Gate", "Review", "STARTED"),
        ("Stage", "Gate", "STOPPED"),  # abandoning leaves nothing to wait for: no Stopping in between
        ("Action", "Gate", "Review", "ABANDONED"),
        ("Pipeline", "STOPPED"),
    ]
    assert _changes(rt, second)[-1] == ("Pipeline", "SUPERSEDED")
    assert ("Stage", "Gate", "STARTED") in _changes(rt, third)  # the stop released the stage to it

    everything = client.get("/api/v1/events?pipeline=busy").get_json()["events"]
    assert {e["detail"]["execution-id"] for e in everything} == {first, second, third}
    later = client.get(f"/api/v1/events?pipeline=busy&after={everything[-3]['id']}").get_json()["events"]
    assert later == everything[-2:]
    one = client.get(f"/api/v1/executions/{second}/events").get_json()["events"]
    assert [e["detail"]["execution-id"] for e in one] == [second] * len(one)
    assert client.get("/api/v1/executions/nope/events").status_code == 404
    assert client.get("/api/v1/events?after=x").status_code == 400


def test_events_are_written_with_their_transaction_and_only_with_it(rt: Runtime, repo: GitRepo) -> None:
    """A transaction's events reach the table as it commits, in the order they were told; a rolled-back
    transaction tells nothing, and a savepoint that rolls back takes its own events with it and no others."""
    repo.commit({"README": "one"})
    definitions.create_pipeline(rt, gated_pipeline("atomic", repo.url))
    execution_id = pipelines.start_pipeline(rt, "atomic")

    with rt.db.session() as session:
        execution = session.get_one(PipelineExecution, execution_id)
        events.stage_changed(session, execution, "Source", "InProgress", resumed=False)
        with session.begin_nested():
            events.stage_changed(session, execution, "Gate", "InProgress", resumed=False)
        try:
            with session.begin_nested():
                events.stage_changed(session, execution, "Release", "InProgress", resumed=False)
                raise RuntimeError("the savepoint rolls back")
        except RuntimeError:
            pass
        events.stage_changed(session, execution, "Source", "Succeeded", resumed=False)
        assert list_events(rt, execution_id=execution_id) == []  # nothing is visible before the commit
    try:
        with rt.db.session() as session:
            events.stage_changed(session, session.get_one(PipelineExecution, execution_id), "Gate", "Failed", False)
            raise RuntimeError("the transaction rolls back")
    except RuntimeError:
        pass
    with rt.db.session() as session:
        events.stage_changed(session, session.get_one(PipelineExecution, execution_id), "Gate", "Succeeded", False)

    assert _changes(rt, execution_id) == [
        ("Stage", "Source", "STARTED"),
        ("Stage", "Gate", "STARTED"),
        ("Stage", "Source", "SUCCEEDED"),
        ("Stage", "Gate", "SUCCEEDED"),
    ]
