"""A pipeline action's build tells its action how it ended through a `build.ended` job on the `pipeline` queue,
queued in the transaction that records the build's end: the build worker is free once the build has ended."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

import pytest
from rq import Queue, SimpleWorker
from sqlalchemy import select

from conveyor.build import projects
from conveyor.build.starts import start_build
from conveyor.db.models import Build, Dispatch, utcnow
from conveyor.dispatch import Kind, claim
from conveyor.pipeline import definitions, views
from conveyor.pipeline import service as pipelines
from conveyor.queues import PIPELINE_QUEUE
from conveyor.recovery import reconcile
from conveyor.runtime import Runtime
from jobs.dispatch import RQInspector
from tests.support.gitrepo import GitRepo
from tests.support.pipelines import SIMPLE_BUILDSPEC, as_yaml, pipeline


def dispatches(rt: Runtime, kind: Kind) -> list[Dispatch]:
    with rt.db.reader() as session:
        query = select(Dispatch).where(Dispatch.kind == kind.value).order_by(Dispatch.created_at)
        return list(session.scalars(query))


def work(rt: Runtime, *queues: str) -> None:
    SimpleWorker(list(queues), connection=rt.redis).work(burst=True, logging_level="WARNING")


@pytest.fixture
def built(rt: Runtime, repo: GitRepo) -> str:
    """An execution whose build has run on a build worker, and nothing after it."""
    repo.commit({"buildspec.yml": SIMPLE_BUILDSPEC})
    definitions.create_pipeline(rt, as_yaml(pipeline("told", repo.url)))
    execution_id = pipelines.start_pipeline(rt, "told")
    work(rt, PIPELINE_QUEUE, "default")  # the advance and the source fetch
    work(rt, "build-small")
    return execution_id


def test_a_build_that_ended_queues_the_job_that_tells_its_action(rt: Runtime, built: str) -> None:
    [build_dispatch] = dispatches(rt, Kind.BUILD)
    [ended] = dispatches(rt, Kind.BUILD_ENDED)
    assert (ended.subject_id, ended.queue, ended.state) == (build_dispatch.subject_id, PIPELINE_QUEUE, "pending")
    assert build_dispatch.state == "done"
    assert Queue(PIPELINE_QUEUE, connection=rt.redis).job_ids == [ended.job_id]
    with rt.db.reader() as session:
        build = session.get_one(Build, ended.subject_id)
        assert (build.status, build.end_time is not None) == ("SUCCEEDED", True)
        assert ended.created_at >= build.end_time  # written in the transaction that recorded the end
    execution = views.get_execution(rt, built)
    assert execution["status"] == "InProgress"  # the action has not been told yet
    assert execution["stages"][1]["actions"][0]["status"] == "InProgress"


def test_the_pipeline_worker_tells_the_action_and_the_execution_ends(rt: Runtime, built: str) -> None:
    work(rt, PIPELINE_QUEUE)

    execution = views.get_execution(rt, built)
    assert execution["status"] == "Succeeded", execution
    action = execution["stages"][1]["actions"][0]
    assert action["status"] == "Succeeded"
    assert "BuildOutput" in action["outputArtifacts"]
    [ended] = dispatches(rt, Kind.BUILD_ENDED)
    assert ended.state == "done"


def test_a_report_lost_from_redis_is_sent_again(rt: Runtime, built: str) -> None:
    rt.redis.flushdb()
    report = reconcile(rt, RQInspector(rt.redis), now=utcnow() + timedelta(seconds=30))
    [ended] = dispatches(rt, Kind.BUILD_ENDED)
    assert report.resent == [ended.id]
    work(rt, PIPELINE_QUEUE)
    assert views.get_execution(rt, built)["status"] == "Succeeded"


def test_a_report_that_cannot_be_made_fails_the_action_with_the_reason(rt: Runtime, built: str) -> None:
    rt.settings = dataclasses.replace(rt.settings, max_attempts=1)
    [ended] = dispatches(rt, Kind.BUILD_ENDED)
    assert claim(rt.db, ended.id, 1) is not None  # a worker took it, then died without a heartbeat
    rt.redis.flushdb()

    report = reconcile(rt, RQInspector(rt.redis), now=utcnow() + timedelta(seconds=rt.settings.lease_seconds + 1))
    assert report.given_up == [ended.id]
    execution = views.get_execution(rt, built)
    assert execution["status"] == "Failed"
    action = execution["stages"][1]["actions"][0]
    assert action["status"] == "Failed"
    assert f"could not read how build {ended.subject_id} ended" in action["summary"]


def test_a_build_no_action_started_queues_no_report(rt: Runtime) -> None:
    buildspec = "version: 0.2\nphases:\n  build:\n    commands:\n      - echo alone\n"
    projects.put_project(rt, json.dumps({"name": "alone", "source": {"buildspec": buildspec}}))
    with rt.transaction() as (session, outbox):
        build_id = start_build(session, outbox, rt.settings, "alone", "test", {}).id
    work(rt, "build-small")

    with rt.db.reader() as session:
        assert session.get_one(Build, build_id).status == "SUCCEEDED"
    assert dispatches(rt, Kind.BUILD_ENDED) == []
