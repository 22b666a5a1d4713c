"""pipeline events: every state change of executions, stages and actions, in the order it happened

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27 15:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pipeline_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pipeline_id", sa.Integer(), nullable=False),
        sa.Column("execution_id", sa.String(length=36), nullable=False),
        sa.Column("detail_type", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("stage", sa.String(length=100), nullable=True),
        sa.Column("action", sa.String(length=100), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["pipeline_id"], ["pipelines.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["execution_id"], ["pipeline_executions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_pipeline_events_execution_id", "pipeline_events", ["execution_id"])
    op.create_index("ix_pipeline_events_pipeline_id", "pipeline_events", ["pipeline_id"])


def downgrade() -> None:
    op.drop_index("ix_pipeline_events_pipeline_id", table_name="pipeline_events")
    op.drop_index("ix_pipeline_events_execution_id", table_name="pipeline_events")
    op.drop_table("pipeline_events")
