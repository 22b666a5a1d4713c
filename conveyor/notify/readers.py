"""Readers of the events and their cursors: each notification rule is one reader, and the commit statuses another.

A reader's cursor (`notification_cursors`) holds, for each event table, the id up to which every event has been
handled. It starts at the newest events when the reader is made (a new rule tells what happens from then on).
`fan_out` moves it on: it reads the events after it, keeps those the reader wants, writes one delivery row for each
(unique per reader and event: an event is never delivered twice to one target) and moves the cursor, all in one
transaction that holds the cursor's row. The events are read before that transaction (SQLite's one writer is
never held while reading); if the cursor moved meanwhile (another worker fanned out first) nothing is written.
How far the cursor may move is `engine.settled_mark`'s: never past a gap in the ids that may still fill, nor past
an event written after the pass began. Each pass writes its deliveries in the order the events happened, across
both tables, so a reader's deliveries (sent in id order) follow the order of the events.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import takewhile
from typing import Any, cast

from sqlalchemy import Table, func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from conveyor.db import lock
from conveyor.db.models import PipelineEvent, utcnow
from conveyor.db.notify_models import NotificationCursor, NotificationDelivery, NotificationRule, StateEvent
from conveyor.notify.catalog import resource_kind
from conveyor.notify.commit_statuses import COMMIT_STATUSES
from conveyor.notify.engine import DeliveryStatus, settled_mark, tells_commit_status
from conveyor.notify.feed import PIPELINE_STREAM, STATE_STREAM, Event, read_events
from conveyor.runtime import Runtime

BATCH = 200
_DELIVERIES = cast(Table, NotificationDelivery.__table__)


@dataclass(frozen=True)
class Interest:
    """Which events a reader wants: by event type and resource (a rule), or the commit statuses' own choice."""

    event_type_ids: frozenset[str] = frozenset()
    resources: dict[str, list[str]] | None = None
    commit_statuses: bool = False

    def wanted(self, event: Event) -> str | None:
        """The event type under which the reader takes the event, or None."""
        if self.commit_statuses:
            category = (event.detail.get("type") or {}).get("category")
            if event.stream == PIPELINE_STREAM and tells_commit_status(event.detail_type, event.state, category):
                return event.type_ids[0] if event.type_ids else event.detail_type
            return None
        names = (self.resources or {}).get(resource_kind(event.source))
        if names is not None and event.resource_name not in names:
            return None
        return next((t for t in event.type_ids if t in self.event_type_ids), None)


def interest_of(session: Session, reader: str) -> Interest | None:
    if reader == COMMIT_STATUSES:
        return Interest(commit_statuses=True)
    rule = session.get(NotificationRule, reader)
    if rule is None:
        return None
    return Interest(frozenset(rule.event_type_ids), dict(rule.resources or {}))


def event_heads(session: Session) -> tuple[int, int]:
    """The newest pipeline event id and the newest build or deployment event id (0 for none)."""
    return (
        session.scalar(select(func.max(PipelineEvent.id))) or 0,
        session.scalar(select(func.max(StateEvent.id))) or 0,
    )


def open_cursor(session: Session, reader: str) -> None:
    """Start a reader at the newest events (in the caller's transaction)."""
    pipeline_head, state_head = event_heads(session)
    session.add(NotificationCursor(reader=reader, pipeline_event_id=pipeline_head, state_event_id=state_head))


def fan_out(rt: Runtime, reader: str) -> int:
    """Write the deliveries of the events after the reader's cursor and move it; returns how many were written."""
    with rt.db.reader() as session:
        cursor = session.get(NotificationCursor, reader)
        interest = interest_of(session, reader)
    if cursor is None or interest is None:
        return 0
    start = {PIPELINE_STREAM: cursor.pipeline_event_id, STATE_STREAM: cursor.state_event_id}
    now = utcnow()
    marks, chosen = dict(start), []
    for stream, after in start.items():
        # events written after this pass began wait for the next: the other stream was read before they were
        events = list(takewhile(lambda e: e.time <= now, read_events(rt, stream, after, BATCH)))
        marks[stream] = settled_mark(after, [(cast(int, e.id), e.time) for e in events], now)
        chosen += [(e, kind) for e in events if cast(int, e.id) <= marks[stream] and (kind := interest.wanted(e))]
    if marks == start:
        return 0
    chosen.sort(key=lambda pair: (pair[0].time, pair[0].stream != PIPELINE_STREAM, pair[0].id))
    with rt.db.session() as session:
        held = lock(session, NotificationCursor, reader)
        if held is None or (held.pipeline_event_id, held.state_event_id) != tuple(start.values()):
            return 0
        for event, event_type in chosen:
            add_delivery(session, reader, event, event_type)
        held.pipeline_event_id, held.state_event_id = marks[PIPELINE_STREAM], marks[STATE_STREAM]
        held.updated_at = now
    return len(chosen)


def add_delivery(session: Session, reader: str, event: Event, event_type: str) -> int | None:
    """A delivery of `event` to `reader`, unless one exists; its id, or None when it existed."""
    now = utcnow()
    values: dict[str, Any] = {
        "reader": reader,
        "stream": event.stream,
        "event_id": event.id,
        "event_type": event_type,
        "event": event.envelope(),
        "status": DeliveryStatus.PENDING.value,
        "attempts": 0,
        "created_at": now,
        "updated_at": now,
    }
    connection = session.connection()
    insert = sqlite_insert if connection.dialect.name == "sqlite" else postgresql_insert
    statement = (
        insert(_DELIVERIES)
        .on_conflict_do_nothing(index_elements=["reader", "stream", "event_id"])
        .returning(_DELIVERIES.c.id)
    )
    return connection.execute(statement, values).scalar_one_or_none()
