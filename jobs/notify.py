"""Notification jobs: one reader of the events (a notification rule, or the commit statuses) fans out what is new
and sends what is due."""

from __future__ import annotations

from conveyor.notify import delivery
from conveyor.runtime import Runtime
from jobs.runtime import Lease, run_dispatch


def send(dispatch_id: str, attempt: int) -> None:
    run_dispatch(dispatch_id, attempt, _send)


def _send(rt: Runtime, reader: str, _lease: Lease) -> None:
    delivery.work(rt, reader)
