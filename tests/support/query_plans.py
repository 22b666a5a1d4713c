"""How the database answers the statements a piece of Conveyor runs: record the SELECTs as they go to the database,
then explain each, on SQLite or PostgreSQL. On PostgreSQL sequential scans and sorts are priced out first, as a
large table prices them, so that a plan still holding one has no index to do without it."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sqlalchemy import event, text

from conveyor.runtime import Runtime

_FULL_SCAN = {"sqlite": re.compile(r"^SCAN (\w+)$"), "postgresql": re.compile(r"Seq Scan on (\w+)")}
_SORT = {"sqlite": re.compile(r"USE TEMP B-TREE FOR (?:RIGHT PART OF )?ORDER BY"), "postgresql": re.compile(r"^Sort\b")}


def selects_during(rt: Runtime, work: Callable[[], Any]) -> list[tuple[str, Any]]:
    """The SELECT statements `work` runs, with their parameters."""
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    event.listen(rt.db.engine, "before_cursor_execute", record)
    try:
        work()
    finally:
        event.remove(rt.db.engine, "before_cursor_execute", record)
    return seen


def plan_of(rt: Runtime, statement: str, parameters: Any) -> list[str]:
    """The steps of the statement's plan, one a line, stripped."""
    with rt.db.engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
            return [str(row[-1]).strip() for row in rows]
        connection.execute(text("SET enable_seqscan = off"))
        connection.execute(text("SET enable_sort = off"))
        steps = [
            str(row[0]).strip().removeprefix("->").strip()
            for row in connection.exec_driver_sql(f"EXPLAIN {statement}", parameters)
        ]
        connection.rollback()
        return steps


def full_scans(rt: Runtime, steps: list[str]) -> list[str]:
    """The tables a plan reads whole."""
    pattern = _FULL_SCAN[rt.db.engine.dialect.name]
    return [match.group(1) for step in steps if (match := pattern.search(step))]


def sorts(rt: Runtime, steps: list[str]) -> bool:
    """Whether a plan sorts rows (rather than reading them in an index's order)."""
    pattern = _SORT[rt.db.engine.dialect.name]
    return any(pattern.search(step) for step in steps)
