"""the audit log of chat commands

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-27 18:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chat_commands",
        sa.Column("id", sa.String(length=36), primary_key=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("user_name", sa.String(length=255), nullable=True),
        sa.Column("channel_id", sa.String(length=32), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("verb", sa.String(length=32), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("response_url", sa.Text(), nullable=True),
        sa.Column("replies_sent", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_chat_commands_status", "chat_commands", ["status"])
    op.create_index("ix_chat_commands_created_at", "chat_commands", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_chat_commands_created_at", table_name="chat_commands")
    op.drop_index("ix_chat_commands_status", table_name="chat_commands")
    op.drop_table("chat_commands")
