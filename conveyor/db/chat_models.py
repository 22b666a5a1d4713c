"""SQL tables of ChatOps: the audit log of every slash command and button press, allowed or not. Part of the one
metadata (`conveyor.db.models` imports this module)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from conveyor.db.models import Base, utcnow
from conveyor.ids import new_id


class ChatCommand(Base):
    """One command from chat: who sent it, what it asked, whether it was allowed, and how it ended.

    `response_url` is where its replies go (a capability URL Slack gives for 30 minutes): it is kept for the job that
    answers and never shown. `replies_sent` counts the posts to it, which Slack caps at five.
    """

    __tablename__ = "chat_commands"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    source: Mapped[str] = mapped_column(String(16))  # slash | button
    team_id: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(32))
    user_name: Mapped[str | None] = mapped_column(String(255))
    channel_id: Mapped[str | None] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)  # the command line as typed (or a button's command)
    verb: Mapped[str | None] = mapped_column(String(32))  # the command, once parsed
    role: Mapped[str | None] = mapped_column(String(16))  # the sender's role when it arrived
    status: Mapped[str] = mapped_column(String(16), index=True)  # see conveyor.chatops.audit.CommandStatus
    detail: Mapped[str | None] = mapped_column(Text)  # why it was refused, or what it did
    response_url: Mapped[str | None] = mapped_column(Text)
    replies_sent: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    finished_at: Mapped[datetime | None]
