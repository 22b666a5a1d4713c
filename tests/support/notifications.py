"""Notification rules for tests, and a driver that sends what is due the way the scheduler and workers would."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from conveyor.db.notify_models import NotificationDelivery
from conveyor.notify.engine import DeliveryStatus
from conveyor.notify.wake import wake_readers
from conveyor.runtime import Runtime

SIGNING_SECRET = "whsec-0123456789abcdef"
GITHUB_TOKEN = "ghp-test-token-0123456789"
SLACK_TOKEN = "xoxb-test-token-0123456789"


def rule(name: str, events: list[str], target: dict[str, Any], **resources: list[str]) -> dict[str, Any]:
    document: dict[str, Any] = {"name": name, "eventTypeIds": events, "target": target}
    if resources:
        document["resources"] = resources
    return document


def notify(rt: Runtime, run_jobs: Callable[[], None], rounds: int = 400) -> None:
    """Wake the readers and work their jobs until none has work left (every retry due included)."""
    for _ in range(rounds):
        woken = wake_readers(rt)
        run_jobs()
        if not woken:
            if not unfinished(rt):
                return
            time.sleep(0.02)  # a retry is not due yet
    raise AssertionError(f"notifications never settled: {unfinished(rt)}")


def unfinished(rt: Runtime) -> list[tuple[int, str]]:
    with rt.db.reader() as session:
        rows = session.execute(
            select(NotificationDelivery.id, NotificationDelivery.status).where(
                NotificationDelivery.status.in_([DeliveryStatus.PENDING.value, DeliveryStatus.SENDING.value])
            )
        )
        return [(row[0], row[1]) for row in rows]


def deliveries(rt: Runtime, reader: str) -> list[NotificationDelivery]:
    with rt.db.reader() as session:
        query = select(NotificationDelivery).where(NotificationDelivery.reader == reader)
        return list(session.scalars(query.order_by(NotificationDelivery.id)))
