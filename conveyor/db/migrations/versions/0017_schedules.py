"""cron schedules and the history of their firings

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-28 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(length=64), nullable=False, unique=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("expression", sa.String(length=256), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("missed", sa.String(length=16), nullable=False),
        sa.Column("target_kind", sa.String(length=16), nullable=False),
        sa.Column("target_name", sa.String(length=255), nullable=False),
        sa.Column("variables", sa.JSON(), nullable=False),
        sa.Column("revision", sa.String(length=200), nullable=True),
        sa.Column("anchor_at", _utc(), nullable=False),
        sa.Column("next_fire_at", _utc(), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
    )
    op.create_index("ix_schedules_next_fire_at", "schedules", ["next_fire_at"])
    op.create_table(
        "schedule_firings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("schedule_id", sa.Integer(), sa.ForeignKey("schedules.id", ondelete="CASCADE"), nullable=False),
        sa.Column("slot", _utc(), nullable=True),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("target_kind", sa.String(length=16), nullable=False),
        sa.Column("target_name", sa.String(length=255), nullable=False),
        sa.Column("target_id", sa.String(length=300), nullable=True),
        sa.Column("fired_at", _utc(), nullable=False),
        sa.UniqueConstraint("schedule_id", "slot", name="uq_schedule_firings_slot"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_schedule_firings_schedule_id", "schedule_firings", ["schedule_id"])


def downgrade() -> None:
    op.drop_index("ix_schedule_firings_schedule_id", table_name="schedule_firings")
    op.drop_table("schedule_firings")
    op.drop_index("ix_schedules_next_fire_at", table_name="schedules")
    op.drop_table("schedules")
