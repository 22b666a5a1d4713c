"""The work on each queue and who takes it, for `GET /api/v1/queues` and `conveyor queues`.

Two sides: the database's dispatches not yet done (the truth: what was asked for and has not finished), and what
the queue broker holds and which workers listen (`QueueWatch`; RQ's side, given by the caller, since the core does
not know RQ). Work that sits because no worker takes its queue is the first thing to see, so each queue with work
and no worker says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import func, select

from conveyor.db.models import Dispatch
from conveyor.dispatch import DispatchState, unfinished
from conveyor.queues import HOST_QUEUE_PREFIX, worker_queues
from conveyor.runtime import Runtime
from conveyor.timefmt import iso


@dataclass(frozen=True)
class QueueState:
    """A queue as the broker sees it: jobs waiting, workers listening (and how many of them are busy)."""

    waiting: int
    workers: int
    busy: int


class QueueWatch(Protocol):
    def queue_names(self) -> list[str]: ...
    def queue_state(self, name: str) -> QueueState: ...


def queues_overview(rt: Runtime, watch: QueueWatch) -> list[dict[str, Any]]:
    """Every queue a worker serves, and any other with work or known to the broker (a host's), in that order."""
    counts: dict[str, dict[str, int]] = {}
    oldest: dict[str, datetime] = {}
    query = (
        select(Dispatch.queue, Dispatch.state, func.count(), func.min(Dispatch.created_at))
        .where(unfinished())
        .group_by(Dispatch.queue, Dispatch.state)
    )
    with rt.db.reader() as session:
        for queue, state, count, first in session.execute(query):
            counts.setdefault(queue, {})[state] = count
            if state == DispatchState.PENDING.value:
                oldest[queue] = first
    served = worker_queues(rt.settings)
    names = served + sorted({*watch.queue_names(), *counts} - set(served))
    return [_describe(name, watch.queue_state(name), counts.get(name, {}), oldest.get(name)) for name in names]


def _describe(name: str, state: QueueState, counts: dict[str, int], oldest: datetime | None) -> dict[str, Any]:
    pending, running = counts.get(DispatchState.PENDING.value, 0), counts.get(DispatchState.RUNNING.value, 0)
    described: dict[str, Any] = {
        "name": name,
        "pending": pending,  # asked for, not started: waiting on the queue, or about to be sent (again)
        "running": running,
        "oldestPendingSince": iso(oldest),
        "waitingJobs": state.waiting,
        "workers": state.workers,
        "busyWorkers": state.busy,
    }
    if (pending or state.waiting) and not state.workers:
        who = "its host's agent (conveyor agent)" if name.startswith(HOST_QUEUE_PREFIX) else "conveyor worker"
        described["warning"] = f"no worker takes queue {name}: its work waits until one does ({who})"
    return described
