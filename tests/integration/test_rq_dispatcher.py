"""Dispatches enqueued on real Redis as RQ jobs: what RQ reads back, queue by queue, and what an outage does."""

from __future__ import annotations

import logging
import time
from datetime import datetime
from enum import Enum

import pytest
import redis
from rq import Queue, SimpleWorker
from rq.job import Job, JobStatus
from rq.registry import FinishedJobRegistry

from conveyor.config import Settings
from conveyor.db.models import Dispatch
from conveyor.dispatch import Kind, Written
from conveyor.queues import HOST_JOB_TTL_SECONDS, HOST_QUEUE_PREFIX
from conveyor.runtime import Runtime
from jobs.dispatch import JOB_FUNCTIONS, RQDispatcher, job_for
from jobs.runtime import SEND_TIMEOUT_SECONDS, make_runtime


def _written(n: int, kind: Kind, queue: str, timeout: int = 600) -> Written:
    return Written(f"dispatch-{n}", kind.value, f"subject-{n}", queue, timeout)


def test_one_send_queues_every_job_as_rq_reads_it(redis_client: redis.Redis) -> None:
    host_queue = f"{HOST_QUEUE_PREFIX}web-1"
    sent = [
        _written(1, Kind.ADVANCE, "pipeline", 120),
        _written(2, Kind.CHAT_COMMAND, "default"),
        _written(3, Kind.ADVANCE, "pipeline", 120),
        _written(4, Kind.DEPLOY_HOST, host_queue, 3600),
    ]
    RQDispatcher(redis_client).send(sent)

    assert Queue("pipeline", connection=redis_client).job_ids == ["dispatch-1-1", "dispatch-3-1"]
    assert Queue("default", connection=redis_client).job_ids == ["dispatch-2-1"]
    assert Queue(host_queue, connection=redis_client).job_ids == ["dispatch-4-1"]
    assert {queue.name for queue in Queue.all(connection=redis_client)} == {"pipeline", "default", host_queue}
    for dispatch in sent:
        job = Job.fetch(dispatch.job_id, connection=redis_client)
        assert job.func_name == JOB_FUNCTIONS[Kind(dispatch.kind)]
        assert job.args == (dispatch.id, 1)
        assert job.get_status() == JobStatus.QUEUED
        assert job.timeout == dispatch.timeout_seconds
        assert job.origin == dispatch.queue
        assert job.enqueued_at is not None
        assert job.description == f"{dispatch.kind} {dispatch.subject_id} (attempt 1)"
    # a host's job leaves Redis by itself if no agent ever takes it; the others stay until RQ is done with them
    assert 0 < redis_client.ttl("rq:job:dispatch-4-1") <= HOST_JOB_TTL_SECONDS
    assert redis_client.ttl("rq:job:dispatch-1-1") == -1


def test_a_redis_that_lost_its_scripts_still_takes_jobs(redis_client: redis.Redis) -> None:
    dispatcher = RQDispatcher(redis_client)
    dispatcher.send([_written(1, Kind.ADVANCE, "pipeline")])
    redis_client.script_flush()  # what a restarted redis-server looks like to a process that sent before
    dispatcher.send([_written(2, Kind.ADVANCE, "pipeline")])
    assert Queue("pipeline", connection=redis_client).job_ids == ["dispatch-1-1", "dispatch-2-1"]


def test_nothing_to_send_costs_no_command(caplog: pytest.LogCaptureFixture) -> None:
    gone = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)  # any command would fail and be logged
    with caplog.at_level(logging.WARNING, logger="jobs.dispatch"):
        RQDispatcher(gone).send([])
    assert caplog.text == ""


def test_an_outage_is_logged_and_left_to_the_reconciler(caplog: pytest.LogCaptureFixture) -> None:
    gone = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)
    with caplog.at_level(logging.WARNING, logger="jobs.dispatch"):
        RQDispatcher(gone).send([_written(1, Kind.ADVANCE, "pipeline")])
    assert "could not enqueue 1 job(s), the reconciler will send them again" in caplog.text


def test_a_job_that_succeeded_leaves_nothing_in_redis(rt: Runtime) -> None:
    """The dispatch row records that the work is done; RQ keeps no result, hash or registry entry of the job."""
    with rt.transaction() as (_session, outbox):
        dispatch = outbox.add(Kind.ADVANCE, "no-such-execution", "pipeline")
    assert Job.fetch(dispatch.job_id, connection=rt.redis).result_ttl == 0
    SimpleWorker(["pipeline"], connection=rt.redis).work(burst=True, logging_level="CRITICAL")
    with rt.db.reader() as session:
        row = session.get_one(Dispatch, dispatch.id)
    # the advance found no such execution: a second attempt was queued and run, and then the work given up
    assert (row.attempt, row.state) == (2, "done")
    assert "no pipeline execution no-such-execution" in (row.last_error or "")
    assert not rt.redis.exists(f"rq:job:{dispatch.id}-1", f"rq:job:{dispatch.id}-2")
    assert FinishedJobRegistry("pipeline", connection=rt.redis).get_job_ids() == []


def test_each_job_hash_holds_what_rq_would_have_written(redis_client: redis.Redis) -> None:
    """The dispatcher writes jobs without building RQ `Job` objects; what it writes must be, field for field, what
    `Job.to_dict` gives for the same job, so that an RQ release that changes its jobs fails here rather than in a
    worker. (The two timestamps are the moment of sending, so only their form is compared.)"""
    sent = [
        _written(1, Kind.BUILD, "build-small", 3600),
        Written("dispatch-2", Kind.ADVANCE.value, "subject-2", "pipeline", 120, attempt=3),
        _written(3, Kind.DEPLOY_HOST, f"{HOST_QUEUE_PREFIX}web-1", 3600),
    ]
    RQDispatcher(redis_client).send(sent)
    for dispatch in sent:
        expected = {name: _text(value) for name, value in job_for(dispatch, redis_client).to_dict().items()}
        written = {name.decode(): value for name, value in redis_client.hgetall(f"rq:job:{dispatch.job_id}").items()}
        assert set(written) == set(expected) | {"enqueued_at"}
        assert written.pop("data") == expected.pop("data")  # the call, serialized and compressed as RQ does
        for stamp in ("created_at", "enqueued_at"):
            assert datetime.strptime(written.pop(stamp).decode(), "%Y-%m-%dT%H:%M:%S.%fZ")
            expected.pop(stamp, None)
        assert {name: value.decode() for name, value in written.items()} == expected


def _text(value: object) -> object:
    """A field as Redis gives it back, decoded (an enum as its value)."""
    if isinstance(value, bytes):
        return value
    return str(value.value if isinstance(value, Enum) else value)


def test_a_send_to_a_redis_that_does_not_answer_gives_up_in_time(
    own_redis: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """A webhook's answer waits for the send of what it started; a Redis that accepts commands and never answers
    (here: all clients paused) must not hold it: the send gives up, says so, and the reconciler sends the job."""
    rt = make_runtime(own_redis)
    rt.dispatcher.send([_written(1, Kind.ADVANCE, "pipeline")])  # connected, and answering
    pause_ms = int(SEND_TIMEOUT_SECONDS * 1000) + 2000
    rt.redis.execute_command("CLIENT", "PAUSE", pause_ms, "ALL")
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="jobs.dispatch"):
        rt.dispatcher.send([_written(2, Kind.ADVANCE, "pipeline")])
    assert time.monotonic() - started < SEND_TIMEOUT_SECONDS + 1  # well before the pause ends
    assert "could not enqueue 1 job(s), the reconciler will send them again" in caplog.text
    rt.redis.ping()  # waits for the pause to end
    rt.dispatcher.send([_written(3, Kind.ADVANCE, "pipeline")])  # Redis answers again, and so do sends
    assert "dispatch-3-1" in Queue("pipeline", connection=rt.redis).job_ids
