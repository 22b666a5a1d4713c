"""The unfinished dispatches are found through the index on `state`, on SQLite and PostgreSQL alike: the table keeps
every dispatch ever made, and the reconciler (every few seconds) and the look for notifications (every second) ask
for the few that are not done."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select, text

from conveyor.db.models import Dispatch
from conveyor.dispatch import DispatchState, Kind, unfinished
from conveyor.runtime import Runtime


def _plan(rt: Runtime, query: Select[Any]) -> str:
    with rt.db.reader() as session:
        connection = session.connection()
        compiled = query.compile(connection, compile_kwargs={"literal_binds": True})
        if connection.dialect.name == "sqlite":
            rows = connection.execute(text(f"EXPLAIN QUERY PLAN {compiled}")).all()
            return " ".join(str(row[-1]) for row in rows)
        connection.execute(text("SET LOCAL enable_seqscan = off"))  # the plan a large table gets, on an empty one
        return " ".join(row[0] for row in connection.execute(text(f"EXPLAIN {compiled}")).all())


def test_the_unfinished_dispatches_are_read_through_the_state_index(rt: Runtime) -> None:
    plan = _plan(rt, select(Dispatch).where(unfinished(), Dispatch.kind == Kind.NOTIFY.value))

    assert "ix_dispatches_state" in plan


def test_saying_not_done_would_read_the_whole_table(rt: Runtime) -> None:
    """Why `unfinished` says IN: the plan of the predicate it replaced does not use the index."""
    plan = _plan(rt, select(Dispatch).where(Dispatch.state != DispatchState.DONE.value))

    assert "ix_dispatches_state" not in plan
