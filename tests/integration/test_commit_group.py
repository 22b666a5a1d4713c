"""Webhook deliveries arriving together share one transaction and one enqueue, and still fail one at a time."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from rq import Queue
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from conveyor.db.models import Dispatch, PipelineExecution, WebhookDelivery
from conveyor.dispatch import Outbox
from conveyor.pipeline import definitions
from conveyor.queues import PIPELINE_QUEUE
from conveyor.runtime import Runtime
from conveyor.triggers.github import parse_push, push_payload
from conveyor.triggers.service import _record, receive_delivery
from tests.support.gitrepo import GitRepo
from tests.support.pipelines import as_yaml, pipeline


class Caller(threading.Thread):
    """One request thread handing a unit of work to the runtime's commit group."""

    def __init__(self, rt: Runtime, work: Callable[[Session, Outbox], Any]) -> None:
        super().__init__()
        self.rt, self.work = rt, work
        self.value: Any = None
        self.error: Exception | None = None

    def run(self) -> None:
        try:
            self.value = self.rt.commit_group.run(self.work)
        except Exception as exc:  # noqa: BLE001 - examined by the test
            self.error = exc


@contextmanager
def turn_held(rt: Runtime) -> Iterator[list[Session]]:
    """Hold the group's turn inside a transaction until the block ends, so callers queue up meanwhile."""
    release, entered, sessions = threading.Event(), threading.Event(), []

    def hold(session: Session, _outbox: Outbox) -> None:
        sessions.append(session)
        entered.set()
        assert release.wait(30)

    holder = Caller(rt, hold)
    holder.start()
    assert entered.wait(30)
    try:
        yield sessions
    finally:
        release.set()
        holder.join(30)
        assert holder.error is None


def queued(rt: Runtime, callers: list[Caller]) -> None:
    for caller in callers:
        caller.start()
    deadline = time.monotonic() + 30
    while rt.commit_group.waiting < len(callers):
        assert time.monotonic() < deadline, "the callers never queued"
        time.sleep(0.005)


def delivery(delivery_id: str, repo: GitRepo) -> Callable[[Session, Outbox], Any]:
    push = parse_push(push_payload("acme/app", repo.url, repo.head()))
    return lambda session, outbox: _record(delivery_id, "push", push, session, outbox)


@pytest.fixture
def subscribed(rt: Runtime, repo: GitRepo) -> GitRepo:
    repo.commit({"README": "x\n"})
    definitions.create_pipeline(rt, as_yaml(pipeline("grouped", repo.url)))
    return repo


def test_callers_waiting_together_share_one_transaction(rt: Runtime, subscribed: GitRepo) -> None:
    seen: list[Session] = []

    def unit(n: int) -> Callable[[Session, Outbox], Any]:
        record = delivery(f"d-{n}", subscribed)
        return lambda session, outbox: (seen.append(session), record(session, outbox))[1]

    callers = [Caller(rt, unit(n)) for n in range(5)]
    with turn_held(rt) as held:
        queued(rt, callers)
    for caller in callers:
        caller.join(30)
        assert caller.error is None
        assert caller.value.status == "started"
    assert len(seen) == 5
    assert all(session is seen[0] for session in seen)
    assert seen[0] is not held[0]
    with rt.db.reader() as session:
        assert session.scalar(select(func.count()).select_from(WebhookDelivery)) == 5
        assert session.scalar(select(func.count()).select_from(PipelineExecution)) == 5
        job_ids = {dispatch.job_id for dispatch in session.scalars(select(Dispatch))}
    assert len(job_ids) == 5
    assert set(Queue(PIPELINE_QUEUE, connection=rt.redis).get_job_ids()) == job_ids  # one enqueue after the commit


def test_a_failing_unit_fails_only_its_caller(rt: Runtime, subscribed: GitRepo) -> None:
    def broken(session: Session, outbox: Outbox) -> None:
        delivery("d-broken", subscribed)(session, outbox)
        raise ValueError("this unit is broken")

    callers = [Caller(rt, delivery("d-1", subscribed)), Caller(rt, broken), Caller(rt, delivery("d-2", subscribed))]
    with turn_held(rt):
        queued(rt, callers)
    for caller in callers:
        caller.join(30)
    first, bad, second = callers
    assert isinstance(bad.error, ValueError)
    assert bad.value is None
    assert first.value.status == second.value.status == "started"
    with rt.db.reader() as session:
        assert set(session.scalars(select(WebhookDelivery.delivery_id))) == {"d-1", "d-2"}
        assert session.scalar(select(func.count()).select_from(PipelineExecution)) == 2
    assert len(Queue(PIPELINE_QUEUE, connection=rt.redis).get_job_ids()) == 2


def test_the_same_delivery_twice_in_one_transaction_starts_once(rt: Runtime, subscribed: GitRepo) -> None:
    callers = [Caller(rt, delivery("again", subscribed)) for _ in range(3)]
    with turn_held(rt):
        queued(rt, callers)
    for caller in callers:
        caller.join(30)
    assert sorted(caller.value.status for caller in callers) == ["duplicate", "duplicate", "started"]
    with rt.db.reader() as session:
        assert session.scalar(select(func.count()).select_from(PipelineExecution)) == 1


def test_many_threads_at_once_lose_nothing(rt: Runtime, subscribed: GitRepo) -> None:
    payload = push_payload("acme/app", subscribed.url, subscribed.head())
    outcomes: list[Any] = []
    barrier = threading.Barrier(24)

    def post(n: int) -> None:
        barrier.wait()
        outcomes.append(receive_delivery(rt, f"many-{n}", "push", payload))

    threads = [threading.Thread(target=post, args=(n,)) for n in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(len(o.execution_ids) for o in outcomes) == [1] * 24
    started = {o.execution_ids[0] for o in outcomes}
    with rt.db.reader() as session:
        assert set(session.scalars(select(PipelineExecution.id))) == started
    assert len(Queue(PIPELINE_QUEUE, connection=rt.redis).get_job_ids()) == 24
