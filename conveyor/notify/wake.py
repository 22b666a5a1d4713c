"""How readers are woken: the scheduler process looks every `notify_interval` seconds (default 1) and sends a
`notify.send` job through the outbox to each reader that has work — events after its cursor, a delivery due for
its next attempt, or one left Sending by a worker that died — unless a job of that reader is already queued or
running. The engines' transactions do nothing for notifications beyond writing their events.

The look is a read; only a reader with work costs a write (its dispatch). With `github_token` set, the commit
statuses' reader is opened at the newest events the first time a scheduler sees it. Two schedulers may both look:
on PostgreSQL the cursors are taken FOR UPDATE SKIP LOCKED and the check for a queued job is repeated under that
lock, so a reader gets one job; a second one would be harmless anyway (claims keep sends single).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from conveyor.db.models import Dispatch, utcnow
from conveyor.db.notify_models import NotificationCursor, NotificationDelivery
from conveyor.dispatch import Kind, unfinished
from conveyor.notify.commit_statuses import COMMIT_STATUSES
from conveyor.notify.delivery import STALE_SENDING
from conveyor.notify.engine import DeliveryStatus
from conveyor.notify.readers import event_heads, open_cursor
from conveyor.queues import DEFAULT_QUEUE
from conveyor.runtime import Runtime

JOB_TIMEOUT = 900


def wake_readers(rt: Runtime, now: datetime | None = None) -> list[str]:
    """Queue a job for each reader with work; returns the readers woken."""
    now = now or utcnow()
    with rt.db.reader() as session:
        needs_cursor = bool(rt.settings.github_token) and session.get(NotificationCursor, COMMIT_STATUSES) is None
        wanted = _readers_with_work(session, now) - _busy(session)
    if not rt.settings.github_token:
        wanted.discard(COMMIT_STATUSES)  # its events wait, unsent, until a token is set again
    if not wanted and not needs_cursor:
        return []
    woken = []
    with rt.transaction() as (session, outbox):
        if needs_cursor and session.get(NotificationCursor, COMMIT_STATUSES) is None:
            open_cursor(session, COMMIT_STATUSES)
        busy = _busy(session)
        cursors = session.scalars(
            select(NotificationCursor.reader)
            .where(NotificationCursor.reader.in_(wanted))
            .with_for_update(skip_locked=True)
        )
        for reader in cursors:
            if reader not in busy:
                outbox.add(Kind.NOTIFY, reader, DEFAULT_QUEUE, timeout_seconds=JOB_TIMEOUT)
                woken.append(reader)
    return woken


def _readers_with_work(session: Session, now: datetime) -> set[str]:
    pipeline_head, state_head = event_heads(session)
    behind = set(
        session.scalars(
            select(NotificationCursor.reader).where(
                or_(
                    NotificationCursor.pipeline_event_id < pipeline_head, NotificationCursor.state_event_id < state_head
                )
            )
        )
    )
    pending, sending = DeliveryStatus.PENDING.value, DeliveryStatus.SENDING.value
    due = set(
        session.scalars(
            select(NotificationDelivery.reader)
            .where(
                or_(
                    (NotificationDelivery.status == pending)
                    & or_(NotificationDelivery.next_attempt_at.is_(None), NotificationDelivery.next_attempt_at <= now),
                    (NotificationDelivery.status == sending) & (NotificationDelivery.claimed_at < now - STALE_SENDING),
                )
            )
            .distinct()
        )
    )
    return behind | due


def _busy(session: Session) -> set[str]:
    return set(session.scalars(select(Dispatch.subject_id).where(unfinished(), Dispatch.kind == Kind.NOTIFY.value)))
