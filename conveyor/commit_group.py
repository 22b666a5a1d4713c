"""Group commit: the short write transactions of concurrent callers in one process share one SQL transaction.

A webhook delivery writes a few rows; what costs is everything around them: taking the write lock, BEGIN, COMMIT
(a WAL append on SQLite, a flush on PostgreSQL) and a Redis round trip to enqueue. A caller hands its unit of work
to `CommitGroup.run` and waits for its turn. Whoever takes the turn runs every unit waiting at that moment in one
transaction, commits, and sends all their dispatches to the queues in one pipeline. A caller alone runs just its
own unit, as a plain transaction would; under load, callers that arrive while a commit is in progress are carried
together by the next one.

A unit must touch nothing but the session and the outbox it is given, because it may run twice: if any unit of a
group raises, the group's transaction is rolled back and each unit runs again in a transaction of its own. So one
bad unit fails only its own caller, and every caller sees what it would have seen alone.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

from sqlalchemy.orm import Session

from conveyor.db import Database
from conveyor.db.models import Dispatch
from conveyor.dispatch import Dispatcher, Outbox

T = TypeVar("T")

Work = Callable[[Session, Outbox], T]


@dataclass
class _Unit(Generic[T]):
    work: Work[T]
    done: bool = False
    value: Any = None
    error: Exception | None = None

    def outcome(self) -> T:
        if self.error is not None:
            raise self.error
        return cast(T, self.value)


class CommitGroup:
    """Runs the units of concurrent callers in shared transactions, at most `max_units` to a transaction."""

    def __init__(self, db: Database, dispatcher: Dispatcher, max_units: int = 64) -> None:
        self._db = db
        self._dispatcher = dispatcher
        self._max_units = max_units
        self._waiting: list[_Unit[Any]] = []
        self._waiting_lock = threading.Lock()
        self._turn = threading.Lock()

    @property
    def waiting(self) -> int:
        """Units handed in and not yet taken into a transaction."""
        with self._waiting_lock:
            return len(self._waiting)

    def run(self, work: Work[T]) -> T:
        """Run `work(session, outbox)` in a transaction, possibly shared; its dispatches are sent once committed."""
        unit: _Unit[T] = _Unit(work)
        with self._waiting_lock:
            self._waiting.append(unit)
        while not unit.done:
            dispatches = self._take_turn(unit)
            if dispatches:
                self._dispatcher.send(dispatches)  # after the turn: the next transaction need not wait for Redis
        return unit.outcome()

    def _take_turn(self, unit: _Unit[Any]) -> list[Dispatch]:
        with self._turn:
            if unit.done:  # carried by the caller who had the turn before
                return []
            with self._waiting_lock:
                units, self._waiting = self._waiting[: self._max_units], self._waiting[self._max_units :]
            return self._commit(units)

    def _commit(self, units: list[_Unit[Any]]) -> list[Dispatch]:
        if len(units) == 1:
            return self._alone(units[0])
        try:
            with self._db.session() as session:
                outbox = Outbox(session)
                values = [unit.work(session, outbox) for unit in units]
        except Exception:  # noqa: BLE001 - rolled back: each unit runs again on its own and meets its own error
            return [dispatch for unit in units for dispatch in self._alone(unit)]
        for unit, value in zip(units, values, strict=True):
            unit.value, unit.done = value, True
        return outbox.pending

    def _alone(self, unit: _Unit[Any]) -> list[Dispatch]:
        try:
            with self._db.session() as session:
                outbox = Outbox(session)
                unit.value = unit.work(session, outbox)
        except Exception as exc:  # noqa: BLE001 - handed to the unit's caller, who raises it
            unit.error, unit.done = exc, True
            return []
        unit.done = True
        return outbox.pending
