"""SQL tables of cron schedules: each schedule with its one pending slot, and the history of its firings. Part of the
one metadata (`conveyor.db.models` imports this module)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from conveyor.db.models import Base, utcnow


class Schedule(Base):
    """A schedule: when (expression, time zone), what (a pipeline or a build project), and its next slot.

    `next_fire_at` is the one pending slot, None while the schedule is disabled or when its expression never fires
    again. A scheduler fires a due slot in the transaction that moves `next_fire_at` on, holding the row.
    """

    __tablename__ = "schedules"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    expression: Mapped[str] = mapped_column(String(256))
    timezone: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))  # ENABLED | DISABLED
    missed: Mapped[str] = mapped_column(String(16))  # run-once | skip
    target_kind: Mapped[str] = mapped_column(String(16))  # pipeline | project
    target_name: Mapped[str] = mapped_column(String(255))
    # the pipeline variables, or the build's environment variables, the target starts with
    variables: Mapped[dict[str, Any]] = mapped_column(default=dict)
    revision: Mapped[str | None] = mapped_column(String(200))  # a pipeline's source revision: SHA or ACTION=SHA
    anchor_at: Mapped[datetime]  # a rate counts its slots from here
    next_fire_at: Mapped[datetime | None] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ScheduleFiring(Base):
    """One firing: the slot it stands for (None for a run-now), and what it started or why it started nothing.

    The unique (schedule, slot) pair is the rule of one firing per slot, whatever number of schedulers run.
    """

    __tablename__ = "schedule_firings"
    __table_args__ = (
        UniqueConstraint("schedule_id", "slot", name="uq_schedule_firings_slot"),
        {"sqlite_autoincrement": True},  # ids only grow: the history reads newest first by id
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("schedules.id", ondelete="CASCADE"), index=True)
    slot: Mapped[datetime | None]
    trigger: Mapped[str] = mapped_column(String(16))  # schedule | run-now
    status: Mapped[str] = mapped_column(String(16))  # STARTED | FAILED | SKIPPED
    message: Mapped[str | None] = mapped_column(Text)
    target_kind: Mapped[str] = mapped_column(String(16))
    target_name: Mapped[str] = mapped_column(String(255))
    target_id: Mapped[str | None] = mapped_column(String(300))  # the execution id or build id it started
    fired_at: Mapped[datetime] = mapped_column(default=utcnow)
