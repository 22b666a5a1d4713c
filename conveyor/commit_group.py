"""Group commit: the short write transactions of concurrent callers in one process share one SQL transaction.

A webhook delivery writes a few rows; what costs is everything around them: taking the write lock, BEGIN, COMMIT
(a WAL append on SQLite, a flush on PostgreSQL), each statement's round through the SQL layer, and a Redis round
trip to enqueue. A caller hands an item and the batch function that records such items to `CommitGroup.run`. The
caller leading (see `CommitGroup`) gathers every item waiting at that moment, hands the items of each batch function
to it in one call (so a batch of deliveries is written with one statement per table), commits once, and sends all
their dispatches to the queues in one pipeline. A caller alone runs its batch of one, as a plain transaction would;
under load, callers that arrive while a commit is in progress are carried together by the next.

A batch function must touch nothing but the session and the outbox it is given, and must return one result per
item, in order, because it may run more than once: if any batch of a group raises, the group's transaction is
rolled back and each item runs again alone, in a transaction of its own. So one bad item fails only its own
caller, and every caller sees what it would have seen alone.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, cast

from sqlalchemy.orm import Session

from conveyor.db import Database
from conveyor.dispatch import Dispatcher, Enqueueable, Outbox

I = TypeVar("I")  # noqa: E741 - an item handed in
T = TypeVar("T")  # what recording it gives back

Batch = Callable[[Session, Outbox, list[I]], list[T]]


def _held_lock() -> threading.Lock:
    lock = threading.Lock()
    lock.acquire()
    return lock


@dataclass
class _Unit(Generic[I, T]):
    batch: Batch[I, T]
    item: I
    done: bool = False
    value: Any = None
    error: Exception | None = None
    # held from the start; released once, when the unit is done or its caller is to lead the next transaction
    wake: threading.Lock = field(default_factory=_held_lock)

    def outcome(self) -> T:
        if self.error is not None:
            raise self.error
        return cast(T, self.value)


class CommitGroup:
    """Runs the items of concurrent callers in shared transactions, at most `max_units` to a transaction.

    One caller at a time leads: it gathers the items waiting, runs their transaction and wakes each of their
    callers with its outcome, then hands the lead to the caller of the first item still waiting (before it sends
    its transaction's dispatches to the queues, so the next transaction need not wait for Redis). Every other
    caller sleeps until it is woken once, done or leading: no caller wakes only to find its item done, nor waits for
    a later transaction than the one that carried its item."""

    def __init__(
        self, db: Database, dispatcher: Dispatcher, max_units: int = 64, linger_seconds: float = 0.005
    ) -> None:
        self._db = db
        self._dispatcher = dispatcher
        self._max_units = max_units
        self._linger = linger_seconds
        self._waiting: list[_Unit[Any, Any]] = []
        self._arrived = threading.Condition()  # guards `_waiting`, `_coming` and `_leading`
        self._leading = False  # a caller is leading: it will take every waiting item, in turn
        self._coming = 0  # callers that said they are on their way and have not handed their item in yet
        self._announced = threading.local()

    @contextmanager
    def expecting(self) -> Iterator[None]:
        """Around a request that is about to hand an item in (a webhook delivery being verified and parsed): a
        transaction about to start waits for it, at most `linger_seconds`, so that it is carried along rather than
        waiting for a transaction of its own. A request that ends without handing an item in is no longer waited
        for once the block ends."""
        with self._arrived:
            self._coming += 1
        self._announced.value = True
        try:
            yield
        finally:
            if getattr(self._announced, "value", False):
                self._announced.value = False
                with self._arrived:
                    self._coming -= 1
                    self._wake_gatherer()

    @property
    def waiting(self) -> int:
        """Items handed in and not yet taken into a transaction."""
        with self._arrived:
            return len(self._waiting)

    def run(self, batch: Batch[I, T], item: I) -> T:
        """Record `item` with `batch(session, outbox, [… item …])`, possibly beside other callers' items; the
        dispatches are sent once the transaction has committed."""
        unit: _Unit[I, T] = _Unit(batch, item)
        announced = getattr(self._announced, "value", False)
        self._announced.value = False
        with self._arrived:
            self._waiting.append(unit)
            self._coming -= announced
            leads = not self._leading
            self._leading = True
            self._wake_gatherer()
        if not leads:
            unit.wake.acquire()  # until the leader carried it, or handed this caller the lead
        if not unit.done:
            self._lead(unit)
        return unit.outcome()

    def _lead(self, own: _Unit[Any, Any]) -> None:
        """Run the transaction of the waiting items (`own`, this caller's, among them), then pass the lead on."""
        units: list[_Unit[Any, Any]] = []
        try:
            with self._arrived:
                try:
                    self._wait_for_coming()
                finally:
                    units, self._waiting = self._waiting[: self._max_units], self._waiting[self._max_units :]
            dispatches = self._commit(units)
        except BaseException as exc:  # not an item's error (`_commit` hands those to their callers): an interrupt
            for unit in units:
                if not unit.done:
                    unit.error, unit.done = RuntimeError(f"the transaction of this item was interrupted: {exc!r}"), True
            raise
        finally:
            with self._arrived:
                following = self._waiting[0] if self._waiting else None
                self._leading = following is not None
            for unit in units:
                if unit is not own:
                    unit.wake.release()
            if following is not None:
                following.wake.release()  # not done: its caller leads next
        if dispatches:
            self._dispatcher.send(dispatches)

    def _gathered(self) -> bool:
        """Nothing left to wait for: no caller is on its way, or a transaction's worth of items is waiting."""
        return self._coming <= 0 or len(self._waiting) >= self._max_units

    def _wake_gatherer(self) -> None:
        """A leader waiting for callers on their way (`_wait_for_coming`) is woken once, when none is left to wait
        for: a wake-up costs a thread switch, and on a busy worker every switch is CPU the requests need."""
        if self._gathered():
            self._arrived.notify()

    def _wait_for_coming(self) -> None:
        """Give the callers on their way (see `expecting`) up to `linger_seconds` to hand their items in."""
        deadline = time.monotonic() + self._linger
        while not self._gathered():
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._arrived.wait(remaining):
                return

    def _commit(self, units: list[_Unit[Any, Any]]) -> list[Enqueueable]:
        if len(units) == 1:
            return self._alone(units[0])
        try:
            with self._db.session() as session:
                outbox = Outbox(session)
                values = [value for members in _by_batch(units) for value in _run_batch(session, outbox, members)]
        except Exception:  # noqa: BLE001 - rolled back: each item runs again on its own and meets its own error
            return [dispatch for unit in units for dispatch in self._alone(unit)]
        for unit, value in values:
            unit.value, unit.done = value, True
        return outbox.pending

    def _alone(self, unit: _Unit[Any, Any]) -> list[Enqueueable]:
        try:
            with self._db.session() as session:
                outbox = Outbox(session)
                [(_, unit.value)] = _run_batch(session, outbox, [unit])
        except Exception as exc:  # noqa: BLE001 - handed to the unit's caller, who raises it
            unit.error, unit.done = exc, True
            return []
        unit.done = True
        return outbox.pending


def _by_batch(units: list[_Unit[Any, Any]]) -> list[list[_Unit[Any, Any]]]:
    """The units grouped by batch function, groups in the order their first unit arrived."""
    groups: dict[Any, list[_Unit[Any, Any]]] = {}
    for unit in units:
        groups.setdefault(unit.batch, []).append(unit)
    return list(groups.values())


def _run_batch(session: Session, outbox: Outbox, members: list[_Unit[Any, Any]]) -> list[tuple[_Unit[Any, Any], Any]]:
    values = members[0].batch(session, outbox, [unit.item for unit in members])
    if len(values) != len(members):
        raise RuntimeError(f"{members[0].batch!r} gave {len(values)} results for {len(members)} items")
    return list(zip(members, values, strict=True))
