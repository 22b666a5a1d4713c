"""SQL tables of notifications and commit statuses: the state changes of builds and deployments, notification
rules, where each reader of the events has got to, and one delivery row per (event, reader). Part of the one
metadata (`conveyor.db.models` imports this module).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from conveyor.db.models import Base, utcnow
from conveyor.ids import new_id


class StateEvent(Base):
    """A state change of a build or a deployment, as EventBridge would carry it; pipelines tell theirs in
    `pipeline_events`. Ids only grow, so a reader resumes after the last it handled."""

    __tablename__ = "state_events"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(32))  # codebuild | codedeploy
    detail_type: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(32))
    resource: Mapped[str] = mapped_column(String(300))  # the build's or the deployment's id
    name: Mapped[str] = mapped_column(String(255))  # the build's project, the deployment's application
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class NotificationRule(Base):
    """Which events go to which target. `target` is what may be shown; `secrets` (tokens, webhook URLs that carry
    credentials, signing secrets) is never shown."""

    __tablename__ = "notification_rules"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    event_type_ids: Mapped[list[Any]]
    # {"pipelines": [...], "projects": [...], "applications": [...]}: a kind left out means every one
    resources: Mapped[dict[str, Any]] = mapped_column(default=dict)
    target_type: Mapped[str] = mapped_column(String(16))  # slack | webhook | eventbridge
    target: Mapped[dict[str, Any]]
    secrets: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class NotificationCursor(Base):
    """How far one reader (a rule, or the commit statuses) has read each event table: every event up to these ids
    has been handled."""

    __tablename__ = "notification_cursors"

    reader: Mapped[str] = mapped_column(String(64), primary_key=True)
    pipeline_event_id: Mapped[int] = mapped_column(default=0)
    state_event_id: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class NotificationDelivery(Base):
    """One event for one reader, and its attempts at being sent. Unique per (reader, stream, event id), so an event
    is never sent twice to the same target; test sends have no event id."""

    __tablename__ = "notification_deliveries"
    __table_args__ = (
        UniqueConstraint("reader", "stream", "event_id", name="uq_notification_deliveries_event"),
        Index("ix_notification_deliveries_reader_status", "reader", "status"),
        {"sqlite_autoincrement": True},
    )

    # ids only grow, and one reader's deliveries are made one transaction at a time: they go out in id order
    id: Mapped[int] = mapped_column(primary_key=True)
    reader: Mapped[str] = mapped_column(String(64))
    stream: Mapped[str] = mapped_column(String(16))  # pipeline | state | test
    event_id: Mapped[int | None]
    event_type: Mapped[str] = mapped_column(String(100))
    event: Mapped[dict[str, Any]]  # the event as sent: EventBridge's envelope
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None]
    claimed_at: Mapped[datetime | None]  # when the attempt now sending began
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]
