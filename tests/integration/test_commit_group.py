"""Webhook deliveries arriving together share one transaction and one enqueue, and still fail one at a time."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from rq import Queue
from sqlalchemy import event, func, select, text
from sqlalchemy.orm import Session

from conveyor.commit_group import CommitGroup
from conveyor.db.models import Dispatch, PipelineExecution, WebhookDelivery
from conveyor.dispatch import Outbox
from conveyor.pipeline import definitions
from conveyor.queues import PIPELINE_QUEUE
from conveyor.runtime import Runtime
from conveyor.triggers.github import parse_push, push_payload
from conveyor.triggers.service import Delivery, receive_delivery, record_deliveries
from tests.support.gitrepo import GitRepo
from tests.support.pipelines import as_yaml, pipeline

Batch = Callable[[Session, Outbox, list[Any]], list[Any]]


class Caller(threading.Thread):
    """One request thread handing an item and its batch function to the runtime's commit group."""

    def __init__(self, group: CommitGroup, item: Any, batch: Batch = record_deliveries) -> None:
        super().__init__()
        self.group, self.item, self.batch = group, item, batch
        self.value: Any = None
        self.error: Exception | None = None

    def run(self) -> None:
        try:
            self.value = self.group.run(self.batch, self.item)
        except Exception as exc:  # noqa: BLE001 - examined by the test
            self.error = exc


@contextmanager
def lead_held(rt: Runtime) -> Iterator[list[Session]]:
    """Lead the group in a transaction that lasts until the block ends, so callers queue up meanwhile."""
    release, entered, sessions = threading.Event(), threading.Event(), []

    def hold(session: Session, _outbox: Outbox, items: list[Any]) -> list[None]:
        sessions.append(session)
        entered.set()
        assert release.wait(30)
        return [None] * len(items)

    holder = Caller(rt.commit_group, "hold", hold)
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


def delivery(delivery_id: str, repo: GitRepo) -> Delivery:
    return Delivery(delivery_id, "push", parse_push(push_payload("acme/app", repo.url, repo.head())))


@pytest.fixture
def subscribed(rt: Runtime, repo: GitRepo) -> GitRepo:
    repo.commit({"README": "x\n"})
    definitions.create_pipeline(rt, as_yaml(pipeline("grouped", repo.url)))
    return repo


def test_callers_waiting_together_share_one_transaction(rt: Runtime, subscribed: GitRepo) -> None:
    seen: list[Session] = []

    def seeing(session: Session, outbox: Outbox, items: list[Delivery]) -> list[Any]:
        seen.append(session)
        return record_deliveries(session, outbox, items)

    callers = [Caller(rt.commit_group, delivery(f"d-{n}", subscribed), seeing) for n in range(5)]
    with lead_held(rt) as held:
        queued(rt, callers)
    for caller in callers:
        caller.join(30)
        assert caller.error is None
        assert caller.value.status == "started"
    assert len(seen) == 1  # one call carried the five deliveries
    assert seen[0] is not held[0]
    with rt.db.reader() as session:
        assert session.scalar(select(func.count()).select_from(WebhookDelivery)) == 5
        assert session.scalar(select(func.count()).select_from(PipelineExecution)) == 5
        job_ids = {dispatch.job_id for dispatch in session.scalars(select(Dispatch))}
    assert len(job_ids) == 5
    assert set(Queue(PIPELINE_QUEUE, connection=rt.redis).get_job_ids()) == job_ids  # one enqueue after the commit


def test_a_batch_of_deliveries_writes_one_statement_per_table(rt: Runtime, subscribed: GitRepo) -> None:
    inserts: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT"):
            inserts.append(statement.split("(", 1)[0].rsplit(maxsplit=1)[-1].strip('"'))

    callers = [Caller(rt.commit_group, delivery(f"s-{n}", subscribed)) for n in range(6)]
    with lead_held(rt):
        queued(rt, callers)
        event.listen(rt.db.engine, "before_cursor_execute", count)
    try:
        for caller in callers:
            caller.join(30)
            assert caller.error is None
            assert caller.value.status == "started"
    finally:
        event.remove(rt.db.engine, "before_cursor_execute", count)
    assert sorted(inserts) == ["dispatches", "pipeline_executions", "webhook_deliveries"]


def test_a_failing_unit_fails_only_its_caller(rt: Runtime, subscribed: GitRepo) -> None:
    def broken(session: Session, outbox: Outbox, items: list[Delivery]) -> list[Any]:
        record_deliveries(session, outbox, items)
        raise ValueError("this batch is broken")

    callers = [
        Caller(rt.commit_group, delivery("d-1", subscribed)),
        Caller(rt.commit_group, delivery("d-broken", subscribed), broken),
        Caller(rt.commit_group, delivery("d-2", subscribed)),
    ]
    with lead_held(rt):
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
    callers = [Caller(rt.commit_group, delivery("again", subscribed)) for _ in range(3)]
    with lead_held(rt):
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


class Announced(threading.Thread):
    """A request that says it is on its way (`expecting`), then hands its delivery in when told to, or gives up."""

    def __init__(self, group: CommitGroup, item: Delivery, batch: Batch = record_deliveries) -> None:
        super().__init__()
        self.group, self.item, self.batch = group, item, batch
        self.inside, self.go = threading.Event(), threading.Event()
        self.hand_in = True
        self.value: Any = None

    def run(self) -> None:
        with self.group.expecting():
            self.inside.set()
            assert self.go.wait(30)
            if self.hand_in:
                self.value = self.group.run(self.batch, self.item)


def test_a_transaction_waits_for_a_delivery_on_its_way(rt: Runtime, subscribed: GitRepo) -> None:
    group = CommitGroup(rt.db, rt.dispatcher, linger_seconds=30)
    calls: list[list[str]] = []

    def counting(session: Session, outbox: Outbox, items: list[Delivery]) -> list[Any]:
        calls.append([item.delivery_id for item in items])
        return record_deliveries(session, outbox, items)

    coming = Announced(group, delivery("on-its-way", subscribed), counting)
    coming.start()
    assert coming.inside.wait(30)
    first = Caller(group, delivery("first", subscribed), counting)
    first.start()
    time.sleep(0.3)
    assert first.is_alive()  # its transaction waits for the delivery on its way
    assert calls == []
    coming.go.set()
    first.join(30)
    coming.join(30)
    assert first.value.status == coming.value.status == "started"
    assert calls == [["first", "on-its-way"]]  # carried by one transaction


def test_a_request_that_hands_nothing_in_is_not_waited_for(rt: Runtime, subscribed: GitRepo) -> None:
    group = CommitGroup(rt.db, rt.dispatcher, linger_seconds=30)
    refused = Announced(group, delivery("refused", subscribed))
    refused.hand_in = False
    refused.start()
    assert refused.inside.wait(30)
    alone = Caller(group, delivery("alone", subscribed))
    alone.start()
    time.sleep(0.3)
    assert alone.is_alive()
    refused.go.set()  # ends its request without handing anything in
    alone.join(10)  # far less than the linger
    assert not alone.is_alive()
    assert alone.value.status == "started"
    refused.join(30)


def test_a_carried_caller_returns_while_a_later_transaction_runs(rt: Runtime, subscribed: GitRepo) -> None:
    """The leader wakes the callers it carried as soon as their transaction commits: none waits for the next
    transaction, which here is still running when they return."""
    later_entered, later_release = threading.Event(), threading.Event()

    def later(_session: Session, _outbox: Outbox, items: list[Any]) -> list[None]:
        later_entered.set()
        assert later_release.wait(30)
        return [None] * len(items)

    second = Caller(rt.commit_group, "later", later)

    def starting_later(session: Session, outbox: Outbox, items: list[Delivery]) -> list[Any]:
        second.start()  # hands its item in while this transaction runs, so it leads the next one
        deadline = time.monotonic() + 30
        while rt.commit_group.waiting < 1:
            assert time.monotonic() < deadline, "the later caller never queued"
            time.sleep(0.005)
        return record_deliveries(session, outbox, items)

    leading = Caller(rt.commit_group, delivery("leading", subscribed), starting_later)
    carried = Caller(rt.commit_group, delivery("carried", subscribed))
    with lead_held(rt):
        queued(rt, [leading, carried])
    try:
        assert later_entered.wait(30)
        carried.join(10)
        leading.join(10)
        assert not carried.is_alive()
        assert not leading.is_alive()
        assert second.is_alive()  # the later transaction has not ended
        assert carried.value.status == leading.value.status == "started"
    finally:
        later_release.set()
        second.join(30)
    assert second.error is None


def test_more_callers_than_a_transaction_takes_all_get_their_own_outcome(rt: Runtime) -> None:
    """Eight threads hand in 60 items each to a group taking at most three a transaction, some of them failing and
    some ending their request without handing anything in: every caller gets its own value or its own error, and
    none is left waiting when more items wait than one transaction takes."""
    group = CommitGroup(rt.db, rt.dispatcher, max_units=3, linger_seconds=0.001)
    sizes: list[int] = []

    def doubling(session: Session, _outbox: Outbox, items: list[int]) -> list[int]:
        sizes.append(len(items))
        session.execute(text("SELECT 1"))  # a round to the database, as every real batch makes
        if any(item % 7 == 0 for item in items):
            raise ValueError("a multiple of seven")
        return [item * 2 for item in items]

    values: dict[int, int] = {}
    failed: set[int] = set()

    def caller(first: int) -> None:
        for item in range(first, first + 60):
            with group.expecting():
                if item % 11 == 0:
                    continue  # a request that hands nothing in
                try:
                    values[item] = group.run(doubling, item)
                except ValueError:
                    failed.add(item)

    threads = [threading.Thread(target=caller, args=(n * 1000 + 1,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads)
    handed_in = {n * 1000 + 1 + k for n in range(8) for k in range(60)} - {i for i in range(8060) if i % 11 == 0}
    assert set(values) | failed == handed_in
    assert failed == {item for item in handed_in if item % 7 == 0}
    assert all(value == item * 2 for item, value in values.items())
    assert max(sizes) == 3  # transactions were full: items waited beyond what one takes
