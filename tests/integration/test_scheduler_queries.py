"""What the scheduler process asks the database every few seconds is answered through indexes, on SQLite and
PostgreSQL alike: the tables it asks about (dispatches, builds, action executions, deployments, …) keep every row
ever made, and a pass that read one of them whole would cost more with every execution run. The dispatches alone are
forgotten a week after they are done.

The statements are those the real passes run (recorded as they go to the database), each then explained: SQLite's
plan must not `SCAN` a table without an index, and PostgreSQL's (with sequential scans priced out, as a large table
prices them) must not hold a `Seq Scan`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from conveyor.db.models import Dispatch, utcnow
from conveyor.dispatch import DispatchState
from conveyor.notify.wake import wake_readers
from conveyor.recovery import forget_done, reconcile
from conveyor.runtime import Runtime
from conveyor.schedules.firing import fire_due
from conveyor.triggers.polling import queue_poll
from jobs.dispatch import RQInspector
from tests.support.query_plans import full_scans, plan_of, selects_during

# Tables of what people configure, a row per pipeline or per notification reader: read whole by design
SMALL = frozenset({"pipelines", "notification_cursors"})


@pytest.mark.parametrize(
    "work",
    [
        pytest.param(lambda rt: reconcile(rt, RQInspector(rt.redis)), id="reconcile"),
        pytest.param(wake_readers, id="notifications"),
        pytest.param(fire_due, id="schedules"),
        pytest.param(queue_poll, id="polled-sources"),
    ],
)
def test_every_periodic_question_is_answered_through_an_index(rt: Runtime, work: Callable[[Runtime], Any]) -> None:
    statements = selects_during(rt, lambda: work(rt))

    assert statements  # the pass asked something
    scanned = {
        table: statement
        for statement, parameters in statements
        for table in full_scans(rt, plan_of(rt, statement, parameters))
        if table not in SMALL
    }
    assert scanned == {}


def test_saying_not_done_would_read_the_whole_dispatches_table(rt: Runtime) -> None:
    """Why the unfinished dispatches are asked for as `state IN (…)`: the `!=` it replaced reads every row."""
    not_done = select(Dispatch.id).where(Dispatch.state != DispatchState.DONE.value)
    statement = str(not_done.compile(rt.db.engine, compile_kwargs={"literal_binds": True}))

    parameters = {} if rt.db.engine.dialect.name == "postgresql" else ()
    assert full_scans(rt, plan_of(rt, statement, parameters)) == ["dispatches"]


def test_dispatches_done_for_a_week_are_forgotten_a_thousand_a_pass(rt: Runtime) -> None:
    now = utcnow()

    def dispatch(state: str, finished_days_ago: float | None, created_days_ago: float = 30) -> Dispatch:
        finished = now - timedelta(days=finished_days_ago) if finished_days_ago is not None else None
        created = now - timedelta(days=created_days_ago)
        return Dispatch(
            kind="k",
            subject_id="s",
            queue="q",
            state=state,
            timeout_seconds=1,
            created_at=created,
            finished_at=finished,
        )

    with rt.db.session() as session:
        session.add_all([dispatch("done", 8) for _ in range(1003)])
        session.add_all([dispatch("done", 6), dispatch("pending", None), dispatch("running", None)])

    assert forget_done(rt, now) == 1000
    assert forget_done(rt, now) == 3
    assert forget_done(rt, now) == 0
    with rt.db.reader() as session:
        left = sorted((d.state, d.finished_at is None) for d in session.scalars(select(Dispatch)))
    assert left == [("done", False), ("pending", True), ("running", True)]
