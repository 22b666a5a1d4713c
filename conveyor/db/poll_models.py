"""SQL table of source polling: what each polled source action was last seen at. Part of the one metadata
(`conveyor.db.models` imports this module)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from conveyor.db.models import Base, utcnow


class SourcePoll(Base):
    """A source action of a pipeline that polls for changes: the revision the last look found (a commit, an S3
    object's version id, or its ETag in a bucket without versions), when it was found, and why the last look
    failed, if it did."""

    __tablename__ = "source_polls"

    pipeline_id: Mapped[int] = mapped_column(ForeignKey("pipelines.id", ondelete="CASCADE"), primary_key=True)
    action_name: Mapped[str] = mapped_column(String(100), primary_key=True)
    revision: Mapped[str | None] = mapped_column(String(1024))
    seen_at: Mapped[datetime | None]
    checked_at: Mapped[datetime] = mapped_column(default=utcnow)
    error: Mapped[str | None] = mapped_column(Text)
