"""Delivery under concurrency: two worker processes on one reader's jobs never send an event twice, a reader never
passes an event whose transaction has not committed yet, and the scheduler wakes only readers with work."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from typing import Any, cast

import pytest
from sqlalchemy import Table, insert, select

from conveyor.config import Settings
from conveyor.db.models import Dispatch, utcnow
from conveyor.db.notify_models import NotificationCursor, NotificationRule, StateEvent
from conveyor.dispatch import Kind
from conveyor.notify import readers, rules
from conveyor.notify.wake import wake_readers
from conveyor.runtime import Runtime
from tests.support.notifications import SIGNING_SECRET, deliveries, notify, rule
from tests.support.receivers import accept, receiver
from tests.support.workers import ROOT, worker_environment

BUILD_FAILED = "codebuild-project-build-state-failed"


def _rule_id(rt: Runtime, name: str) -> str:
    with rt.db.reader() as session:
        return str(session.scalars(select(NotificationRule.id).where(NotificationRule.name == name)).one())


def test_two_worker_processes_never_send_a_delivery_twice(rt: Runtime, settings: Settings) -> None:
    with receiver(accept, delay=0.05) as server:
        target = {"type": "webhook", "url": f"{server.url}/in", "secret": SIGNING_SECRET}
        rules.create_rule(rt, rule("busy", [BUILD_FAILED], target))
        for _ in range(12):  # each queues a job of the same reader: the two workers race for them
            rules.send_test(rt, "busy")
        workers = [
            subprocess.Popen(
                [sys.executable, "-m", "jobs.worker", "--queues", "default", "--simple", "--burst"],
                cwd=ROOT,
                env=worker_environment(settings),
            )
            for _ in range(2)
        ]
        assert [w.wait(timeout=120) for w in workers] == [0, 0]
        received = Counter(r.headers["x-conveyor-delivery"] for r in server.requests)

    sent = deliveries(rt, _rule_id(rt, "busy"))
    assert [d.status for d in sent] == ["Delivered"] * 12
    assert received == {str(d.id): 1 for d in sent}
    with rt.db.reader() as session:
        jobs = session.scalars(select(Dispatch).where(Dispatch.kind == Kind.NOTIFY.value))
        assert {d.state for d in jobs} == {"done"}


def _state_event(resource: str) -> dict[str, Any]:
    detail = {"build-status": "FAILED", "project-name": "app", "build-id": resource}
    return {
        "source": "codebuild",
        "detail_type": "CodeBuild Build State Change",
        "state": "FAILED",
        "resource": resource,
        "name": "app",
        "detail": detail,
        "created_at": utcnow(),
    }


@pytest.mark.postgres
def test_a_reader_waits_for_an_event_whose_transaction_has_not_committed(rt: Runtime, run_jobs: Any) -> None:
    if rt.db.is_sqlite:
        pytest.skip("SQLite commits one writer at a time: its ids never arrive out of order")
    statement = insert(cast(Table, StateEvent.__table__))
    with rt.db.engine.begin() as earlier:
        earlier.execute(statement, _state_event("app:before"))  # the rule starts after it
    with receiver(accept) as server:
        target = {"type": "webhook", "url": f"{server.url}/in", "secret": SIGNING_SECRET}
        rules.create_rule(rt, rule("ordered", [BUILD_FAILED], target))
        reader = _rule_id(rt, "ordered")
        with rt.db.reader() as session:
            start = session.get(NotificationCursor, reader)
            assert start is not None
        with rt.db.engine.connect() as slow:
            slow_transaction = slow.begin()
            slow.execute(statement, _state_event("app:first"))  # takes the lower id, and commits last
            with rt.db.engine.begin() as quick:
                quick.execute(statement, _state_event("app:second"))

            assert readers.fan_out(rt, reader) == 0  # the first event's id is a gap that may still fill
            with rt.db.reader() as session:
                cursor = session.get(NotificationCursor, reader)
                assert cursor is not None
                assert cursor.state_event_id == start.state_event_id
            slow_transaction.commit()
        notify(rt, run_jobs)

    assert [b["detail"]["build-id"] for b in (r.json() for r in server.requests)] == ["app:first", "app:second"]


def test_the_scheduler_wakes_only_readers_with_work_and_never_twice(rt: Runtime, run_jobs: Any) -> None:
    with receiver(accept) as server:
        target = {"type": "webhook", "url": f"{server.url}/in", "secret": SIGNING_SECRET}
        rules.create_rule(rt, rule("quiet", [BUILD_FAILED], target))
        reader = _rule_id(rt, "quiet")
        assert wake_readers(rt) == []  # no event since the rule was made
        with rt.db.session() as session:
            session.execute(insert(cast(Table, StateEvent.__table__)), _state_event("app:one"))
        assert wake_readers(rt) == [reader]
        assert wake_readers(rt) == []  # its job is queued already
        run_jobs()
        assert wake_readers(rt) == []
    [delivery] = deliveries(rt, reader)
    assert delivery.status == "Delivered"
