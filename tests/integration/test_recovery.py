"""Recovery: lost queue jobs are sent again, lost workers' work retried, exhausted work given up with a reason."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest
from rq import Queue, SimpleWorker
from rq.job import JobStatus
from sqlalchemy import select

from conveyor.db.models import Build, Dispatch, utcnow
from conveyor.dispatch import Kind, claim
from conveyor.pipeline import definitions, views
from conveyor.pipeline import service as pipelines
from conveyor.pipeline.events import list_events
from conveyor.queues import PIPELINE_QUEUE
from conveyor.recovery import reconcile
from conveyor.runtime import Runtime
from jobs import pipeline as pipeline_jobs
from jobs.dispatch import RQInspector
from tests.support.gitrepo import GitRepo
from tests.support.pipelines import SIMPLE_BUILDSPEC, as_yaml, pipeline


def dispatches(rt: Runtime, kind: Kind | None = None) -> list[Dispatch]:
    with rt.db.session() as session:
        query = select(Dispatch).order_by(Dispatch.created_at)
        if kind:
            query = query.where(Dispatch.kind == kind.value)
        return list(session.scalars(query))


def later(seconds: float):
    return utcnow() + timedelta(seconds=seconds)


@pytest.fixture
def started(rt: Runtime, repo: GitRepo) -> str:
    repo.commit({"buildspec.yml": SIMPLE_BUILDSPEC})
    definitions.create_pipeline(rt, as_yaml(pipeline("recover", repo.url)))
    return pipelines.start_pipeline(rt, "recover")


def test_a_job_lost_from_redis_is_sent_again_and_the_execution_finishes(rt: Runtime, started: str, run_jobs) -> None:
    rt.redis.flushdb()  # Redis restarted empty: the queued advance is gone, the database still knows
    inspector = RQInspector(rt.redis)
    young = reconcile(rt, inspector)
    assert young.resent == []  # just written: it may still be on its way to the queue

    report = reconcile(rt, inspector, now=later(30))
    [dispatch] = dispatches(rt)
    assert report.resent == [dispatch.id]
    assert Queue(PIPELINE_QUEUE, connection=rt.redis).job_ids == [dispatch.job_id]
    run_jobs()
    assert views.get_execution(rt, started)["status"] == "Succeeded"


def test_a_queued_job_is_left_alone(rt: Runtime, started: str) -> None:
    report = reconcile(rt, RQInspector(rt.redis), now=later(30))
    assert report.resent == report.retried == report.given_up == []


def test_work_of_a_dead_worker_is_retried_as_a_new_attempt(rt: Runtime, started: str, run_jobs) -> None:
    [advance] = dispatches(rt)
    assert claim(rt.db, advance.id, 1) is not None  # a worker took it, then died without a heartbeat
    rt.redis.flushdb()
    report = reconcile(rt, RQInspector(rt.redis), now=later(rt.settings.lease_seconds + 1))
    assert report.retried == [advance.id]
    [retried] = dispatches(rt)
    assert (retried.attempt, retried.state) == (2, "pending")
    assert "stopped sending heartbeats" in (retried.last_error or "")

    pipeline_jobs.advance(advance.id, 1)  # the old attempt's job, should it ever run, does nothing
    assert dispatches(rt)[0].state == "pending"
    run_jobs()
    assert views.get_execution(rt, started)["status"] == "Succeeded"


def test_a_worker_that_died_inside_a_one_transaction_job_is_replaced_after_a_lease(
    rt: Runtime, started: str, run_jobs
) -> None:
    """An advance claims and finishes its dispatch in the transaction that does its work; a worker killed inside it
    leaves the dispatch pending and its queue job "started". Once that job has run for longer than a lease, the
    next attempt is sent; the dead attempt's job, should it ever run, finds itself superseded."""
    [advance] = dispatches(rt)
    queue = Queue(PIPELINE_QUEUE, connection=rt.redis)
    job = queue.fetch_job(advance.job_id)
    assert job is not None
    queue.remove(job)  # a worker took the job, marked it started, began the transaction and was killed
    job.started_at = utcnow().replace(tzinfo=None)
    job.set_status(JobStatus.STARTED)
    job.save()

    inspector = RQInspector(rt.redis)
    assert reconcile(rt, inspector, now=later(rt.settings.lease_seconds - 5)).retried == []
    report = reconcile(rt, inspector, now=later(rt.settings.lease_seconds + 1))
    assert report.retried == [advance.id]
    [retried] = dispatches(rt)
    assert (retried.attempt, retried.state) == (2, "pending")
    assert "stopped before its transaction committed" in (retried.last_error or "")

    pipeline_jobs.advance(advance.id, 1)  # the dead attempt's job, run after all: superseded, it changes nothing
    assert dispatches(rt)[0].attempt == 2
    assert [stage["status"] for stage in views.get_execution(rt, started)["stages"]] == [None, None]
    run_jobs()
    assert views.get_execution(rt, started)["status"] == "Succeeded"


def test_a_build_whose_attempts_ran_out_is_fault_and_fails_its_action(rt: Runtime, started: str, run_jobs) -> None:
    rt.settings = dataclasses.replace(rt.settings, max_attempts=1)
    SimpleWorker(["pipeline", "default"], connection=rt.redis).work(burst=True, logging_level="WARNING")
    queue = Queue("build-small", connection=rt.redis)
    assert queue.count == 1  # the source ran; the build waits for a build worker
    [build_dispatch] = dispatches(rt, Kind.BUILD)
    assert claim(rt.db, build_dispatch.id, 1) is not None
    queue.empty()

    report = reconcile(rt, RQInspector(rt.redis), now=later(rt.settings.lease_seconds + 1))
    assert report.given_up == [build_dispatch.id]
    with rt.db.session() as session:
        build = session.get(Build, build_dispatch.subject_id)
        assert build is not None
        assert build.status == "FAULT"
        assert "stopped sending heartbeats" in (build.status_reason or "")
    execution = views.get_execution(rt, started)
    assert execution["status"] == "Failed"
    assert "FAULT" in execution["stages"][1]["actions"][0]["summary"]


def test_a_job_that_raises_is_retried_then_given_up(rt: Runtime) -> None:
    with rt.transaction() as (_session, outbox):
        dispatch = outbox.add(Kind.ADVANCE, "no-such-execution", PIPELINE_QUEUE)
    pipeline_jobs.advance(dispatch.id, 1)
    [after_first] = dispatches(rt)
    assert (after_first.attempt, after_first.state) == (2, "pending")
    assert "NotFound" in (after_first.last_error or "")
    pipeline_jobs.advance(dispatch.id, 2)
    [after_second] = dispatches(rt)
    assert (after_second.attempt, after_second.state) == (2, "done")


def test_a_one_transaction_job_that_raises_keeps_nothing_of_its_work(
    rt: Runtime, started: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The work of an advance that raises is rolled back with the taking of its dispatch: the attempt is moved on
    as a claimed one that raised would be, and nothing the work wrote remains."""
    [advance] = dispatches(rt)
    settle = pipelines.settle

    def settle_then_break(*args: Any, **kwargs: Any) -> None:
        settle(*args, **kwargs)  # enters the first stage and starts its action
        raise RuntimeError("the settle broke")

    monkeypatch.setattr(pipelines, "settle", settle_then_break)
    pipeline_jobs.advance(advance.id, 1)
    [after] = dispatches(rt)
    assert (after.attempt, after.state) == (2, "pending")
    assert "the settle broke" in (after.last_error or "")
    # the stage the settle entered was rolled back with it, and so were the events that told of it
    assert [stage["status"] for stage in views.get_execution(rt, started)["stages"]] == [None, None]
    assert list_events(rt, execution_id=started) == []
